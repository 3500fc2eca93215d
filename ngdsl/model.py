"""The Python face of a compiled spec: ``load`` → :class:`Model` with fit / predict / evaluate."""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from .compiler import Compiled, compile_file
from .compiler.language import INPUT_METRICS, PRIOR_METRICS, SETTLED_METRICS
from .runtime import METRICS, Dataset, Divergence, Executor
from .runtime.metrics import HIGHER_IS_BETTER, best_epoch
from .runtime.mixture import GaussianMixture
from .runtime.threads import thread_policy, thread_setting


class Model:
    """A compiled circuit with its parameters, data and optimizer, ready to train."""

    def __init__(self, compiled: Compiled, jit: bool = True, threads=None, interpret: bool = False):
        self.compiled = compiled
        self.threads = thread_setting(threads, compiled.plan.train.get("threads"))
        self._threads = thread_policy(self.threads)
        self.plan = compiled.plan
        self.graph = compiled.graph
        base = compiled.circuit.base_dir
        self.data = Dataset(self.plan.data, self.plan.seed, base, self.plan.dtype)
        samples = self.data.x_train.reshape(len(self.data.x_train), -1)
        self.executor = Executor(self.plan, compiled.circuit.data_widths, jit=jit, samples=samples, interpret=interpret)
        self.rng = np.random.default_rng(self.plan.seed + 1)
        self.epoch = 0
        self.history = []
        self.best = None       # with train.keep_best: (epoch, validation value, a copy of the state) of the best epoch
        self.stopped = False   # train.stop_after epochs passed without a better one
        self.prior = None      # schedule.sample's prior as last fitted (fit_prior)
        self._prior_fitted_to = None   # the _model_key it was fitted to
        self._evaluated = None         # (the _model_key, the metrics evaluate returned for it)
        self.warnings = _range_warnings(self.data)
        self.compile_seconds = self.executor.warm_up()

    @property
    def threads_in_use(self) -> int:
        """BLAS threads the next training batch runs on (what ``threads="auto"`` has chosen so far)."""
        return self._threads.count

    @property
    def weights(self) -> dict:
        """The model's parameters by name (cable name, or ``cable.bias``); live arrays."""
        return self.executor.params

    def fit(self, epochs=None, on_epoch=None, on_batch=None):
        """Train for ``epochs`` (default: the spec's), fewer when ``train.stop_after`` epochs pass without a
        better validation value; with ``train.keep_best`` the model ends with its best epoch's weights.
        Returns the per-epoch metric history (every epoch's, the best kept or not)."""
        epochs = self.plan.train["epochs"] if epochs is None else epochs
        last = self.epoch + epochs
        for _ in range(epochs):
            if self.stopped:
                break
            self.train_epoch(on_epoch, on_batch, measure=self.measures(self.epoch + 1, last))
        self.settle_on_best()
        return self.history

    def measures(self, epoch: int, last: int) -> bool:
        """Whether epoch ``epoch`` (counted from 1) of a run ending after epoch ``last`` measures the
        metrics: every ``train.evaluate_every`` epochs, and the last."""
        return epoch % self.plan.train.get("evaluate_every", 1) == 0 or epoch >= last

    def train_epoch(self, on_epoch=None, on_batch=None, measure=True) -> dict:
        """One pass over the training set; records and returns the epoch's metrics (with ``measure``, else
        its time alone), and tracks the best."""
        self.executor.start_epoch(self.epoch, self.lr_scale(self.epoch))
        with self._threads.working():
            start = time.perf_counter()
            for x, y in self.data.batches(self.rng):
                with self._threads.batch(len(x)):
                    self.executor.train_batch(x, y)
                if on_batch:
                    on_batch()
            record = {"epoch": self.epoch + 1, "seconds": time.perf_counter() - start,
                      **self.executor.settling_steps(), **(self.evaluate() if measure else {})}
        broken = [k for k, v in record.items() if not np.isfinite(v)]
        if broken:
            raise Divergence(f"the metric '{broken[0]}' became NaN or Inf in epoch {self.epoch + 1}")
        self.epoch += 1
        self.history.append(record)
        self._track_best(record)
        if on_epoch:
            on_epoch(record)
        return record

    def lr_scale(self, trained: int) -> float:
        """What train.lr_decay multiplies the learning rates by once ``trained`` epochs are done."""
        decay = self.plan.train.get("lr_decay")
        if not decay:
            return 1.0
        done = sum(trained >= e for e in decay["at"]) if "at" in decay else trained // decay["every"]
        return float(decay["factor"]) ** done

    def _track_best(self, record):
        metric = self.plan.train.get("keep_best")
        if metric is None:
            return
        value = record.get(f"validation_{metric}")
        if value is None:   # an epoch that train.evaluate_every leaves unmeasured
            return
        if self.best is None or (value > self.best[1] if HIGHER_IS_BETTER[metric] else value < self.best[1]):
            self.best = (self.epoch, value, {k: a.copy() for k, a in self.executor.state().items()})
        elif self.epoch - self.best[0] >= self.plan.train.get("stop_after", self.plan.train["epochs"] + 1):
            self.stopped = True

    def settle_on_best(self):
        """With ``train.keep_best``, take the weights (and optimizer state) of the best validation epoch."""
        if self.best is not None and self.best[0] != self.epoch:
            self.executor.load_state(self.best[2])

    def _examples(self, values, which, rows=None):
        """``values`` as a contiguous (examples, width) array of the plan's dtype, where width is
        that of data.x or data.y (``which`` 0 or 1); one example may be given as a vector, image
        examples in their own shape. Anything else is a ValueError naming the expected shape."""
        width = self.executor.widths[which]
        name = ("x", "y")[which]
        array = np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold numbers, not {array.dtype}")
        if array.ndim == 1 and array.size == width:
            array = array[None, :]
        if array.ndim < 2 or int(np.prod(array.shape[1:])) != width:
            raise ValueError(f"{name} must have shape (examples, {width}): one row of {width} values per example; "
                             f"got shape {array.shape}")
        if rows is not None and len(array) != rows:
            raise ValueError(f"{name} has {len(array)} examples but x has {rows}")
        array = np.ascontiguousarray(array.reshape(len(array), width), dtype=self.executor.dtype)
        if not np.all(np.isfinite(array)):
            row, column = np.argwhere(~np.isfinite(array))[0]
            raise ValueError(f"{name} holds NaN or Inf (first at example {row}, column {column})")
        return array

    def predict(self, x) -> np.ndarray:
        """Readout of schedule.predict for inputs ``x`` (rows are samples)."""
        x = self._examples(x, 0)
        with self._threads.working():
            outs = [self.executor.predict_batch(xb) for xb, _ in self.data.batches(
                self.rng, x, np.zeros((len(x), 1)), shuffle=False)]
        return np.concatenate(outs) if outs else np.zeros((0, 0))

    def activity(self, x, *names) -> dict:
        """Compartments (``"h"``, ``"vr.phi"``, ``"h.s"``) as schedule.predict leaves them for inputs
        ``x``: name -> (examples, size) array. Hidden features for a classifier of your own, or a
        reconstruction to compare with ``x``."""
        signals = [self._signal(name) for name in names]
        x = self._examples(x, 0)
        with self._threads.working():
            parts = [self.executor.predict_batch(xb, reads=signals) for xb, _ in self.data.batches(
                self.rng, x, np.zeros((len(x), 1)), shuffle=False)]
        return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}

    def trace(self, x, *names, y=None) -> dict:
        """Compartments after every step of schedule.predict's last settling phase, for inputs ``x``
        (one batch; ``y`` where schedule.predict clamps data.y): name -> (steps + 1, examples, size),
        from the phase's start to its end. Each step count is run afresh from the start, so this
        costs steps² / 2 steps: for a look at a few hundred steps (spikes, membrane potentials,
        settling), not for long runs."""
        signals = [self._signal(name) for name in names]
        x = self._examples(x, 0)
        y = np.zeros((len(x), self.executor.widths[1]), self.executor.dtype) if y is None else self._examples(y, 1, len(x))
        with self._threads.working():
            traced = self.executor.trace("predict", x, y, signals)
        return {name: traced[s] for name, s in zip(names, signals)}

    def fit_prior(self) -> GaussianMixture:
        """Fit the prior schedule.sample draws from: a Gaussian mixture over the values schedule.encode
        (else schedule.predict) leaves in the state it draws, on the training examples."""
        if not self.plan.prior:
            raise ValueError("this spec has no schedule.sample, so nothing draws from a prior")
        state, fitted_to = self.plan.prior["state"], self._model_key()
        routine = "encode" if "encode" in self.plan.routines else "predict"
        if routine == "encode":
            signal, d = self._signal(f"{state}.z"), self.data
            with self._threads.working():
                settled = np.concatenate([self.executor.encode_batch(xb, yb, signal) for xb, yb in d.batches(
                    self.rng, d.x_train, d.y_train, shuffle=False)])
        else:
            settled = self.activity(self.data.x_train, f"{state}.z")[f"{state}.z"]
        if not np.all(np.isfinite(settled)):
            raise Divergence(f"'{state}' became NaN or Inf in schedule.{routine}, so the prior of schedule.sample "
                             "cannot be fitted; lower the learning rate or the settling step")
        self.prior = GaussianMixture.fit(settled, self.plan.prior["components"], self._prior_rng(0))
        self._prior_fitted_to = fitted_to
        return self.prior

    def sample(self, count) -> np.ndarray:
        """``count`` samples: what schedule.sample generates from draws of the prior (refitted first when
        the model has changed since it was fitted); the same draws every time, so samples change only as
        the model does."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        if self.prior is None or self._prior_fitted_to != self._model_key():
            self.fit_prior()
        return self._generate(self.prior.sample(count, self._prior_rng(1)))

    def _generate(self, draws):
        """schedule.sample's read for each row of ``draws``, batch by batch."""
        draws = np.ascontiguousarray(draws, dtype=self.plan.dtype)
        with self._threads.working():
            parts = [self.executor.sample_batch(np.ascontiguousarray(draws[start:start + self.data.batch]))
                     for start in range(0, len(draws), self.data.batch)]
        return np.concatenate(parts)

    def _prior_rng(self, use):
        """The random numbers of the prior's fit (``use`` 0) or draws (1): the same in every epoch (a
        learning curve of log_px compares epochs on the same draws) and apart from training's, so
        measuring log_px changes nothing a run draws."""
        return np.random.default_rng((self.plan.seed, 0x70726F72, use))

    def _model_key(self):
        """A digest of what the metrics and the prior depend on: the weights, the persistent states, the
        epoch when a constant is scheduled over epochs and, when what measures them draws random numbers,
        where the draws stand (a new trial draws new numbers: such a circuit is measured afresh every time)."""
        executor, plan = self.executor, self.plan
        state = [executor.params[n] for n in sorted(executor.params)]
        state += [executor.chains[s] for s in sorted(executor.chains, key=str)]
        if any(kernel.schedules for kernel in executor.kernels.values()):
            state.append(np.array(executor.epoch, dtype=np.int64))
        if any(plan.draws_in(r) for r in ("predict", "encode", "sample") if r in plan.routines):
            state.append(executor.predict_draw)
        if set(plan.metrics) & set(SETTLED_METRICS) and plan.draws_in("train"):   # energies settle schedule.train
            state.append(executor.draw)
        return hashlib.blake2b(b"".join(np.ascontiguousarray(a).tobytes() for a in state), digest_size=16).digest()

    def _samples_for_metrics(self):
        """The samples log_px holds each split against (evaluate measures once per state of the model, and
        the prior is refitted only when the model changed)."""
        return self.sample(self.plan.prior["draws"])

    def _signal(self, name):
        """The plan's signal for a compartment name; a ValueError names the ones schedule.predict computes."""
        from .compiler.ops import Signal

        component, _, compartment = name.partition(".")
        entry = self.plan.components.get(component, {})
        output = entry.get("output")
        if entry.get("kind") == "input" and compartment == "phi":   # an input's phi is its z (one buffer)
            compartment = output
        signal = Signal(component, compartment or output or "phi")
        predict = self.plan.routines.get("predict")
        phases = [phase for segment in (predict.segments if predict else ()) for phase in segment.phases]
        computed = {s for phase in phases for op in phase.setup + phase.hoisted + phase.step + phase.settle
                    for s in op.writes() if s.snapshot is None and s.compartment != "product"}
        after_steps = {s for phase in phases for op in phase.settle for s in op.writes()}   # recomputed, stored
        if any(signal in phase.scratch for phase in phases) and signal not in after_steps:
            raise ValueError(f"'{name}' lives within a step of schedule.predict and is never stored; record it "
                             "with the spec's monitors (which keep it), or load the model with optimize=False")
        if signal not in computed:
            known = ", ".join(sorted(str(s) for s in computed))
            raise ValueError(f"'{name}' is not a compartment this model computes; it has {known}")
        return signal

    def evaluate(self) -> dict:
        """The spec's metrics on the train, validation and test splits (measured again only when the model
        has changed since the last time: a frozen control's are measured once)."""
        if "predict" not in self.plan.routines or not self.plan.metrics:
            return {}
        key = self._model_key()
        if self._evaluated is None or self._evaluated[0] != key:
            self._evaluated = (key, self._measure())
        return dict(self._evaluated[1])

    def _measure(self) -> dict:
        """The spec's metrics on every split, measured now."""
        out = {}
        d = self.data
        if set(self.plan.metrics) & set(PRIOR_METRICS):
            samples = self._samples_for_metrics()
        for split, x, y in (("train", d.x_train, d.y_train), ("validation", d.x_validation, d.y_validation),
                            ("test", d.x_test, d.y_test)):
            if len(x) == 0:
                continue
            pred = self.predict(x) if set(self.plan.metrics) - set(SETTLED_METRICS) - set(PRIOR_METRICS) else None
            with np.errstate(all="ignore"):   # a metric that overflows is reported as a divergence by fit
                for metric in self.plan.metrics:
                    if metric in SETTLED_METRICS:
                        out[f"{split}_{metric}"] = METRICS[metric](self._energies(x, y), y)
                    elif metric in PRIOR_METRICS:
                        out[f"{split}_{metric}"] = METRICS[metric](samples, x)
                    else:
                        out[f"{split}_{metric}"] = METRICS[metric](pred, x if metric in INPUT_METRICS else y)
        return out

    def _energies(self, x, y):
        """Each example's settled energy under schedule.train, batch by batch (see Executor.energies)."""
        with self._threads.working():
            return np.concatenate([self.executor.energies(xb, yb) for xb, yb in self.data.batches(
                self.rng, x, y, shuffle=False)])

    def restore(self, state: dict, history: list, best_state=None):
        """Continue from a checkpoint: parameters, optimizer state and the epochs already trained (and,
        with ``train.keep_best``, the state of the best epoch among them)."""
        self.executor.load_state(state)
        self.history = list(history)
        metric = self.plan.train.get("keep_best")
        if metric and history:
            epoch, value = best_epoch(history, f"validation_{metric}", HIGHER_IS_BETTER[metric])
            self.best = (epoch, value, {k: a.copy() for k, a in (state if epoch == len(history) else best_state).items()})
            self.stopped = len(history) - epoch >= self.plan.train.get("stop_after", self.plan.train["epochs"] + 1)
        for _ in range(len(history)):  # replay the shuffles, so the next epoch sees the same batches
            if self.data.shuffle:
                self.rng.permutation(len(self.data.x_train))
        self.epoch = len(history)

    def receptive_fields(self) -> dict:
        """Each unit's weights from the image input, as images: cable name -> array (units, height,
        width), for every weighted cable from a component clamped to data.x or fed from one pixel for
        pixel (an identity cable: the pixels' spike trains). Empty unless the examples are images
        (digits, bars, image files)."""
        shape = self.data.image_shape
        if shape is None:
            return {}
        inputs = {name for entries in self.compiled.circuit.schedule.values() for entry in entries
                  for name, (source, _) in getattr(entry, "clamps", {}).items() if source.stream == "x"}
        inputs |= {target for source, target, d in self.graph.edges(data=True)
                   if source in inputs and d.get("transform") == "identity"}
        return {cable: self.weights[cable].reshape(-1, *shape)
                for source, _, cable, d in self.graph.edges(keys=True, data=True)
                if source in inputs and cable in self.weights and not d.get("transpose")
                and self.weights[cable].shape[1] == int(np.prod(shape))}

    def settling_energy(self, x, y) -> np.ndarray:
        """Σ ½·precision·‖target − mu‖² over the error components (batch mean) after 0, 1, …, T
        steps of the training trial's settling phase (the last phase of its first segment); empty
        when the circuit has no error components or the phase takes no steps."""
        phases = self.plan.routines["train"].segments[0].phases
        if not phases[-1].steps or not any(c["kind"] == "error" for c in self.plan.components.values()):
            return np.zeros(0)
        x = self._examples(x, 0)
        with self._threads.working():
            return self.executor.error_energy(x, self._examples(y, 1, len(x)))

    def updates(self, x, y) -> dict:
        """ΔW and Δb that one training trial forms on a batch (not applied)."""
        x = self._examples(x, 0)
        with self._threads.working():
            return self.executor.updates(x, self._examples(y, 1, len(x)))


