"""Text views of a compiled model: components, cables, parameter counts and execution plans."""
from __future__ import annotations

import numpy as np

from .compiler.diagnostics import visible
from .compiler.memory import human
from .compiler.ops import Clear


def describe(model_or_compiled, code=False) -> str:
    """A printable account of the compiled circuit and its plans (with ``code``, the generated kernels)."""
    compiled = getattr(model_or_compiled, "compiled", model_or_compiled)
    plan, g = compiled.plan, compiled.graph
    out = [f"model '{visible(plan.name)}' ({plan.dtype}, seed {plan.seed})", "", "components:"]
    for n, d in sorted(g.nodes(data=True)):
        opts = ", ".join(f"{k}={d[k]}" for k in ("activation", "tau", "dt", "leak", "kwta", "sample", "noise", "lifetime",
                                                 "target", "precision", "loss")
                         if d.get(k) not in (None, 0, "", False, "none", "trial")
                         or k == "leak" and d.get("kind") == "state")
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
    need = compiled.memory
    out += ["", f"parameters: {total} ({learn} learnable)",
            f"memory: about {human(need.total)} — parameters with their ΔW and optimizer state "
            f"{human(need.parameters)}, buffers {human(need.buffers)}, data {human(need.data)}"]
    for name, p in plan.parameters.items():
        source = "{}({})".format(*p.derived) if p.derived else f"{p.dist}({p.scale:g})"
        state = "  derived after each update" if p.derived else "" if p.learnable else "  fixed"
        out.append(f"  {name:<14} {'x'.join(map(str, p.shape)):<10} {source}{state}")
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
                        out += [f"      {op}" for op in ops if not isinstance(op, Clear)]
                    if ops is phase.step and phase.scratch:   # a loop computing and consuming one never stores it
                        out.append(f"      (used only within a step: {', '.join(sorted(map(str, phase.scratch)))})")
                    if ops is phase.step:
                        out += [f"      then {up}, applied: W += {lr:g}·ΔW" for up, lr in phase.learn]
                if phase.store:
                    out.append(f"    then {phase.store}")
                out += [f"    then {up}, times {scale:g}, added to the trial's ΔW" for up, scale in phase.accumulate]
                if phase.read:
                    out.append(f"    read {phase.read}")
            out += [f"  {up}" for up in seg.updates]
            out += [f"  apply the ΔW accumulated for {up.weight}" for up in seg.accumulated]
    if code:
        from .runtime.codegen import generate
        out += ["", "generated code:", "", generate(plan)[0]]
    return "\n".join(out) + "\n"
