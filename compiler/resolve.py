"""Semantic resolution: names, references, defaults and shapes of a schema-valid spec.

The result is a :class:`Circuit`: the spec with every default filled in and every reference
checked, plus the resolved spec as plain data (written beside every run).
"""
from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field

from . import equations, language, updates
from .kinds import REGISTRY as KINDS
from .datafiles import UnreadableData
from .diagnostics import did_you_mean
from .expressions import Constant, Mean, Weight, named_constant
from .derivatives import NotDifferentiable, derivative
from .ops import CustomActivation, CustomLoss, DataSource, Dynamics, Expression, Signal
from .rules import REGISTRY as RULES

TRANSFORM_KEYS = {
    "dense": {"from", "to", "transform", "scale", "init", "bias", "gate", "mask", "response", "rule", "lr", "frozen",
              "derive", "about"},
    "fixed": {"from", "to", "transform", "scale", "init", "bias", "gate", "mask", "response", "about"},
    "identity": {"from", "to", "transform", "scale", "gate", "about"},
    "tied": {"from", "to", "tied", "transpose", "derive", "scale", "gate", "bias", "about"},
}


@dataclass
class Component:
    name: str
    kind: str
    size: int
    opts: dict
    pos: tuple
    target: Signal = None    # an error's target signal
    activation: CustomActivation = None   # an activation the spec writes as an equation
    loss: CustomLoss = None               # an error the spec writes as an equation
    dynamics: Dynamics = None             # a neuron's equations
    value: object = None                  # a measure's expression of other components

    @property
    def output(self) -> str:
        return self.compartments[0]

    @property
    def compartments(self) -> tuple:
        """The compartments a reference may name; the first is the output."""
        return KINDS[self.kind].compartments_of(self)


@dataclass
class Cable:
    name: str
    transform: str                 # dense | fixed | identity | tied
    source: Signal
    target: Signal
    shape: tuple                   # (size of target, size of source)
    opts: dict
    pos: tuple
    owner: str = ""                # cable whose storage this one uses ('' for none)
    rule: str = ""
    rule_params: dict = field(default_factory=dict)
    update: dict = None      # the lowered rule (Update keyword arguments), once an update lists the cable

    @property
    def learnable(self) -> bool:
        return self.transform == "dense" and RULES[self.rule].learns and not self.opts.get("frozen")


@dataclass
class PhaseSpec:
    name: str
    steps: int
    clamps: dict        # component -> (DataSource, beta); beta None is a hard clamp
    init: str
    snapshot: str
    read: Signal
    pos: tuple
    tolerance: float = 0.0   # stop settling once no state moves more than this in a step (0: never)
    learn: tuple = ()        # cables whose ΔW is applied after every step
    learned: dict = None     # cable -> its lowered rule for those steps (filled once rules are resolved)
    accumulate: dict = None  # cable -> scale: its ΔW at the end of this phase, times scale, adds to the trial's
    accumulated: dict = None  # cable -> its lowered rule for that (filled once rules are resolved)


@dataclass
class UpdateSpec:
    cables: tuple
    snapshots: tuple    # snapshots taken before this update
    pos: tuple
    accumulated: tuple = ()   # cables whose ΔW the phases before it formed (it applies their sum)


@dataclass
class Circuit:
    """A resolved spec: checked components, cables and schedule, and the resolved data."""

    name: str
    file: str
    base_dir: str
    components: dict
    cables: dict
    schedule: dict      # routine name -> list of PhaseSpec | UpdateSpec
    resolved: dict
    data_widths: tuple
    positions: object = None
    data_rows: int = 0


