"""Lowering a resolved circuit to plans: per routine, the ordered operators of every phase step.

The plan is plain data (see :mod:`ops`); the runtime turns it into code without knowing the spec.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from . import language
from .graph import depths, instant_order
from .kinds import REGISTRY as KINDS
from .ops import Accumulate, Activate, Assign, Clamp, Clear, MatMul, Sample, Signal, Store, Update
from .optimize import drop_dead_setup, eliminate_common, hoist, order_for_fusion, step_scratch
from .resolve import PhaseSpec


@dataclass(frozen=True)
class Parameter:
    """A stored array: a cable's weights (shape to × from) or its bias (shape to,)."""

    name: str
    cable: str
    shape: tuple
    dist: str
    scale: float
    learnable: bool
    lr: float = 0.0          # 0: the optimizer's learning rate
    mask: tuple = ()         # (('zero_diagonal', True), ('groups', n), ('band', w)): connections that exist
    derived: tuple = ()      # (function, owner): not drawn but computed from the owner's weights, after each update
    lattice: tuple = ()      # (rows, cols) of the lattice whose squared distances an init 'lattice' holds
    offset: float = 0.0      # added to every drawn weight


@dataclass(frozen=True)
class PhasePlan:
    """One phase: ``setup`` and ``hoisted`` once, ``step`` ``steps`` times, ``settle`` once, then ``store``.

    ``hoisted`` holds what the steps would recompute unchanged (loop-invariant operators);
    ``scratch`` the signals the step writes that nothing reads after the step that wrote them."""

    name: str
    steps: int
    setup: tuple
    hoisted: tuple
    step: tuple
    settle: tuple
    store: Store = None
    read: Signal = None
    scratch: frozenset = frozenset()
    tolerance: float = 0.0   # > 0: the steps stop once no state changes by more than this
    learn: tuple = ()        # (Update, lr): ΔW formed and applied (W += lr·ΔW) after every step
    accumulate: tuple = ()   # (Update, scale): scale·ΔW formed once settled, added to the trial's ΔW


@dataclass(frozen=True)
class Segment:
    """Phases run back to back, then the ΔW of ``updates`` is formed; the runtime applies it, and the ΔW
    the phases accumulated for the cables of ``accumulated``."""

    phases: tuple
    updates: tuple
    accumulated: tuple = ()   # the Updates the phases formed (one per cable)

    @property
    def applied(self):
        """Every Update whose ΔW the runtime applies after the segment."""
        return self.updates + self.accumulated


@dataclass(frozen=True)
class Routine:
    """A schedule entry list (``train`` or ``predict``) lowered to segments."""

    name: str
    segments: tuple

    @property
    def read(self):
        reads = [p.read for s in self.segments for p in s.phases if p.read]
        return reads[-1] if reads else None


@dataclass(frozen=True)
class Plan:
    """Everything the runtime needs to execute a model; no YAML, no graph."""

    name: str
    dtype: str
    seed: int
    components: dict        # name -> {'kind', 'size', ...resolved options}
    signals: dict           # Signal -> size
    parameters: dict        # name -> Parameter
    routines: dict          # name -> Routine
    data: dict
    train: dict
    metrics: tuple
    persistent: frozenset = frozenset()   # signals of persistent states: carried from trial to trial
    prior: dict = field(default_factory=dict)   # schedule.sample's prior: {'state', 'components', 'draws'}

    @property
    def draws(self) -> bool:
        """Whether an operator draws random numbers (then the trial counter is part of the state)."""
        return bool(self.data.get("streams")) or any(
            not op.pure for routine in self.routines.values() for segment in routine.segments
            for phase in segment.phases for op in phase.setup + phase.hoisted + phase.step + phase.settle)

    def draws_in(self, routine) -> bool:
        """Whether a run of ``routine`` draws random numbers: an operator that samples, or a data stream
        drawn afresh every trial (every stream but every_label, which is set)."""
        random = {name for name, spec in (self.data.get("streams") or {}).items()
                  if language.stream_kind(spec)[0] != "every_label"}
        for segment in self.routines[routine].segments:
            for phase in segment.phases:
                for op in phase.setup + phase.hoisted + phase.step + phase.settle:
                    source = op.source if isinstance(op, Clamp) else getattr(op, "nudge", None)
                    if not op.pure or (source is not None and source.stream in random):
                        return True
        return False


