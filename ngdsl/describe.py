"""Text views of a compiled model: components, cables, parameter counts and execution plans."""
from __future__ import annotations

import numpy as np

from .compiler.ops import (Accumulate, Activate, Assign, Clamp, ComputeError, Decay, InstarDecay, Integrate, MatMul,
                           OjaDecay, Outer, Store, Zero)


def _op(op) -> str:
    if isinstance(op, MatMul):
        if op.response == "neg_sqdist":
            return f"{op.out} = −‖{op.source} − {op.weight}‖²"
        return f"{op.out} = {op.weight}{'ᵀ' if op.transpose else ''}·{op.source}"
    if isinstance(op, Accumulate):
        what = f"({op.value} + {op.bias})" if op.bias else str(op.value)
        if op.scale != 1:
            what = f"{op.scale:g}·{what}"
        if op.gate is not None:
            what += f" ⊙ {op.gate}"
        return f"{op.target} ⇐ {what}   [{op.cable}]"
    if isinstance(op, Activate):
        act = f"kwta(k={op.kwta})" if op.kwta else op.activation
        return f"{op.component}.phi = {act}({op.component}.z)"
    if isinstance(op, ComputeError):
        if op.loss == "softmax":
            return f"{op.component}.e = {op.target} − softmax({op.component}.mu)"
        p = f"{op.precision:g}·" if op.precision != 1 else ""
        return f"{op.component}.e = {p}({op.target} − {op.component}.mu)"
    if isinstance(op, Integrate):
        extra = f" − {op.leak:g}·z" if op.leak else ""
        if op.nudge is not None and op.beta:
            extra += f" + {op.beta:g}·({op.nudge} − z)"
        return f"{op.component}.z += {op.rate:g}·({op.component}.in{extra})"
    if isinstance(op, Clamp):
        return f"{op.component}.z = {op.source}   (clamp)"
    if isinstance(op, Assign):
        return f"{op.component}.z = {op.source}   (feed-forward init)"
    if isinstance(op, Zero):
        return f"{op.component}.z = 0"
    if isinstance(op, Store):
        return f"snapshot '{op.snapshot}' ← {', '.join(map(str, op.signals))}"
    return ""


def _term(t) -> str:
    if isinstance(t, Outer):
        return f"{t.coef:+g}·⟨{t.post} ⊗ {t.pre}⟩"
    if isinstance(t, Decay):
        return f"−{t.coef:g}·W"
    if isinstance(t, OjaDecay):
        return f"−{t.coef:g}·⟨{t.post} ⊗ {t.post}⟩·W"
    if isinstance(t, InstarDecay):
        return f"−{t.coef:g}·diag⟨{t.post}⟩·W"
    return str(t)


def describe(model_or_compiled, code=False) -> str:
    """A printable account of the compiled circuit and its plans (with ``code``, the kernels too)."""
    compiled = getattr(model_or_compiled, "compiled", model_or_compiled)
    plan, g = compiled.plan, compiled.graph
    out = [f"model '{plan.name}' ({plan.dtype}, seed {plan.seed})", "", "components:"]
    for n, d in sorted(g.nodes(data=True)):
        opts = ", ".join(f"{k}={d[k]}" for k in ("activation", "tau", "dt", "leak", "kwta", "target", "precision", "loss")
                         if d.get(k) not in (None, 0, "", False) or k == "leak" and d.get("kind") == "state")
        out.append(f"  {n:<12} {d['kind']:<6} size {d['size']:<5} {opts}")
    out += ["", "cables:"]
    for u, v, k, d in sorted(g.edges(keys=True, data=True), key=lambda e: e[2]):
        kind = d["transform"] + (f" → {d['tied']}{'ᵀ' if d['transpose'] else ''}" if d["transform"] == "tied" else "")
        extra = "".join(f", {x}" for x in (("gate " + d["gate"]) if d.get("gate") else "",
                                          "lateral" if d.get("lateral") else "", "implied" if d.get("implied") else "")
                        if x)
        out.append(f"  {k:<14} {u}.{d['source']} → {v}.{d['target']}  ({kind}{extra})"
                   + (f"  rule {d['rule']}" if d.get("rule") else ""))
    total = sum(int(np.prod(p.shape)) for p in plan.parameters.values())
    learn = sum(int(np.prod(p.shape)) for p in plan.parameters.values() if p.learnable)
    out += ["", f"parameters: {total} ({learn} learnable)"]
    for name, p in plan.parameters.items():
        out.append(f"  {name:<14} {'x'.join(map(str, p.shape)):<10} {p.dist}({p.scale:g})"
                   f"{'' if p.learnable else '  fixed'}")
    for routine in plan.routines.values():
        out += ["", f"schedule.{routine.name}:"]
        for seg in routine.segments:
            for phase in seg.phases:
                out.append(f"  phase '{phase.name}': {phase.steps} step(s)")
                for title, ops in (("once per phase", phase.setup),
                                   ("once per phase, hoisted out of the step loop", phase.hoisted), ("every step", phase.step),
                                   ("after the last step", phase.settle)):
                    if ops:
                        out.append(f"    {title}:")
                        out += [f"      {line}" for line in map(_op, ops) if line]
                if phase.store:
                    out.append(f"    then {_op(phase.store)}")
                if phase.read:
                    out.append(f"    read {phase.read}")
            for up in seg.updates:
                terms = " ".join(_term(t) for t in up.terms)
                bound = f" ⊙ ({up.w_max:g} − W)" if up.w_max is not None else ""
                out.append(f"  update {up.weight} [{up.rule}]: ΔW = {terms}{bound}")
    if code:
        out += ["", "generated code:", "", model_or_compiled.executor.source]
    return "\n".join(out) + "\n"