class Resolver:
    """Resolves one spec, collecting every diagnostic instead of stopping at the first."""

    def __init__(self, data, smap, base_dir):
        self.data, self.smap, self.base_dir = data, smap, base_dir
        self.diagnostics = []
        self.resolved = copy.deepcopy(data)
        self.data_rows = 0

    def constant(self, path, name, value):
        """The Constant of a spec's named number (fixed or scheduled), or None after reporting what is
        wrong with its schedule."""
        try:
            return named_constant(name, value)
        except ValueError as exc:
            self.error(path, str(exc))
            return None

    def error(self, path, message, key=False):
        self.diagnostics.append(self.smap.diagnostic(path, message, key))

    def error_inside(self, path, offset, message):
        """An error at character ``offset`` of the expression string at ``path``."""
        self.diagnostics.append(self.smap.inside(path, offset, message))

    # ---- top level ----------------------------------------------------------------------
    def run(self) -> Circuit:
        r = self.resolved
        r.setdefault("about", "")
        r.setdefault("seed", 0)
        r.setdefault("dtype", "float32")
        r.setdefault("cables", {})
        r.setdefault("metrics", [])
        train = r.setdefault("train", {})
        train.setdefault("epochs", 1)
        train["optimizer"] = self._optimizer(train.get("optimizer", "sgd"))
        widths = self._data(r["data"])
        components = {n: self._component(n, c) for n, c in r["components"].items()}
        components = {n: c for n, c in components.items() if c}
        self.components = components
        for comp in components.values():
            KINDS[comp.kind].link(comp, self)
        cables = {}
        for name, spec in r["cables"].items():
            cable = self._cable(name, spec)
            if cable:
                cables[name] = cable
        self.cables = cables
        self._tied(cables)
        schedule = {name: self._routine(name, steps, widths) for name, steps in r["schedule"].items()}
        self._rules(cables, schedule)
        self._sample_inits(cables, schedule)
        self._metrics(r["metrics"], schedule, widths)
        self._prior(r, schedule, widths)
        self._selection(train, r["metrics"], r["data"])
        self._monitors(r.get("monitors"), cables)
        return Circuit(r["name"], self.smap.file, self.base_dir, components, cables, schedule, r, widths, self.smap,
                       self.data_rows)

    def _optimizer(self, spec):
        name, params = (spec, {}) if isinstance(spec, str) else next(iter(spec.items()))
        return {name: {**language.OPTIMIZERS[name][1], **(params or {})}}

    def _data(self, data):
        dataset = language.DATASETS[data["dataset"]]
        for key in data:
            if key not in ("dataset", "test_fraction", "validation_fraction", "batch", "shuffle", "seed", "streams") \
                    and key not in dataset.params:
                self.error(("data", key), f"dataset '{dataset.name}' takes no parameter '{key}'"
                           f"{did_you_mean(key, dataset.params)}", key=True)
        for key, value in {"test_fraction": 0.2, "validation_fraction": 0.0, "batch": 32, "shuffle": True,
                           "seed": self.resolved["seed"],
                           **dataset.defaults}.items():
            data.setdefault(key, value)
        if "spectrum" in dataset.params and "spectrum" in data and len(data["spectrum"]) != data["dim"]:
            self.error(("data", "spectrum"), f"the spectrum lists {len(data['spectrum'])} eigenvalues but dim is "
                       f"{data['dim']}: give one per dimension")
        self._streams(data.setdefault("streams", {}))
        missing = [key for key in dataset.required if key not in data]
        if missing:
            self.error(("data",), f"dataset '{dataset.name}' needs {' and '.join(repr(k) for k in missing)} "
                                  "(a file, relative to the spec)")
            return None
        try:
            rows, x_width, y_width = dataset.shape(data, self.base_dir)
            self.data_rows = rows
            self._images(data["streams"], (x_width, y_width))
            return x_width, y_width
        except UnreadableData as exc:
            self.error(("data", exc.key), str(exc))
            return None

    def _streams(self, streams):
        """Derived data streams: each names its kind (the key holding its source) and parameters."""
        for name, spec in streams.items():
            path = ("data", "streams", name)
            if name in ("x", "y"):
                self.error(path, f"'{name}' is the dataset's own stream; name a derived stream otherwise", key=True)
            kind, _ = language.stream_kind(spec)
            for key, value in language.STREAMS[kind][1].items():
                spec.setdefault(key, value)
            if kind in language.LABEL_STREAMS and spec[kind] != "y":
                what = "wrong labels" if kind == "wrong_label" else "every label"
                self.error(path + (kind,), f"stream '{name}' draws {what}, so its source is y, not {spec[kind]}")

    def _images(self, streams, widths):
        """A hybrid stream's images: rows × cols must be its source's width (a square by default)."""
        for name, spec in streams.items():
            if "hybrid" not in spec:
                continue
            width = widths[0 if spec["hybrid"] == "x" else 1]
            if "shape" not in spec:
                side = math.isqrt(width)
                if side * side != width:
                    self.error(("data", "streams", name), f"stream '{name}' mixes images of data.{spec['hybrid']} "
                               f"(width {width}), which is not a square: give shape: [rows, cols]", key=True)
                spec["shape"] = [side, side]
            elif spec["shape"][0] * spec["shape"][1] != width:
                self.error(("data", "streams", name, "shape"), f"shape {spec['shape'][0]} × {spec['shape'][1]} is "
                           f"{spec['shape'][0] * spec['shape'][1]} pixels, but data.{spec['hybrid']} has width {width}")

    # ---- components ---------------------------------------------------------------------
    def _component(self, name, spec):
        kind = KINDS[spec["kind"]]
        path = ("components", name)
        for key in spec:
            if key not in kind.options and key not in ("kind", "size", "about"):
                self.error(path + (key,), f"'{key}' does not apply to a component of kind '{kind.name}'"
                           f" (it takes {', '.join(sorted({'size', *kind.options}))})", key=True)
        for key, value in kind.defaults.items():
            spec.setdefault(key, value)
        if "size" not in spec and kind.needs_size:
            self.error(path, f"component '{name}' needs a 'size'")
            return None
        comp = Component(name, kind.name, spec.get("size", 0), spec, self.smap.where(path, key=True))
        kind.check(comp, path, self)
        return comp

    def loss(self, comp, path):
        """e of an error written as an expression of its target and mu (and its precision)."""
        def neither(text):
            raise KeyError(f"an error's e reads target, mu and precision; '{text}' is none of them")

        width = ("batch", comp.size)
        scope = equations.Scope({"target": (Signal(comp.name, "target"), width), "mu": (Signal(comp.name, "mu"), width),
                                 "precision": (Constant(float(comp.opts["precision"]), "precision"),
                                               equations.SCALAR)}, neither)
        try:
            e, shape, _ = equations.parse(comp.opts["loss"]["e"], scope)
        except equations.ExpressionError as exc:
            self.error_inside(path, exc.offset, f"e: {exc.message}")
            return None
        if shape != width:
            self.error(path, f"e: is {equations.describe(shape)}; an error's e is elementwise over its units, "
                             "e.g. 'target - mu'")
            return None
        return CustomLoss(e)

    def activation(self, comp, path):
        """phi (and dphi: given, or its derivative) of an activation written as equations of z."""
        z = Signal(comp.name, "z")

        def only_z(text):
            raise KeyError(f"an activation is a function of z alone; '{text}' is not z")

        scope = equations.Scope({"z": (z, ("batch", comp.size))}, only_z)
        found = {}
        for role in ("phi", "dphi"):
            if role not in comp.opts["activation"]:
                continue
            try:
                node, shape, _ = equations.parse(comp.opts["activation"][role], scope)
            except equations.ExpressionError as exc:
                self.error_inside(path + (role,), exc.offset, f"{role}: {exc.message}")
                continue
            if shape[0] in ("matrix", "diag"):
                self.error(path + (role,), f"{role}: is {equations.describe(shape)}; an activation gives each unit "
                                           "a value")
                continue
            found[role] = node
        if "phi" not in found or len(found) < len(comp.opts["activation"]):
            return None
        if "dphi" not in found:
            try:
                found["dphi"] = derivative(found["phi"], z)
            except NotDifferentiable as exc:
                self.error(path + ("phi",), f"phi: its derivative cannot be found symbolically ({exc}); give dphi")
                return None
        return CustomActivation(found["phi"], found["dphi"])

    def signal(self, text, path, who, default=None, snapshot=None):
        """Resolve 'comp' or 'comp.compartment' to a Signal; ``who`` says who refers to it, for errors."""
        signal, problem = self.lookup(text, who, default, snapshot)
        if problem:
            self.error(path, problem)
        return signal

    def lookup(self, text, who, default=None, snapshot=None):
        """(Signal, None) for 'comp' or 'comp.compartment', or (None, what is wrong)."""
        name, _, compartment = text.partition(".")
        comp = self.components.get(name)
        if comp is None:
            return None, f"{who} '{text}' but there is no component '{name}'{did_you_mean(name, self.components)}"
        allowed = comp.compartments
        compartment = compartment or default or comp.output
        if compartment not in allowed:
            return None, (f"{who} '{text}' but component '{name}' ({comp.kind}) has no compartment '{compartment}'"
                          f"{did_you_mean(compartment, allowed)}; it has {', '.join(allowed)}")
        if compartment == "s" and comp.opts.get("sample", "none") == "none":
            return None, (f"{who} '{text}' but component '{name}' draws no samples: give it sample: bernoulli "
                          "or gaussian to have an 's'")
        return Signal(name, compartment, snapshot), None

    # ---- cables -------------------------------------------------------------------------
    def _cable(self, name, spec):
        path = ("cables", name)
        transform = "tied" if "tied" in spec else spec.get("transform", "dense")
        if "tied" in spec and "transform" in spec:
            self.error(path + ("transform",), f"cable '{name}' is tied; it takes its transform from '{spec['tied']}'", key=True)
        for key in spec:
            if key not in TRANSFORM_KEYS[transform]:
                self.error(path + (key,), f"'{key}' does not apply to a {transform} cable", key=True)
        source = self.signal(spec["from"], path + ("from",), f"cable '{name}' reads")
        target = None
        to_name = spec["to"].partition(".")[0]
        if to_name in self.components:
            kind = self.components[to_name].kind
            if not KINDS[kind].drivable:
                self.error(path + ("to",), f"cable '{name}' drives '{to_name}', an {kind}; {kind}s are set by clamps")
            else:
                target = self.signal(spec["to"], path + ("to",), f"cable '{name}' drives", default=KINDS[kind].driven)
                if target and target.compartment not in KINDS[kind].drivable:
                    self.error(path + ("to",), f"cable '{name}' cannot drive '{target}'; a {kind} takes cables into "
                               f"{' or '.join(KINDS[kind].drivable)}")
                    target = None
        else:
            self.signal(spec["to"], path + ("to",), f"cable '{name}' drives")
        if not (source and target):
            return None
        shape = (self.components[target.component].size, self.components[source.component].size)
        spec.setdefault("scale", 1.0)
        if transform in ("dense", "fixed"):
            spec.setdefault("init", {})
            spec["init"].setdefault("dist", "xavier")
            spec["init"].setdefault("scale", 1.0)
            spec.setdefault("bias", False)
            spec.setdefault("response", "dot")
        if transform == "tied":
            spec.setdefault("transpose", False)
            spec.setdefault("bias", False)
        if spec.get("derive") == "precision" and shape[0] != shape[1]:
            self.error(path + ("derive",), f"a precision is the inverse of a square matrix; '{name}' is "
                                           f"{shape[0]}x{shape[1]}")
        if transform == "identity" and shape[0] != shape[1]:
            self.error(path, f"identity cable '{name}' joins sizes {shape[1]} and {shape[0]}; they must be equal")
        if "mask" in spec:
            mask = {"zero_diagonal": True} if spec["mask"] == "zero_diagonal" else dict(spec["mask"])
            spec["mask"] = mask
            if shape[0] != shape[1]:
                self.error(path + ("mask",), f"a mask needs a square (lateral) cable; '{name}' is {shape[0]}x{shape[1]}")
            elif shape[0] % mask.get("groups", 1):
                self.error(path + ("mask", "groups"), f"{mask['groups']} groups do not divide the {shape[0]} units "
                           f"of cable '{name}'")
        gate = spec.get("gate")
        if gate is not None:
            gate_signal = (Signal(target.component, "dphi") if gate == "dphi"
                           else self.signal(gate, path + ("gate",), f"cable '{name}' is gated by"))
            if gate_signal and gate_signal.compartment not in self.components[gate_signal.component].compartments:
                self.error(path + ("gate",), f"'gate: dphi' needs a neuron at the destination; '{target.component}' "
                           f"is a {self.components[target.component].kind}")
                gate_signal = None
            if gate_signal and self.components[gate_signal.component].size != shape[0]:
                self.error(path + ("gate",), f"gate '{gate_signal}' has size {self.components[gate_signal.component].size}"
                           f" but cable '{name}' delivers {shape[0]}")
            spec["gate"] = str(gate_signal) if gate_signal else gate
        cable = Cable(name, transform, source, target, shape, spec, self.smap.where(path, key=True))
        if "rule" in spec:
            rule = spec["rule"]
            cable.rule, params = (rule, {}) if isinstance(rule, str) else next(iter(rule.items()))
            cable.rule_params = {**RULES[cable.rule].defaults, **(params or {})}
            spec["rule"] = {cable.rule: cable.rule_params}
            missing = RULES[cable.rule].missing(cable.rule_params)
            if missing:
                self.error(path + ("rule",), f"rule '{cable.rule}' needs {' and '.join(repr(p) for p in missing)}: "
                           f"write rule: {{{cable.rule}: {{{missing[0]}: ...}}}}")
            if transform != "dense":
                self.error(path + ("rule",), f"cable '{name}' is {transform}: it has no weights of its own to learn; "
                           "remove 'rule' (or make it dense)", key=True)
        elif transform == "dense" and not spec.get("frozen"):
            self.error(path, f"cable '{name}' is learnable but has no rule (add 'rule:', "
                       "'rule: none' to freeze it, or 'transform: fixed' for fixed random weights)", key=True)
            cable.rule = "none"
        return cable

    def _tied(self, cables):
        for name, cable in cables.items():
            if cable.transform != "tied":
                continue
            path = ("cables", name, "tied")
            owner = cables.get(cable.opts["tied"])
            if owner is None:
                known = [n for n in self.data.get("cables", {}) if n != name]
                if cable.opts["tied"] not in self.data.get("cables", {}):
                    self.error(path, f"cable '{name}' is tied to '{cable.opts['tied']}', which is not a cable"
                               f"{did_you_mean(cable.opts['tied'], known)}")
                continue
            if owner.transform not in ("dense", "fixed"):
                self.error(path, f"cable '{name}' is tied to '{owner.name}', which has no weights ({owner.transform})")
                continue
            want = owner.shape[::-1] if cable.opts["transpose"] else owner.shape
            if want != cable.shape:
                t = "the transpose of " if cable.opts["transpose"] else ""
                self.error(path, f"cable '{name}' is tied to {t}'{owner.name}' ({owner.shape[0]}x{owner.shape[1]}), "
                           f"so it maps size {want[1]} to {want[0]}, but it joins '{cable.source}' ({cable.shape[1]}) "
                           f"to '{cable.target}' ({cable.shape[0]})")
            cable.owner = owner.name
            if cable.opts["bias"] and (cable.opts["transpose"] or not owner.opts.get("bias")):
                why = "a transposed view cannot use it" if cable.opts["transpose"] else f"'{owner.name}' has none"
                self.error(("cables", name, "bias"), f"cable '{name}' shares the bias of '{owner.name}' "
                           f"(bias: true on a tied cable), but {why}")

    # ---- schedule -----------------------------------------------------------------------
    def _routine(self, routine, entries, widths):
        out, snapshots, phase_names = [], [], set()
        pending = {}   # cable -> (phase, path) of the accumulations the next update must apply
        for i, entry in enumerate(entries):
            path = ("schedule", routine, i)
            if "update" in entry:
                for name, (phase, where) in pending.items():
                    if name not in entry["update"]:
                        self.error(where, f"phase '{phase}' adds to the ΔW of '{name}', but the update after it "
                                          f"does not apply it (add '{name}' to that 'update:')")
                accumulated, pending = tuple(n for n in entry["update"] if n in pending), {}
                if routine != "train":
                    self.error(path, f"'{routine}' cannot update weights; updates belong in schedule.train", key=True)
                for j, name in enumerate(entry["update"]):
                    cable = self.cables.get(name)
                    if name not in self.data.get("cables", {}):
                        self.error(path + ("update", j), f"update names no cable '{name}'"
                                   f"{did_you_mean(name, self.data.get('cables', {}))}")
                    elif cable and not cable.learnable and not cable.opts.get("frozen"):   # frozen: skipped
                        why = (f"is tied to '{cable.opts.get('tied')}' (update that cable)" if cable.transform == "tied"
                               else f"is {cable.transform}" if cable.transform != "dense" else "has rule 'none'")
                        self.error(path + ("update", j), f"cable '{name}' {why}; it has no rule to apply")
                out.append(UpdateSpec(tuple(entry["update"]), tuple(snapshots), self.smap.where(path, key=True),
                                      accumulated))
                continue
            entry.setdefault("steps", 1)
            entry.setdefault("init", "zero" if i == 0 else "keep")
            entry.setdefault("clamp", {})
            if entry["phase"] in phase_names:
                self.error(path + ("phase",), f"phase name '{entry['phase']}' is used twice in schedule.{routine}")
            phase_names.add(entry["phase"])
            clamps = {}
            for comp_name, value in entry["clamp"].items():
                cpath = path + ("clamp", comp_name)
                comp = self.components.get(comp_name)
                if comp is None:
                    self.error(cpath, f"clamp names no component '{comp_name}'{did_you_mean(comp_name, self.components)}",
                               key=True)
                    continue
                if not KINDS[comp.kind].clampable:
                    clampable = " and ".join(k.name for k in KINDS.values() if k.clampable)
                    self.error(cpath, f"'{comp_name}' is {comp.kind}: only {clampable} components can be clamped",
                               key=True)
                    continue
                if value == "prior":
                    if routine != "sample":
                        self.error(cpath, f"'{comp_name}' is clamped to a draw of the prior, which only "
                                          "schedule.sample generates from; here clamp it to data, a number or hold")
                    clamps[comp_name] = (DataSource(stream="x", prior=True), None)
                    continue
                if value == "hold":
                    if i == 0:
                        self.error(cpath, f"'{comp_name}' holds the value the phases before left, but this is the "
                                          f"first phase of schedule.{routine}: clamp it to data or a number")
                    clamps[comp_name] = (DataSource(hold=True), None)
                    continue
                beta = None
                if isinstance(value, dict):
                    value, beta = value["value"], float(value.get("beta", 0.0))
                    if not KINDS[comp.kind].nudgeable:
                        self.error(cpath, f"a soft clamp (beta) needs a state; '{comp_name}' is an {comp.kind}")
                source = DataSource(stream=value[5:]) if isinstance(value, str) else DataSource(constant=float(value))
                if routine == "sample" and source.stream:
                    self.error(cpath, f"schedule.sample generates from draws of the prior and reads no data; clamp "
                                      f"'{comp_name}' to prior, a number or hold")
                    continue
                streams = self.data.get("data", {}).get("streams", {})
                if source.stream and source.stream not in ("x", "y", *streams):
                    known = ["x", "y", *streams]
                    self.error(cpath, f"clamp of '{comp_name}' to {source}, but the data has no stream '{source.stream}'"
                               f"{did_you_mean(source.stream, known)}; it has {', '.join(known)} (declare others in "
                               "data.streams)")
                    continue
                if source.stream in streams and "every_label" in streams[source.stream] and routine != "predict":
                    self.error(cpath, f"stream '{source.stream}' tries every label, which only schedule.predict does; "
                               "in training clamp data.y or a wrong_label stream")
                    continue
                if source.stream and widths:
                    kind, origin = language.stream_kind(streams[source.stream]) if source.stream in streams else (
                        None, source.stream)
                    origin = "y" if kind in language.LABEL_STREAMS else origin   # labels, whatever its source says
                    width = widths[0 if origin == "x" else 1]
                    if width != comp.size:
                        self.error(cpath, f"clamp of '{comp_name}' (size {comp.size}) to {source} (width {width}): "
                                   "the widths differ")
                clamps[comp_name] = (source, beta)
            read = None
            if "read" in entry:
                read = self.signal(entry["read"], path + ("read",), f"phase '{entry['phase']}' reads")
            snapshot = entry.get("snapshot", "")
            if snapshot:
                if snapshot in snapshots:
                    self.error(path + ("snapshot",), f"snapshot '{snapshot}' is taken twice in schedule.{routine}")
                snapshots.append(snapshot)
            learn = tuple(entry.get("learn", ()))
            for j, name in enumerate(learn):
                self._phase_cable("learn", name, routine, path + ("learn", j))
            accumulate = entry.get("accumulate", {})
            if isinstance(accumulate, list):
                accumulate = dict.fromkeys(accumulate, 1.0)
            for name in accumulate:
                where = path + ("accumulate",) + ((entry["accumulate"].index(name),) if isinstance(
                    entry["accumulate"], list) else (name,))
                if self._phase_cable("accumulate", name, routine, where, learn):
                    pending.setdefault(name, (entry["phase"], where))
            out.append(PhaseSpec(entry["phase"], entry["steps"], clamps, entry["init"], snapshot, read,
                                 self.smap.where(path, key=True), float(entry.get("tolerance", 0.0)), learn, {},
                                 {n: float(v) for n, v in accumulate.items()}, {}))
        for name, (phase, where) in pending.items():
            self.error(where, f"phase '{phase}' adds to the ΔW of '{name}', but no update after it applies it "
                              f"(add an 'update: [{name}]' after the phase)")
        if routine in ("predict", "sample") and not any("read" in e for e in entries if isinstance(e, dict)):
            self.error(("schedule", routine), f"schedule.{routine} reads nothing; add 'read: <component>' to a phase")
        return out

    def _phase_cable(self, key, name, routine, path, learn=()):
        """Whether ``name`` is a cable a phase may change through ``key`` — ``learn`` (after every step) or
        ``accumulate`` (its ΔW once settled): a learnable cable of the training schedule. Every step also
        rules out a connectivity mask or derived views (an update re-masks and re-derives, a step does
        not); accumulating rules out a cable the phase already changes every step (``learn``)."""
        cable = self.cables.get(name)
        doing = "apply every step" if key == "learn" else "accumulate"
        if name not in self.data.get("cables", {}):
            problem = f"{key} names no cable '{name}'{did_you_mean(name, self.data.get('cables', {}))}"
        elif routine != "train":
            problem = f"'{routine}' cannot change weights; {key} belongs in schedule.train"
        elif cable and not cable.learnable and not cable.opts.get("frozen"):   # frozen: skipped, as in an update
            problem = f"cable '{name}' has no rule to {doing} (it is {cable.transform} or has rule 'none')"
        elif key == "learn" and cable and (cable.opts.get("mask") or any(
                c.opts.get("derive") and name in (c.owner, c.name) for c in self.cables.values())):
            problem = f"cable '{name}' is masked or has derived views; it can change in an update, not every step"
        elif name in learn:
            problem = f"the phase changes '{name}' every step (learn); it cannot also accumulate its ΔW"
        else:
            return True
        self.error(path, problem)
        return False

    def _rules(self, cables, schedule):
        updated = {n for entry in schedule.get("train", []) if isinstance(entry, UpdateSpec) for n in entry.cables}
        updated |= {n for entry in schedule.get("train", []) if isinstance(entry, PhaseSpec)
                    for n in (*entry.learn, *entry.accumulate)}
        for name, cable in cables.items():
            if cable.learnable and name not in updated:
                self.error(("cables", name, "rule"), f"cable '{name}' has rule '{cable.rule}' but no update in "
                           "schedule.train lists it (add it to an 'update:', or use 'rule: none')", key=True)
        for entry in schedule.get("train", []):
            if isinstance(entry, UpdateSpec):
                for name in entry.cables:
                    cable = cables.get(name)
                    if name in entry.accumulated:   # formed by the phases before it
                        continue
                    if cable and cable.learnable and not RULES[cable.rule].missing(cable.rule_params):
                        cable.update = RULES[cable.rule].lower(cable.rule_params, Factors(self, cable, entry.snapshots))
            elif isinstance(entry, PhaseSpec):   # a rule applied every step reads the step's values: no snapshots
                for names, lowered in ((entry.learn, entry.learned), (entry.accumulate, entry.accumulated)):
                    for name in names:
                        cable = cables.get(name)
                        if cable and cable.learnable and not RULES[cable.rule].missing(cable.rule_params):
                            lowered[name] = RULES[cable.rule].lower(cable.rule_params, Factors(self, cable, ()))

    def _sample_inits(self, cables, schedule):
        """A cable initialised from data samples reads a component the training phases clamp to data.x;
        one initialised at lattice distances is square and reads a lattice; ``fan`` goes with a uniform draw."""
        from_data = {name for entry in schedule.get("train", []) for name, (source, _) in
                     getattr(entry, "clamps", {}).items() if source.stream == "x"}
        for name, cable in cables.items():
            init = cable.opts.get("init") or {}
            if "fan" in init and init["dist"] != "uniform":
                self.error(("cables", name, "init", "fan"), f"`fan` sizes the limit of a uniform draw; cable "
                           f"'{name}' draws from '{init['dist']}': use dist: uniform or drop fan")
            if init.get("dist") == "lattice":
                lattice = self.components[cable.source.component].opts.get("lattice")
                if not lattice or cable.shape[0] != cable.shape[1]:
                    self.error(("cables", name, "init", "dist"), f"cable '{name}' starts at distances on a lattice: "
                               f"it must be square and read a component with a lattice (e.g. lattice: [10, 10]); "
                               f"it is {cable.shape[0]} × {cable.shape[1]} from '{cable.source.component}'"
                               + ("" if lattice else ", which has none"))
            if init.get("dist") == "samples" and cable.source.component not in from_data:
                self.error(("cables", name, "init", "dist"), f"cable '{name}' starts its rows at data samples, so it "
                           f"must read a component that schedule.train clamps to data.x; '{cable.source.component}' "
                           "is not")

    def _monitors(self, monitors, cables):
        """What a run records: components that exist, cables that have weights."""
        if not monitors:
            return
        monitors.setdefault("examples", 4)
        refs = [(("monitors", "record", i), ref) for i, ref in enumerate(monitors.get("record", []))]
        refs += [(("monitors", "samples"), monitors["samples"])] if "samples" in monitors else []
        for path, ref in refs:
            name = ref.partition(".")[0]
            if name not in self.components:
                self.error(path, f"there is no component '{name}' to {path[1].rstrip('s')}"
                           f"{did_you_mean(name, list(self.components))}")
        with_weights = [n for n, c in cables.items() if c.transform in ("dense", "fixed")]
        for i, name in enumerate(monitors.get("weights", [])):
            if name not in with_weights:
                self.error(("monitors", "weights", i), f"'{name}' is not a cable with weights of its own"
                           f"{did_you_mean(name, with_weights)}")

    def _metrics(self, metrics, schedule, widths):
        predict = schedule.get("predict")
        if metrics and predict is None:
            self.error(("metrics",), "metrics need a schedule.predict that reads the model's output")
            return
        for i, metric in enumerate(metrics):
            if metric in language.SETTLED_METRICS and not any(c.kind == "error" for c in self.components.values()):
                self.error(("metrics", i), f"{metric} sums the error neurons' ½·precision·‖target − mu‖² after a "
                                           "training trial settles; this circuit has no error components")
        reads = [e.read for e in predict or [] if isinstance(e, PhaseSpec) and e.read]
        if reads and self._candidates(predict, reads[-1]):   # the output is a score per class: y's width
            return
        if not (reads and widths):
            return
        size = self.components[reads[-1].component].size
        i = next(i for i, e in enumerate(predict) if isinstance(e, PhaseSpec) and e.read == reads[-1])
        for stream, width, compared in (("y", widths[1], ("accuracy", "mse", "mean_squared_error")),
                                        ("x", widths[0], language.INPUT_METRICS)):
            named = [m for m in metrics if m in compared]
            if named and size != width:
                self.error(("schedule", "predict", i, "read"), f"readout '{reads[-1]}' has size {size} but data.{stream} "
                           f"has width {width}; {', '.join(named)} compare{'s' if len(named) == 1 else ''} them")


    def _prior(self, r, schedule, widths):
        """schedule.sample draws one state from the prior (its settings in ``prior``, defaults filled in),
        fitted where schedule.encode (else schedule.predict) leaves that state; log_px holds what it
        generates against data.x."""
        sample, encode = schedule.get("sample"), schedule.get("encode")
        if encode is not None and sample is None:
            self.error(("schedule", "encode"), "schedule.encode settles the state schedule.sample draws, to fit its "
                                               "prior; this spec has no schedule.sample", key=True)
        for i, entry in enumerate(encode or ()):
            if isinstance(entry, PhaseSpec) and entry.read:
                self.error(("schedule", "encode", i, "read"), "schedule.encode reads nothing: the prior is fitted to "
                           "the state schedule.sample clamps to prior, where the last phase of encode leaves it",
                           key=True)
        if sample is None:
            if "prior" in r:
                self.error(("prior",), "prior sets the mixture schedule.sample draws from; this spec has no "
                                       "schedule.sample", key=True)
            for i, metric in enumerate(r["metrics"]):
                if metric in language.PRIOR_METRICS:
                    self.error(("metrics", i), f"{metric} needs a schedule.sample that generates from the prior "
                                               "(a phase of it clamps a state to prior and reads the sample)")
            return
        drawn = [name for e in sample if isinstance(e, PhaseSpec) for name, (s, _) in e.clamps.items() if s.prior]
        if len(set(drawn)) != 1:
            self.error(("schedule", "sample"), "schedule.sample generates from draws of the prior: clamp exactly one "
                       f"input or state to prior (it clamps {', '.join(sorted(set(drawn))) or 'none'})")
            return
        r["prior"] = {**language.PRIOR_DEFAULTS, **r.get("prior", {})}
        if (r.get("monitors") or {}).get("samples"):
            self.error(("monitors", "samples"), "schedule.sample draws plots/samples.png from the prior; monitor "
                                                "the generated compartment with record instead", key=True)
        reads = [(i, e.read) for i, e in enumerate(sample) if isinstance(e, PhaseSpec) and e.read]
        named = [m for m in r["metrics"] if m in language.PRIOR_METRICS]
        if reads and widths and named and reads[-1][1].component in self.components:
            size = self.components[reads[-1][1].component].size
            if size != widths[0]:
                self.error(("schedule", "sample", reads[-1][0], "read"), f"the sample '{reads[-1][1]}' has size "
                           f"{size} but data.x has width {widths[0]}; {', '.join(named)} holds them against each other")

    def _selection(self, train, metrics, data):
        """keep_best and stop_after choose epochs on the validation split, by one of the spec's metrics."""
        if "stop_after" in train and "keep_best" not in train:
            self.error(("train", "stop_after"), "stop_after watches the metric keep_best names: add keep_best, "
                                                "e.g. keep_best: accuracy", key=True)
        if "keep_best" not in train:
            return
        metric = train["keep_best"]
        if metric not in metrics:
            self.error(("train", "keep_best"), f"keep_best chooses by '{metric}', which the spec does not measure "
                       f"(metrics: {', '.join(metrics) or 'none'}); add it to metrics")
        if not data.get("validation_fraction"):
            self.error(("train", "keep_best"), "keep_best chooses the best epoch on a validation split: set "
                       "data.validation_fraction (e.g. 0.1); choosing on the test set would overstate its score")

    def _candidates(self, predict, read):
        """Whether schedule.predict tries every label; its readout must then score one candidate (one unit)."""
        streams = self.data.get("data", {}).get("streams", {})
        tried = [s.stream for e in predict if isinstance(e, PhaseSpec) for s, _ in e.clamps.values()
                 if s.stream in streams and "every_label" in streams[s.stream]]
        size = self.components[read.component].size if read.component in self.components else 1
        if tried and size != 1:
            i = next(i for i, e in enumerate(predict) if isinstance(e, PhaseSpec) and e.read == read)
            self.error(("schedule", "predict", i, "read"), f"schedule.predict tries every label (stream '{tried[0]}'), "
                       f"so its readout scores one candidate and needs one unit; '{read}' has {size}")
        return bool(tried)