def product_weight(cable) -> str:
    """The parameter a cable's product reads: its own weights, its owner's, or a function of either
    (``derive``) — a tied cable's own array, or ``NAME.FUNCTION`` beside the weights a cable learns."""
    if not cable.opts.get("derive"):
        return cable.owner or cable.name
    return cable.name if cable.owner else f"{cable.name}.{cable.opts['derive']}"


def _canonical(signal: Signal, components) -> Signal:
    """Inputs have one buffer: their phi is their z."""
    if components[signal.component].kind == "input" and signal.compartment == "phi":
        return Signal(signal.component, "z", signal.snapshot)
    return signal


class Planner:
    def __init__(self, circuit, graph, optimize=True):
        self.circuit, self.graph, self.optimize = circuit, graph, optimize
        self.components = circuit.components
        self.order = instant_order(graph)
        self.incoming = {}  # target Signal -> [(MatMul or None, Accumulate)]
        self.error_targets = {}  # error -> the signal its ComputeError reads as target
        self.referenced = referenced_signals(circuit)
        self.driven = {c.target for c in circuit.cables.values()}
        for comp in self.components.values():
            KINDS[comp.kind].wire(comp, self)
        for name in sorted(circuit.cables):
            c = circuit.cables[name]
            gate = self.sig(_parse(c.opts["gate"])) if c.opts.get("gate") else None
            bias = f"{c.owner or name}.bias" if c.opts.get("bias") else None   # a tied cable shares its owner's
            value, matmul = self.sig(c.source), None
            if c.transform != "identity":
                weight = product_weight(c)
                matmul = MatMul(name, value, weight, bool(c.opts.get("transpose")),
                                c.opts.get("response", "dot"), Signal(name, "product"))
                value = matmul.out
            self.add(matmul, Accumulate(name, value, c.target, float(c.opts.get("scale", 1.0)), gate, bias))

    def sig(self, signal):
        return _canonical(signal, self.components)

    def elementwise_width(self, op):
        """Row width of an elementwise operator (what it writes), None for products and the rest."""
        if isinstance(op, (MatMul, Clear, Store)):
            return None
        return next((_size(s, self.circuit) for s in op.writes()), None)

    def add(self, matmul, accumulate):
        """A cable (its product, if it has one, and its accumulation) into its target's sum."""
        self.incoming.setdefault(accumulate.target, []).append((matmul, accumulate))

    def projections(self, target):
        """Clear a sum, then every cable into it."""
        ops = [Clear(target)]
        for matmul, accumulate in self.incoming.get(target, []):
            ops += [op for op in (matmul, accumulate) if op is not None]
        return ops

    def sweep(self):
        """The instant components, computed afresh in dependency order."""
        return [op for name in self.order for op in KINDS[self.components[name].kind].sweep(self, name)]

    def activate(self, name):
        """A neuron's phi and dphi from its z, then its sample when it draws one."""
        c = self.components[name]
        ops = [Activate(name, c.activation or c.opts["activation"], c.opts["kwta"])]
        if c.opts.get("sample", "none") != "none":
            ops.append(Sample(name, c.opts["sample"], float(c.opts.get("noise", 1.0))))
        return ops

    def update(self, name, lowered):
        """The Update of cable ``name`` from its lowered rule."""
        cable = self.circuit.cables[name]
        terms = tuple(t.with_factors(lambda f: f.map(self.sig)) for t in lowered["terms"])
        db = lowered.get("db")
        return Update(name, name, f"{name}.bias" if cable.opts.get("bias") else None, cable.rule, terms,
                      lowered.get("w_max"), db.map(self.sig) if db is not None else None)

    def learning(self, spec):
        """(Update, lr) of each cable a phase changes after every step: its own lr, else the optimizer's."""
        optimizer_lr = next(iter(self.circuit.resolved["train"]["optimizer"].values()))["lr"]
        return tuple((self.update(name, lowered), float(self.circuit.cables[name].opts.get("lr") or optimizer_lr))
                     for name, lowered in (spec.learned or {}).items() if lowered is not None)

    def rest(self, name):
        """Operators that put a register at rest (a state's z at zero and its phi to match)."""
        return KINDS[self.components[name].kind].rest(self, name)

    def phase(self, spec: PhaseSpec, snapshot_signals, first=False):
        kind = {n: KINDS[c.kind] for n, c in self.components.items()}
        states = [n for n in sorted(self.components) if kind[n].advances]
        hard = {n for n, (_, beta) in spec.clamps.items() if beta is None}
        free = [n for n in states if n not in hard]
        resettable = [n for n in free if self.components[n].opts.get("lifetime") != "persistent"]
        setup = []
        if first:  # every trial starts from registers at rest: unclamped inputs, and states the init keeps
            setup += [op for n in sorted(self.components) if kind[n].register and not kind[n].advances
                      and n not in hard for op in self.rest(n)]
            if spec.init == "keep":
                setup += [op for n in resettable for op in self.rest(n)]
        for name in sorted(hard):
            if not spec.clamps[name][0].hold:   # a held component keeps what the phases before left
                setup.append(Clamp(name, spec.clamps[name][0]))
            setup += kind[name].settled(self, name)
        if spec.init == "zero":
            setup += [op for n in resettable for op in self.rest(n)]
        elif spec.init == "feedforward":
            setup += self.feedforward(resettable, hard)
        # Setup leaves every state's phi consistent with its z, so a step can end by activating the
        # states it advanced: the next step, and the settled sweep, start from consistent values.
        step = self.sweep()
        for name in free:
            step += self.projections(Signal(name, "in"))
        for name in free:
            step += kind[name].step(self, name, spec.clamps.get(name))
        step += [op for n in free for op in kind[n].settled(self, n)]
        settle = self.sweep()
        learn = self.learning(spec)
        accumulate = tuple((self.update(name, lowered), spec.accumulate[name])
                           for name, lowered in (spec.accumulated or {}).items() if lowered is not None)
        plastic = {up.weight for up, _ in learn}
        if plastic:   # products through weights that change every step are recomputed every step
            step, settle = ([replace(op, plastic=True) if isinstance(op, MatMul) and op.weight in plastic else op
                             for op in ops] for ops in (step, settle))
        hoisted = []
        if self.optimize:
            invariant, step = hoist(step)
            settle = [op for op in settle if op not in invariant]  # the loop left their values as they were
            setup, hoisted = eliminate_common(setup, invariant)
            setup = drop_dead_setup(setup, hoisted, step, settle)
            setup, hoisted, step, settle = (order_for_fusion(ops, self.elementwise_width)
                                            for ops in (setup, hoisted, step, settle))
        store = None
        if spec.snapshot:
            store = Store(spec.snapshot, tuple(sorted(snapshot_signals.get(spec.snapshot, ()), key=str)))
        return PhasePlan(spec.name, spec.steps, tuple(setup), tuple(hoisted), tuple(step), tuple(settle), store,
                         self.sig(spec.read) if spec.read else None, tolerance=spec.tolerance, learn=learn,
                         accumulate=accumulate)

    def feedforward(self, free, hard):
        """Initial values from a sweep outward from the clamped components: a state predicted by a
        gaussian error node starts at that prediction; any other at the sum of its cables from
        components nearer the clamps (gates by its own dphi dropped).

        Every free state is zeroed first, and a state is initialised only after the states its
        initial value reads, so a trial never sees values left by the one before it."""
        dist = depths(self.graph, hard)
        predicted = {}
        for name, comp in self.components.items():
            target = comp.target
            if comp.kind == "error" and target is not None and comp.opts["loss"] == "gaussian" \
                    and target.compartment == "z" and Signal(name, "mu") in self.incoming:
                predicted[target.component] = name
        init_ops = {}
        for name in (n for n in free if n in dist and KINDS[self.components[n].kind].feedforward):
            if name in predicted:
                init_ops[name] = [Assign(name, Signal(predicted[name], "mu"))]
            else:
                target = Signal(name, "in")
                init_ops[name] = [Clear(target)]
                for matmul, acc in self.incoming.get(target, []):
                    source = (matmul.source if matmul else acc.value).component
                    if dist.get(source, 1 << 30) < dist[name]:
                        init_ops[name] += [op for op in (matmul, _without_self_gate(acc, name)) if op is not None]
                init_ops[name].append(Assign(name, target))
        # what each initial value reads among the others, once all are known (a top-down chain lists the
        # state it needs after itself)
        needs = {name: self.registers_read(ops) & set(init_ops) - {name} for name, ops in init_ops.items()}
        ops = [op for n in free for op in self.rest(n)]
        done = set()
        while len(done) < len(init_ops):
            waiting = sorted(set(init_ops) - done, key=lambda n: (dist[n], n))
            ready = [n for n in waiting if needs[n] <= done] or waiting[:1]  # a cycle: nearest first, the rest read 0
            ops += self.sweep()
            for name in ready:
                ops += init_ops[name] + self.activate(name)
            done |= set(ready)
        return ops

    def registers_read(self, ops):
        """The registers (states, inputs) whose values the given operators read, directly or
        through the instant components a sweep computes from them."""
        found, seen = set(), set()
        pending = [s.component for op in ops for s in op.reads()]
        while pending:
            name = pending.pop()
            if name in seen or name not in self.components:  # a cable's product: its MatMul is read too
                continue
            seen.add(name)
            if KINDS[self.components[name].kind].register:
                found.add(name)
                continue
            for target, incoming in self.incoming.items():
                if target.component == name:
                    pending += [s.component for m, acc in incoming for op in (m, acc) if op is not None
                                for s in op.reads()]
        return found

    def routine(self, name, entries):
        snapshot_signals = {}
        updates_by_entry = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, PhaseSpec):
                ups = []
                for cable_name in entry.cables:
                    if cable_name in entry.accumulated:
                        continue
                    lowered = self.circuit.cables[cable_name].update
                    if lowered is None:
                        continue
                    up = self.update(cable_name, lowered)
                    for signal in _factor_signals(up.factors()):
                        if signal.snapshot:
                            snapshot_signals.setdefault(signal.snapshot, set()).add(
                                Signal(signal.component, signal.compartment))
                    ups.append(up)
                updates_by_entry[i] = tuple(ups)
        segments, phases = [], []
        for i, entry in enumerate(entries):
            if isinstance(entry, PhaseSpec):
                phases.append(self.phase(entry, snapshot_signals, first=not (segments or phases)))
            else:
                formed = {up.cable: up for phase in phases for up, _ in phase.accumulate}
                segments.append(Segment(tuple(phases), updates_by_entry[i], tuple(formed.values())))
                phases = []
        if phases:
            segments.append(Segment(tuple(phases), ()))
        return Routine(name, tuple(segments))


