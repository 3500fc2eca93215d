"""The executor: owns a model's parameters, buffers and kernels, and runs routines on batches."""
from __future__ import annotations

import time

import numpy as np

from ..compiler.expressions import scheduled_value
from ..compiler.ops import Signal
from . import codegen, compile_ahead, kernels, optimizers, streams
from .inplace import Allocator, all_finite
from .interpreter import Interpreter, Trial


class Divergence(Exception):
    """A value became NaN or Inf; the message names where (component or cable, phase, step)."""


#: init distribution -> (rng, shape, scale) -> array
INITIALIZERS = {
    "constant": lambda rng, shape, scale: np.full(shape, scale),
    "normal": lambda rng, shape, scale: scale * rng.standard_normal(shape),
    "uniform": lambda rng, shape, scale: rng.uniform(-scale, scale, shape),
    # uniform with variance 2 / (fan_in + fan_out), times scale
    "xavier": lambda rng, shape, scale: rng.uniform(-1, 1, shape) * scale * np.sqrt(6.0 / (shape[0] + shape[-1])),
}


def precision(sigma, out):
    """The inverse of ``sigma``'s symmetric part with its diagonal raised to at least 1: a learned
    covariance's precision, in float64 whatever the plan's. The floor is ngc-learn's: no unit's
    variance is taken below 1. It bounds the diagonal only: strongly correlated errors can still make
    the matrix singular (``numpy.linalg.LinAlgError``) or its inverse large."""
    sym = 0.5 * (sigma + sigma.T).astype(np.float64)
    np.fill_diagonal(sym, np.maximum(np.diagonal(sym), 1.0))
    out[...] = np.linalg.inv(sym)


#: derived weights: what a cable carries instead of the weights it (or its owner) learns (``derive:``),
#: recomputed in place after each update
DERIVED = {"sign": lambda w, out: np.sign(w, out=out), "precision": precision}


def lattice_distances(rows, cols):
    """The squared distances between the places of a rows × cols grid, numbered row by row."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return (r[:, None] - r[None, :]) ** 2.0 + (c[:, None] - c[None, :]) ** 2.0


def init_parameters(plan, rng, dtype, allocate, samples=None):
    """Initial parameter arrays, drawn in name order from ``rng``, placed by ``allocate``; a
    ``samples`` initialisation takes its rows from the training examples ``samples``; derived
    weights are computed from their owners (drawing nothing)."""
    def draw(p):
        if p.dist == "samples":   # rows at distinct examples while there are enough of them
            rows = rng.choice(len(samples), p.shape[0], replace=len(samples) < p.shape[0])
            return p.scale * samples[rows].reshape(p.shape)
        if p.dist == "lattice":
            return p.scale * lattice_distances(*p.lattice)
        return INITIALIZERS[p.dist](rng, p.shape, p.scale)
    params = {name: allocate.copy((draw(p) + p.offset) * connections(p.shape, p.mask), dtype)
              for name, p in plan.parameters.items() if not p.derived}
    for name, p in plan.parameters.items():
        if p.derived:
            params[name] = allocate.zeros(p.shape, dtype)
    derive_weights(plan, params)
    return {name: params[name] for name in plan.parameters}


def derive_weights(plan, params, owners=None):
    """Recompute the derived weights (of the ``owners`` given, or all) from their owners'; a function
    with no value at the owner's weights (a singular covariance) raises :class:`Divergence`."""
    for name, p in plan.parameters.items():
        function, owner = p.derived or (None, None)
        if function and (owners is None or owner in owners):
            try:
                DERIVED[function](params[owner], params[name])
            except np.linalg.LinAlgError:
                raise Divergence(f"'{name}' cannot be derived: the {function} of '{owner}' does not exist "
                                 f"(its weights became singular); lower the learning rate of '{owner}'") from None


def connections(shape, mask):
    """1 where a masked (lateral) cable has a connection, 0 where it has none."""
    if not mask:
        return 1.0
    mask = dict(mask)
    i, j = np.indices(shape)
    keep = np.ones(shape, dtype=bool)
    if mask.get("zero_diagonal"):
        keep &= i != j
    if "groups" in mask:
        size = shape[0] // mask["groups"]
        keep &= i // size == j // size
    if "band" in mask:
        keep &= np.abs(i - j) <= mask["band"]
    return keep.astype(float)