#: Inputs beyond this magnitude are far outside what activations and default learning rates expect.
INPUT_RANGE = 100.0


def _range_warnings(data) -> list:
    """A warning when the inputs reach far outside the range circuits are built for."""
    x = data.x_train
    largest = float(max(x.max(), -x.min())) if x.size else 0.0   # no |x| temporary the size of the data
    if largest <= INPUT_RANGE:
        return []
    return [f"data.x reaches {largest:.4g}: inputs this large saturate activations and make learning rates "
            "behave unlike the shipped specs; scale them first (whole-number pixels 0–255 are scaled to [0, 1] "
            "automatically)"]


def load(path: str, set=None, jit: bool = True, optimize: bool = True, threads=None, interpret: bool = False) -> Model:
    """Compile the spec at ``path`` and build its model.

    ``set`` lists ``key=value`` overrides; ``jit=False`` runs the generated code in the interpreter
    (the reference executor); ``interpret=True`` runs the plan's operators one by one in NumPy (an
    independent reference: no generated code); ``optimize=False`` compiles the plan without hoisting or sharing;
    ``threads``: BLAS threads while it works, a count or ``"auto"`` (default ``$NGDSL_THREADS``, the spec's
    ``train.threads``, ``$OMP_NUM_THREADS`` and its kin, or 1: see :mod:`runtime.threads`)."""
    return Model(compile_file(os.fspath(path), set or (), optimize), jit=jit, threads=threads, interpret=interpret)