def referenced_signals(circuit):
    """Every signal the spec names as a cable source, gate, rule factor or readout."""
    out = set()
    for c in circuit.cables.values():
        out.add(c.source)
        if c.opts.get("gate"):
            out.add(_parse(c.opts["gate"]))
        lowered = c.update or {}
        factors = [f for t in lowered.get("terms", ()) for f in t.factors()]
        for signal in _factor_signals(factors + ([lowered["db"]] if lowered.get("db") is not None else [])):
            out.add(Signal(signal.component, signal.compartment))
    for entries in circuit.schedule.values():
        out |= {e.read for e in entries if getattr(e, "read", None)}
    return out


def _parse(text):
    name, _, compartment = text.partition(".")
    return Signal(name, compartment)


def _without_self_gate(accumulate, name):
    if accumulate.gate is not None and accumulate.gate.component == name:
        return Accumulate(accumulate.cable, accumulate.value, accumulate.target, accumulate.scale, None,
                          accumulate.bias)
    return accumulate


def _factor_signals(factors):
    """Every signal the factor expressions read."""
    return (s for f in factors for s in f.signals())


def kept_signals(circuit, canonical):
    """The signals a run reads after a trial, which are never scratch: what the spec's monitors record
    or draw (a component names its output), and each error neuron's e where a metric sums their energy."""
    out = set()
    monitors = circuit.resolved.get("monitors") or {}
    for name in monitors.get("record", []) + ([monitors["samples"]] if "samples" in monitors else []):
        component, _, compartment = name.partition(".")
        if component in circuit.components:
            out.add(canonical(Signal(component, compartment or circuit.components[component].output)))
    if set(circuit.resolved.get("metrics", ())) & set(language.SETTLED_METRICS):
        out |= {canonical(Signal(n, "e")) for n, c in circuit.components.items() if c.kind == "error"}
    return out