class Executor:
    """Runs the routines of a plan; ``jit=False`` runs the same generated code in Python (the reference),
    ``interpret=True`` runs the plan's operators one by one in NumPy instead (an independent reference).

    ``samples`` (training inputs, one row each) serve the parameters initialised from data."""

    def __init__(self, plan, widths, jit=True, samples=None, interpret=False):
        self.plan, self.widths, self.jit = plan, widths, jit and not interpret
        self.dtype = np.dtype(plan.dtype)
        self.source, self.kernels, _ = codegen.generate(plan)
        self.source_hash = kernels.digest(self.source)
        self.kernel_cache = "none"   # set by warm_up: "warm" when every kernel came from numba's cache
        self.interpreter = Interpreter(plan) if interpret else None
        self.functions = {} if interpret else kernels.load(self.source, [k.name for k in self.kernels.values()],
                                                             self.jit)
        self.allocate = Allocator()
        self.params = init_parameters(plan, np.random.default_rng(plan.seed), self.dtype, self.allocate, samples)
        learnable = {n: self.params[n] for n, p in plan.parameters.items() if p.learnable}
        self.grads = {n: self.allocate.zeros(a.shape, a.dtype) for n, a in learnable.items()}
        self.optimizer = optimizers.make(plan.train["optimizer"], learnable)
        self.lr_scale = 1.0   # train.lr_decay's factor for the epoch being trained
        self.epoch = (0, plan.train["epochs"])   # (epoch being trained, train.epochs): scheduled constants' point
        self.derived_owners = {p.derived[1] for p in plan.parameters.values() if p.derived}
        # parameters a training phase changes inside its steps (its `learn`): the kernel writes them
        self.plastic = sorted({n for segment in plan.routines["train"].segments for phase in segment.phases
                               for up, _ in phase.learn for n in (up.weight, up.bias) if n})
        self.consts = {k.name: np.array(k.consts, dtype=self.dtype) for k in self.kernels.values()}
        self.steps = {key: np.array([p.steps for p in plan.routines[key[0]].segments[key[1]].phases], dtype=np.int64)
                      for key in self.kernels}
        self.masks = {n: connections(p.shape, p.mask).astype(self.dtype) for n, p in plan.parameters.items() if p.mask}
        # steps each phase took in the last run (phases with a tolerance stop early), and the running
        # totals of the training trials' settling phases: phase name -> [steps, trials]
        self.taken = {key: np.zeros_like(steps) for key, steps in self.steps.items()}
        self.settled = {}
        # (seed, trial): every run of a routine on a batch is a new trial and draws new numbers. The
        # training trials count apart from the rest, so predicting between batches changes no training draw.
        self.draw = np.array([plan.seed, 0], dtype=np.int64)
        self.predict_draw = np.array([plan.seed, 0], dtype=np.int64)
        # persistent states: one row per example of a training batch, carried from trial to trial;
        # schedule.predict computes them in buffers of its own
        self.chains = {s: self.allocate.zeros((plan.data["batch"], plan.signals[s]), self.dtype) for s in sorted(plan.persistent, key=str)}
        self._buffers, self._temps, self._bound_args = {}, {}, {}
        self.streams = {r: sorted({w for k in self.kernels.values() if k.routine == r for kind, w in k.args if kind == "stream"})
                        for r in plan.routines}   # routine -> the derived streams its kernels read
        # schedule.predict may try every label: its one-unit readout scores each candidate class
        self.candidates = bool(streams.candidates(plan.data["streams"], self.streams.get("predict", ())))
        self.compile_seconds = None

    # ---- buffers ------------------------------------------------------------------------
    def buffers(self, batch):
        if batch not in self._buffers:
            self._buffers[batch] = {s: self.allocate.zeros((batch, size), self.dtype)
                                    for s, size in self.plan.signals.items()}
        return self._buffers[batch]

    def warm_up(self):
        """Compile every kernel (or load it from numba's cache); returns the seconds it took."""
        start = time.perf_counter()
        y = np.zeros((1, self.widths[1]), self.dtype)
        saved = {n: g.copy() for n, g in self.grads.items()}
        plastic = {n: self.params[n].copy() for n in self.plastic}
        chains = {s: a.copy() for s, a in self.chains.items()}
        trials = int(self.draw[1]), int(self.predict_draw[1])
        misses = self._cache_misses()
        helper = self._compile_ahead(y)
        try:
            for routine in sorted(self.plan.routines, key=lambda r: r != "train"):
                if routine != "train":
                    compile_ahead.finish(helper)   # its kernels are in numba's cache now (or compile here)
                self._run(routine, np.zeros((1, self.x_width(routine)), self.dtype), y)
        except Exception:  # noqa: BLE001 — a damaged numba cache fails in many ways; compile afresh once
            compile_ahead.finish(helper)
            if self.interpreter is not None:
                raise
            self.functions = kernels.reload(self.source, list(self.functions), self.jit)
            for routine in self.plan.routines:
                self._run(routine, np.zeros((1, self.x_width(routine)), self.dtype), y)
        if self.jit:
            self._warm_up_helpers()
        for n, g in saved.items():
            self.grads[n][...] = g
        for n, p in plastic.items():
            self.params[n][...] = p
        for s, a in chains.items():
            self.chains[s][...] = a
        self.draw[1], self.predict_draw[1] = trials
        self.compile_seconds = time.perf_counter() - start
        if self.jit:   # compiled now, rather than loaded from numba's cache (or this process) = cold
            self.kernel_cache = "cold" if self._cache_misses() > misses else "warm"
        return self.compile_seconds

    def x_width(self, routine):
        """How wide a routine's data.x is: the data's, or for schedule.sample the state its draws clamp."""
        return self.plan.components[self.plan.prior["state"]]["size"] if routine == "sample" else self.widths[0]

    def _compile_ahead(self, y):
        """Start compiling, in a second process, the kernels after schedule.train's that numba's cache
        lacks (see :mod:`runtime.compile_ahead`); None when there are none or nothing to spare."""
        if not self.jit or self.interpreter is not None:
            return None
        path = kernels.source_path(self.source)
        later = {}
        for kernel in self.kernels.values():
            if kernel.routine != "train" and not compile_ahead.compiled(path, kernel.name):
                x = np.zeros((1, self.x_width(kernel.routine)), self.dtype)
                described = compile_ahead.argument_types(self._args(kernel, 1, x, y))
                if described is not None:
                    later[kernel.name] = described
        return compile_ahead.start(path, later)

    def _warm_up_helpers(self):
        """Compile (or load) the optimizer's step and the finiteness check for each parameter shape
        class, on scratch arrays: the first batch then compiles nothing, and compile time says so."""
        applied = {self.grads[n].ndim for segment in self.plan.routines["train"].segments
                   for up in segment.applied for n in (up.weight, up.bias) if n}
        ndims = sorted({g.ndim for g in self.grads.values()} | {2})     # 2: predict's readout
        scratch = {f"scratch{d}": np.zeros((1,) * d, self.dtype) for d in ndims}
        optimizer = optimizers.make(self.plan.train["optimizer"], scratch)
        for name, array in scratch.items():
            all_finite(array)
            if array.ndim in applied:   # a circuit whose phases change every weight itself never steps
                optimizer.step(name, array, array, None)

    def _cache_misses(self):
        """How many times numba compiled these kernels so far in this process (not found in its cache)."""
        return sum(sum(f.stats.cache_misses.values()) for f in self.functions.values()) if self.jit else 0

    def _args(self, kernel, batch, x, y, bufs=None, grads=None):
        """A kernel's arguments in order (``bufs`` and ``grads`` default to the executor's own)."""
        if bufs is None:
            bufs = self.buffers(batch)
            if kernel.routine == "train" and self.chains:
                bufs = {**bufs, **{s: self.chain_rows(s, batch) for s in self.chains}}
        grads = self.grads if grads is None else grads
        source = {"data": lambda w: x if w == "x" else y, "steps": lambda w: self.steps[(kernel.routine, kernel.segment)],
                  "taken": lambda w: self.taken[(kernel.routine, kernel.segment)],
                  "consts": lambda w: self.consts[kernel.name], "draw": lambda w: self._counter(kernel.routine),
                  "stream": lambda w: self.temp((f"stream {w}", 0, self.stream_width(w)), batch),
                  "signal": bufs.__getitem__, "param": self.params.__getitem__, "grad": grads.__getitem__,
                  "partial": self.partial,
                  "temp": lambda w: self.temp(w, batch)}
        return [source[kind](what) for kind, what in kernel.args]

    def partial(self, name):
        """Scratch shaped like parameter ``name``: where a phase forms the ΔW it adds to the trial's."""
        key = ("partial", name)
        if key not in self._temps:
            self._temps[key] = self.allocate.zeros(self.params[name].shape, self.dtype)
        return self._temps[key]

    def stream_width(self, name):
        return self.widths[0 if streams.source(self.plan.data["streams"], name) == "x" else 1]

    def chain_rows(self, signal, batch):
        """The first ``batch`` rows of a persistent state (a view: the trial writes them in place)."""
        chain = self.chains[signal]
        if batch > len(chain):
            raise ValueError(f"'{signal.component}' is a persistent state with one row per example of a training "
                             f"batch ({len(chain)}); a training trial takes at most that many examples, not {batch}")
        return chain[:batch]

    def temp(self, spec, batch):
        """Scratch space of a kernel: (name, rows, cols), rows or cols 0 meaning the batch size (cols:
        a matrix over pairs of examples)."""
        name, rows, cols = spec
        key = (name, rows or batch, cols or batch)
        if key not in self._temps:
            self._temps[key] = self.allocate.zeros(key[1:], self.dtype)
        return self._temps[key]

    def _bound(self, kernel, batch):
        """A kernel's arguments after the two data arrays: persistent arrays, bound once per batch size."""
        key = (kernel.name, batch)
        if key not in self._bound_args:
            self._bound_args[key] = self._args(kernel, batch, None, None)[2:]
        return self._bound_args[key]

    def _counter(self, routine):
        """The (seed, trial) array a routine's kernels draw with."""
        return self.draw if routine == "train" else self.predict_draw

    def _run(self, routine, x, y, apply=None, candidate=0):
        bufs = self.buffers(len(x))  # the plan zeroes what a trial must start from
        plan = self.plan.routines[routine]
        draw = self._counter(routine)
        draw[1] += 1   # before the run: a diagnosis re-runs a failed trial with the same numbers
        self._derive_streams(routine, x, y, candidate)
        for index, segment in enumerate(plan.segments):
            self._segment(self.kernels[(routine, index)], x, y)
            if segment.applied and apply is not None:
                apply(segment)
        return bufs

    def _derive_streams(self, routine, x, y, candidate=0):
        """Draw the derived data streams ``routine`` reads for this trial (the every-label stream holds
        ``candidate``'s label)."""
        draw = self._counter(routine)
        for name in self.streams[routine]:
            streams.derive(self.plan.data["streams"], name, int(draw[0]), int(draw[1]), x, y,
                           self.temp((f"stream {name}", 0, self.stream_width(name)), len(x)), candidate)

    def _segment(self, kernel, x, y):
        """Run one segment: its generated kernel, or the interpreter on the same buffers."""
        if self.interpreter is None:
            self.functions[kernel.name](x, y, *self._bound(kernel, len(x)))
            return
        bufs = self.buffers(len(x))
        if kernel.routine == "train" and self.chains:
            bufs = {**bufs, **{s: self.chain_rows(s, len(x)) for s in self.chains}}
        derived = {w: self.temp((f"stream {w}", 0, self.stream_width(w)), len(x)) for w in self.streams[kernel.routine]}
        trial = Trial(self.plan, bufs, self.params, self.grads, x, y, self._counter(kernel.routine), derived, self.epoch)
        key = (kernel.routine, kernel.segment)
        with np.errstate(all="ignore"):   # a non-finite value is found by the checks that follow, as with kernels
            self.interpreter.run(kernel.routine, kernel.segment, trial, self.steps[key], self.taken[key])

    # ---- public -------------------------------------------------------------------------
    def start_epoch(self, epoch, lr_scale=1.0):
        """Set what changes from epoch to epoch: the learning rates' decay and the scheduled constants."""
        self.lr_scale, self.epoch = lr_scale, (epoch, self.plan.train["epochs"])
        for kernel in self.kernels.values():
            for index, schedule in kernel.schedules:
                self.consts[kernel.name][index] = scheduled_value(schedule, *self.epoch)

    def train_batch(self, x, y):
        """One trial of schedule.train on a batch, applying each update through the optimizer."""
        def apply(segment):
            names = [n for up in segment.applied for n in (up.weight, up.bias) if n]
            for name in names:
                if not all_finite(self.grads[name]):
                    raise Divergence(self.diagnose("train", x, y, name))
            for name in names:
                lr = (self.plan.parameters[name].lr or self.optimizer.lr) * self.lr_scale
                self.optimizer.step(name, self.params[name], self.grads[name], lr)
                if name in self.masks:
                    self.params[name] *= self.masks[name]
            if self.derived_owners.intersection(names):
                derive_weights(self.plan, self.params, names)
        self._run("train", x, y, apply)
        for name in self.plastic:
            if not all_finite(self.params[name]):
                raise Divergence(f"'{name}', which a phase of schedule.train changes after every step (learn), "
                                 "became NaN or Inf; lower its learning rate")
        for index, segment in enumerate(self.plan.routines["train"].segments):
            for p, phase in enumerate(segment.phases):
                if phase.tolerance and phase.steps:
                    total = self.settled.setdefault(phase.name, [0, 0])
                    total[0] += int(self.taken[("train", index)][p])
                    total[1] += 1

    def settling_steps(self) -> dict:
        """Mean steps per training trial of each phase that settles to a tolerance, since the last
        call: {'steps_<phase>': mean}."""
        report = {f"steps_{name}": steps / trials for name, (steps, trials) in self.settled.items() if trials}
        self.settled = {}
        return report

    def predict_batch(self, x, y=None, reads=None):
        """Run schedule.predict and return a copy of its readout (or of each signal of ``reads``, for the
        first candidate label when it tries every label): one score per class when it tries every label."""
        y = self.temp(("no targets", len(x), self.widths[1]), len(x)) if y is None else y
        read = self.plan.routines["predict"].read
        if self.candidates and reads is None:
            out = np.empty((len(x), self.widths[1]), self.dtype)
            for candidate in range(self.widths[1]):
                out[:, candidate] = self._run("predict", x, y, candidate=candidate)[read][:, 0]
        else:
            bufs = self._run("predict", x, y)
            if reads is not None:
                return [bufs[s].copy() for s in reads]
            out = bufs[read].copy()
        if not all_finite(out):
            raise Divergence(self.diagnose("predict", x, y, None))
        return out

    def encode_batch(self, x, y, signal):
        """Run schedule.encode on a batch and return a copy of ``signal`` where it leaves it."""
        return self._run("encode", x, y)[signal].copy()

    def sample_batch(self, draws):
        """Run schedule.sample on draws of the prior (one row per sample, as wide as the state it clamps)
        and return a copy of what it reads."""
        y = self.temp(("no targets", len(draws), self.widths[1]), len(draws))
        out = self._run("sample", draws, y)[self.plan.routines["sample"].read].copy()
        if not all_finite(out):
            raise Divergence(self.diagnose("sample", draws, y, None))
        return out

    def energies(self, x, y):
        """Each example's energy once a trial of schedule.train has settled, Σ over the error components
        of ½·precision·‖target − mu‖², leaving nothing changed: no weight, ΔW, chain, step count or
        random draw of training differs afterwards."""
        errors = {Signal(n, "e"): c["precision"] for n, c in self.plan.components.items() if c["kind"] == "error"}
        grads = {n: g.copy() for n, g in self.grads.items()}
        plastic = {n: self.params[n].copy() for n in self.plastic}
        chains = {s: a.copy() for s, a in self.chains.items()}
        trial, taken = int(self.draw[1]), {k: t.copy() for k, t in self.taken.items()}
        try:
            bufs = self._run("train", x, y)
            return sum(0.5 * np.sum(np.square(bufs[e], dtype=np.float64), axis=1) / precision
                       for e, precision in errors.items())
        finally:
            for store, saved in ((self.grads, grads), (self.params, plastic), (self.chains, chains), (self.taken, taken)):
                for n, a in saved.items():
                    store[n][...] = a
            self.draw[1] = trial

    def updates(self, x, y):
        """The ΔW (and Δb) that one trial of schedule.train forms on a batch, without applying them; for
        a parameter a phase changes every step (learn), the change the trial makes, then undone."""
        before = {n: self.params[n].copy() for n in self.plastic}
        self._run("train", x, y)
        out = {n: g.copy() for n, g in self.grads.items()}
        for n, p in before.items():
            out[n] = self.params[n] - p
            self.params[n][...] = p
        return out

    def error_energy(self, x, y, routine="train"):
        """The energy of the error components, Σ ½·precision·‖target − mu‖² (batch mean), after
        0, 1, …, T steps of the last phase of ``routine``'s first segment: how settling lowers it.
        ΔW is formed on the way (into the gradient buffers) but never applied."""
        errors = {Signal(n, "e"): c["precision"] for n, c in self.plan.components.items() if c["kind"] == "error"}
        traced = self.trace(routine, x, y, list(errors))   # e = precision·(target − mu)
        steps = len(next(iter(traced.values()))) if traced else 0
        return np.array([sum(0.5 * float(np.sum(np.square(traced[e][t], dtype=np.float64))) / precision
                             for e, precision in errors.items()) / len(x) for t in range(steps)])

    def trace(self, routine, x, y, signals):
        """Each of ``signals`` after 0, 1, …, T steps of the last phase of ``routine``'s first segment:
        signal -> (T + 1, examples, size). Each prefix runs from the same start and leaves nothing behind
        (chains, ΔW buffers, weights a phase changes every step)."""
        kernel = self.kernels[(routine, 0)]
        steps = self.steps[(routine, 0)]
        last, planned = len(steps) - 1, steps.copy()
        out = {s: [] for s in signals}
        chains = {s: a.copy() for s, a in self.chains.items()}   # each prefix starts from the same chain
        grads = {n: g.copy() for n, g in self.grads.items()}     # and nothing of it stays behind
        plastic = {n: self.params[n].copy() for n in self.plastic}
        self._derive_streams(routine, x, y)   # for these examples (the first candidate label, where it tries every one)
        try:
            for t in range(int(planned[last]) + 1):
                steps[last] = t
                for s, a in chains.items():
                    self.chains[s][...] = a
                for n, p in plastic.items():
                    self.params[n][...] = p
                self._segment(kernel, x, y)
                bufs = self.buffers(len(x))
                for s in signals:
                    out[s].append(bufs[s].copy())
        finally:
            steps[...] = planned
            for s, a in chains.items():
                self.chains[s][...] = a
            for n, g in grads.items():
                self.grads[n][...] = g
            for n, p in plastic.items():
                self.params[n][...] = p
        return {s: np.array(v) for s, v in out.items()}

    def diagnose(self, routine, x, y, parameter):
        """Re-run a routine in the checked reference code and say where a value first became non-finite."""
        source, kernels_, codes = codegen.generate(self.plan, checks=True)
        functions = kernels.load(source, [k.name for k in kernels_.values()], jit=False)
        bufs = {s: np.zeros_like(a) for s, a in self.buffers(len(x)).items()}
        if routine == "train":   # the failed trial started from the chains as they are
            bufs.update({s: self.chain_rows(s, len(x)).copy() for s in self.chains})
        grads = {n: np.zeros_like(g) for n, g in self.grads.items()}
        plastic = {n: self.params[n].copy() for n in self.plastic}   # the re-run must not learn twice
        try:
            with np.errstate(all="ignore"):
                for index, _ in enumerate(self.plan.routines[routine].segments):
                    kernel = kernels_[(routine, index)]
                    code, step = functions[kernel.name](*self._args(kernel, len(x), x, y, bufs, grads))
                    if code:
                        what, phase = codes[(routine, index)][code - 1]
                        return f"{what} became NaN or Inf in phase '{phase}' of schedule.{routine} at step {step}"
        finally:
            for n, p in plastic.items():
                self.params[n][...] = p
        if parameter:
            return f"the update of '{parameter}' became NaN or Inf (the circuit's values stayed finite)"
        return f"the readout of schedule.{routine} became NaN or Inf"

    def state(self):
        """Parameters and optimizer state as name -> array (what a checkpoint holds)."""
        out = {f"param/{n}": a for n, a in self.params.items()}
        out.update({f"optimizer/{n}": a for n, a in self.optimizer.state().items()})
        if self.plan.draws:   # resuming draws the numbers the uninterrupted run would have
            out["counter/trial"] = self.draw[1:]
            out["counter/predict"] = self.predict_draw[1:]
        out.update({f"chain/{s}": a for s, a in self.chains.items()})
        return out

    def load_state(self, arrays):
        for n in self.params:
            self.params[n][...] = arrays[f"param/{n}"]
        derive_weights(self.plan, self.params)
        self.optimizer.load_state({k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")})
        if "counter/trial" in arrays:
            self.draw[1:] = arrays["counter/trial"]
        if "counter/predict" in arrays:
            self.predict_draw[1:] = arrays["counter/predict"]
        for s, a in self.chains.items():
            a[...] = arrays[f"chain/{s}"]