class Factors:
    """Resolves a rule's factor references for one cable (defaults: pre = source, post = destination)."""

    def __init__(self, resolver, cable, snapshots):
        self.resolver, self.cable, self.snapshots = resolver, cable, snapshots
        self.destination = cable.target.component
        self.path = ("cables", cable.name, "rule", cable.rule)

    def ref(self, text, role, default=None, snapshot=None, path=None):
        text, _, at = text.partition("@")
        snapshot = at or snapshot
        path = path or (self.path + (role,) if role in self.cable.rule_params else self.path)
        if snapshot and snapshot not in self.snapshots:
            taken = ", ".join(self.snapshots) or "none"
            self.resolver.error(path,
                                f"the rule of '{self.cable.name}' uses snapshot '{snapshot}', which no phase before "
                                f"its update takes{did_you_mean(snapshot, self.snapshots)} (snapshots taken: {taken})")
        signal = self.resolver.signal(text, path, f"the {role} factor of '{self.cable.name}' reads",
                                      default=default, snapshot=snapshot or None)
        return signal or Signal(text.partition(".")[0], default or "?", snapshot)

    def _sized(self, signal, want, role):
        comp = self.resolver.components.get(signal.component)
        if comp and comp.size != want:
            self.resolver.error(self.path + (role,), f"{role} factor '{signal}' has size {comp.size}; cable "
                                f"'{self.cable.name}' needs {want}")
        return signal

    def pre(self, text=None, snapshot=None, role="pre"):
        """The presynaptic factor: ``text`` or the cable's source (``role``: the parameter naming it)."""
        signal = self.ref(text, role, snapshot=snapshot) if text else Signal(
            self.cable.source.component, self.cable.source.compartment, snapshot)
        return self._sized(signal, self.cable.shape[1], role)

    def post(self, text=None, snapshot=None, role="post"):
        """The postsynaptic factor: ``text`` or the output of the cable's destination."""
        signal = self.ref(text or self.destination, role, snapshot=snapshot)
        return self._sized(signal, self.cable.shape[0], role)


    def equation(self, dW, names, db=None, where=None):
        """The Update keyword arguments of ΔW = ``dW`` (and Δb = ``db``), ``names`` binding signals and
        numbers. ``where``: the rule parameters holding the strings when a user wrote them, so that
        problems are reported inside them; a library rule's equations are the library's own."""
        rows, cols = self.cable.shape
        if any(isinstance(v, Signal) and v.component not in self.resolver.components for v in names.values()):
            return None   # a reference that did not resolve, reported where it was written
        numbers = {n: self.resolver.constant(self.path + ("constants", n), n, v)
                   for n, v in names.items() if not isinstance(v, Signal)}
        if None in numbers.values():
            return None
        others = {n: (Weight(n), ("matrix", *c.shape)) for n, c in self.resolver.cables.items()
                  if c.transform in ("dense", "fixed") and n != self.cable.name and n not in self.resolver.components}
        scope = equations.Scope({**others, "W": (Weight(), ("matrix", rows, cols)),
                                 **{n: (v, ("batch", self.resolver.components[v.component].size))
                                    for n, v in names.items() if isinstance(v, Signal)},
                                 **{n: (c, equations.SCALAR) for n, c in numbers.items()}},
                                self._component)
        lowered = {}
        for role, text in (("dW", dW), ("db", db)):
            if text is None:
                continue
            try:
                node, shape, shapes = equations.parse(text, scope)
                lowered.update(self._checked(role, node, shape, shapes))
            except equations.ExpressionError as exc:
                if where is None:   # a library rule's equation fails only when its factors did, reported above
                    if not self.resolver.diagnostics:
                        raise
                    return None
                self.resolver.error_inside(self.path + (where[role],), exc.offset, f"{role}: {exc.message}")
                return None
        if db is None and self.cable.opts.get("bias") and any(isinstance(t, Expression) for t in lowered["terms"]):
            self.resolver.error(self.path + (where["dW"],) if where else self.path,
                                f"cable '{self.cable.name}' has a bias, and part of its dW is not an outer product "
                                "(which would give the bias its mean post factor): write its db too, e.g. "
                                "db: mean(post)")
        return lowered


    def _component(self, text):
        signal, problem = self.resolver.lookup(text, f"the equation of '{self.cable.name}' reads")
        if problem:
            raise KeyError(problem)
        return signal, self.resolver.components[signal.component].size

    def _checked(self, role, node, shape, shapes):
        rows, cols = self.cable.shape
        if role == "dW":
            if shape != ("matrix", rows, cols):
                hint = "; outer(post, pre) makes one" if shape[0] in ("batch", "units") else ""
                raise equations.ExpressionError(0, f"is {equations.describe(shape)}, but cable "
                                                   f"'{self.cable.name}' has ({rows} × {cols}) weights{hint}")
            return updates.lower(node, shapes)
        if shape not in (("batch", rows), ("units", rows)):
            raise equations.ExpressionError(0, f"is {equations.describe(shape)}, but the bias of "
                                               f"'{self.cable.name}' has {rows} units")
        return {"db": Mean(node) if shape[0] == "batch" else node}


def resolve(data, smap, base_dir="."):
    """Resolve a schema-valid spec; returns (Circuit or None, diagnostics)."""
    resolver = Resolver(data, smap, os.path.abspath(base_dir))
    circuit = resolver.run()
    return circuit, resolver.diagnostics