def _with_scratch(routines, persistent, kept=frozenset()):
    scratch = step_scratch(routines, lambda up: _factor_signals(up.factors()))
    scratch = {key: frozenset(s for s in signals if s.component not in persistent and s not in kept)
               for key, signals in scratch.items()}
    return {name: replace(routine, segments=tuple(
        replace(segment, phases=tuple(replace(phase, scratch=scratch[(name, s, p)] - set(
            _factor_signals(f for up, _ in phase.learn for f in up.factors())))
                                      for p, phase in enumerate(segment.phases)))
        for s, segment in enumerate(routine.segments))) for name, routine in routines.items()}


def _op_signals(op):
    return op.reads() | op.writes()


def _init_scale(init: dict, shape: tuple) -> float:
    """The init's scale; with ``fan`` the limit of a uniform draw is scale·√(6/fan), fan the width the
    cable reads (in) or drives (out), as He and Glorot size theirs and PEPITA sizes its F."""
    if "fan" not in init:
        return float(init["scale"])
    return float(init["scale"]) * math.sqrt(6.0 / shape[1 if init["fan"] == "in" else 0])


def _size(signal, circuit):
    if signal.compartment == "product":  # a cable's matrix product, sized like its destination
        return circuit.cables[signal.component].shape[0]
    return circuit.components[signal.component].size


def lower(circuit, graph, optimize=True) -> Plan:
    """Build the execution plan of a resolved, loop-free circuit (``optimize``: hoist and share work)."""
    planner = Planner(circuit, graph, optimize)
    routines = {name: planner.routine(name, entries) for name, entries in circuit.schedule.items()}
    persistent = {n for n, c in circuit.components.items() if c.opts.get("lifetime") == "persistent"}
    if optimize:   # a persistent state's values are read by the next trial, a kept one by the run: never scratch
        routines = _with_scratch(routines, persistent, kept_signals(circuit, planner.sig))
    signals = {}
    for routine in routines.values():
        for seg in routine.segments:
            for phase in seg.phases:
                for op in phase.setup + phase.hoisted + phase.step + phase.settle + ((phase.store,) if phase.store else ()):
                    for s in _op_signals(op):
                        signals[s] = _size(s, circuit)
                if phase.read:
                    signals[phase.read] = _size(phase.read, circuit)
                for up, _ in phase.learn + phase.accumulate:
                    for s in _factor_signals(up.factors()):
                        signals[s] = _size(s, circuit)
            for up in seg.updates:
                for s in _factor_signals(up.factors()):
                    signals[s] = _size(s, circuit)
    parameters = {}
    for name in sorted(circuit.cables):
        c = circuit.cables[name]
        if c.transform == "tied" and c.opts.get("derive"):
            owner = circuit.cables[c.owner]
            parameters[name] = Parameter(name, name, owner.shape, "derived", 0.0, False,
                                         derived=(c.opts["derive"], c.owner))
            continue
        if c.transform not in ("dense", "fixed"):
            continue
        init = c.opts["init"]
        lattice = circuit.components[c.source.component].opts.get("lattice", ()) if init["dist"] == "lattice" else ()
        parameters[name] = Parameter(name, name, c.shape, init["dist"], _init_scale(init, c.shape), c.learnable,
                                     float(c.opts.get("lr", 0.0)), tuple(sorted((c.opts.get("mask") or {}).items())),
                                     lattice=tuple(lattice), offset=float(init.get("offset", 0.0)))
        if c.opts.get("derive"):
            parameters[product_weight(c)] = Parameter(product_weight(c), name, c.shape, "derived", 0.0, False,
                                                      derived=(c.opts["derive"], name))
        if c.opts.get("bias"):
            parameters[f"{name}.bias"] = Parameter(f"{name}.bias", name, (c.shape[0],), "constant", 0.0,
                                                   c.learnable, float(c.opts.get("lr", 0.0)))
    r = circuit.resolved
    components = {n: {"kind": c.kind, "size": c.size, "output": _canonical(Signal(n, c.output), circuit.components).compartment,
                      **{k: v for k, v in c.opts.items() if k not in ("kind", "size")}}
                  for n, c in circuit.components.items()}
    return Plan(circuit.name, r["dtype"], r["seed"], components, dict(sorted(signals.items(), key=lambda kv: str(kv[0]))),
                parameters, routines, dict(r["data"]), dict(r["train"]), tuple(r["metrics"]),
                frozenset(s for s in signals if s.snapshot is None and s.component in persistent),
                _prior(circuit))


def _prior(circuit) -> dict:
    """schedule.sample's prior: its settings and the state its draws clamp ({} without schedule.sample)."""
    drawn = [name for entry in circuit.schedule.get("sample", ()) for name, (source, _) in
             getattr(entry, "clamps", {}).items() if source.prior]
    return {**circuit.resolved["prior"], "state": drawn[0]} if drawn else {}
