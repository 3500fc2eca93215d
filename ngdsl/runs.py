"""Run directories: the resolved spec, a manifest, metrics, checkpoints and plots of one run."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import signal
import stat
import tempfile
import threading
import time
import zipfile

import numpy as np
import yaml

from .compiler import SpecError
from .compiler.source import parse_yaml


def _atomic_write(path, write):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def _holding_ctrl_c():
    """Hold Ctrl-C until the block is done (then raise it): what the block writes stays in step."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _first_difference(a, b, path=""):
    """The dotted path of the first place two plain-data trees differ ('' when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
            if found:
                return found
        return ""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _first_difference(x, y, f"{path}[{i}]"))), "")
    return "" if a == b else (path or "the spec")


class ResumeError(Exception):
    """A run directory cannot be continued with this spec."""


def slug(name: str) -> str:
    """A folder name made from a spec's free-text name: letters, digits, '.', '_' and '-' only,
    never empty, never '.' or '..', at most 64 characters."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:64].strip(".-")
    return text or "run"


def _lock(path):
    """Hold ``path``/run.lock for the life of the process: a second writer of the run fails at once."""
    fd = os.open(os.path.join(path, "run.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ResumeError(f"'{path}' is in use by another ngdsl run; wait for it to finish") from None
    return fd


def _digest(arrays: dict) -> np.ndarray:
    """SHA-256 over every array's name, dtype, shape and bytes: a checkpoint's own checksum (zip's
    CRC is not checked when numpy reads a member)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return np.frombuffer(h.digest(), np.uint8)


_NPY_HEADER = 4096          # room for an .npy header beside an array's bytes
_MAX_TEXT = 64 << 20        # metrics.jsonl and spec.resolved.yaml of any real run are far smaller


def _bounded_text(path) -> str:
    """The text of a run file no larger than _MAX_TEXT."""
    with open(path, "rb") as f:
        data = f.read(_MAX_TEXT + 1)
    if len(data) > _MAX_TEXT:
        raise ValueError("too large")
    return data.decode("utf-8")


def _checkpoint_problem(saved, expected, epoch, recorded):
    """What is wrong with a checkpoint's arrays against the model's (None when it fits)."""
    if epoch.shape != () or epoch.dtype.kind not in "iu" or not 0 <= int(epoch) <= recorded:
        return f"claims an epoch the run never recorded (metrics.jsonl has {recorded})"
    missing = sorted(set(expected) - set(saved))
    if missing or set(saved) - set(expected):
        return f"does not hold this model's arrays ({', '.join(missing[:3]) or 'extra arrays'})"
    for name, want in expected.items():
        got = saved[name]
        if got.shape != want.shape or got.dtype.kind != want.dtype.kind:
            return f"holds '{name}' of shape {got.shape} ({got.dtype}); the model's is {want.shape} ({want.dtype})"
        if got.dtype.kind == "f" and not np.all(np.isfinite(got)):
            return f"holds NaN or Inf in '{name}'"
    return None


def _write_checkpoint(path, state, epoch):
    """The arrays of ``state`` and the epoch, with their digest, written atomically (never a pickle)."""
    arrays = {k.replace("/", ":"): v for k, v in state.items()}
    arrays["epoch"] = np.array(epoch)
    arrays["digest"] = _digest(arrays)

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: np.savez would append '.npz' to a name
            np.savez(f, **arrays)
    _atomic_write(path, write)


def _read_checkpoint(path, expected):
    """(epoch, state) of a checkpoint, each array's size checked against ``expected`` (bytes by key)
    before it is read and the digest after; ValueError (or the reader's own) when it is damaged."""
    if not stat.S_ISREG(os.stat(path).st_mode):   # not a FIFO: opening one would wait forever
        raise ValueError("not a regular file")
    with np.load(path, allow_pickle=False) as arrays:
        for key in arrays.files:
            if arrays.zip.getinfo(f"{key}.npy").file_size > expected.get(key, 64) + _NPY_HEADER:
                raise ValueError(f"array '{key}' is larger than the model's")
        saved = {k: arrays[k] for k in arrays.files}
    digest = saved.pop("digest", None)
    if digest is None or not np.array_equal(digest, _digest(saved)):
        raise ValueError("checksum")
    epoch = saved.pop("epoch")
    return epoch, {k.replace(":", "/"): v for k, v in saved.items()}


def _best_state(path, model, history, expected, epoch):
    """The state of the best validation epoch of a run resumed at ``epoch`` (train.keep_best), from
    best.npz; None when the spec keeps no best or the best is the checkpoint itself."""
    metric = model.plan.train.get("keep_best")
    if not metric or not history:
        return None
    from .runtime.metrics import HIGHER_IS_BETTER, best_epoch
    best, _ = best_epoch(history, f"validation_{metric}", HIGHER_IS_BETTER[metric])
    if best == epoch:
        return None
    try:
        saved_epoch, state = _read_checkpoint(os.path.join(path, "best.npz"), expected)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ResumeError(f"cannot resume from '{path}': best.npz is missing or damaged ({type(exc).__name__})") \
            from None
    problem = _checkpoint_problem(state, model.executor.state(), saved_epoch, len(history))
    if not problem and int(saved_epoch) != best:
        problem = f"is of epoch {int(saved_epoch)}, but the best validation epoch is {best}"
    if problem:
        raise ResumeError(f"cannot resume from '{path}': best.npz {problem}")
    return state


def train(model, run, epochs, before_epoch=None, on_epoch=None, on_batch=None):
    """Train ``model`` up to ``epochs`` epochs, recording and checkpointing each into ``run``.

    Returns (status, message): 'completed', or 'diverged' / 'interrupted' with what happened and
    where the last completed epoch's weights are."""
    from .runtime import Divergence

    def recorded(record):
        run.record(record)
        if on_epoch:
            on_epoch(record)
    try:
        for epoch in range(model.epoch, epochs):
            if model.stopped:   # train.stop_after epochs without a better validation value
                break
            if before_epoch:
                before_epoch(epoch)
            model.train_epoch(on_epoch=recorded, on_batch=on_batch, measure=model.measures(epoch + 1, epochs))
        model.settle_on_best()
    except Divergence as exc:
        kept = (f"the weights of the last completed epoch are in {run.path}/weights.npz" if run.rewind() else
                f"{run.path}/weights.npz cannot be read back, so no plots are drawn")
        return "diverged", f"{exc} (epoch {run.checkpointed_epoch + 1}); {kept}"
    except KeyboardInterrupt:
        return "interrupted", (f"interrupted during epoch {run.checkpointed_epoch + 1}; the weights of the last "
                               f"completed epoch are in {run.path}/weights.npz")
    return "completed", ""


class RunDirectory:
    """``<root>/<name>-<timestamp>/`` holding everything a run produces."""

    plottable = True   # False once the model's weights are NaN and the checkpoint cannot restore them

    @classmethod
    def reopen(cls, path, model, spec_path):
        """The run directory ``path``, with ``model`` restored to its last checkpoint."""
        if not os.path.isdir(path):
            raise ResumeError(f"cannot resume from '{path}': not a run directory")
        lock = _lock(path)
        # A run directory is untrusted too: every array is sized against the model's before it is
        # read, and the YAML goes through the spec parser's limits.
        expected = {k.replace("/", ":"): a.nbytes for k, a in model.executor.state().items()}
        reading = "weights.npz"
        try:
            for name in ("weights.npz", "metrics.jsonl", "spec.resolved.yaml"):   # not a FIFO: opening would wait
                if not stat.S_ISREG(os.stat(os.path.join(path, name)).st_mode):
                    reading = name
                    raise ValueError("not a regular file")
            epoch, state = _read_checkpoint(os.path.join(path, reading), expected)
            reading = "metrics.jsonl"
            history = [json.loads(line) for line in _bounded_text(os.path.join(path, reading)).splitlines()
                       if line.strip()]
            reading = "spec.resolved.yaml"
            then, _ = parse_yaml(_bounded_text(os.path.join(path, reading)), reading)
            if not isinstance(then, dict):
                raise ValueError("not a spec")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, SpecError) as exc:
            # zip's CRC catches a damaged weights.npz; the message names the file, never its contents
            raise ResumeError(f"cannot resume from '{path}': {reading} is missing or damaged "
                              f"({type(exc).__name__})") from None
        now = json.loads(json.dumps(model.compiled.resolved))  # the same plain types as the YAML
        for spec in (then, now):
            if isinstance(spec.get("train"), dict):
                spec["train"].pop("epochs", None)  # the one thing a resumed run may change
        changed = _first_difference(then, now)
        if changed:
            raise ResumeError(f"cannot resume from '{path}': the spec differs from that run's at '{changed}'")
        if "counter/trial" in state:   # written before predictions drew with a counter of their own
            state.setdefault("counter/predict", np.zeros(1, np.int64))
        problem = _checkpoint_problem(state, model.executor.state(), epoch, len(history))
        if problem:
            raise ResumeError(f"cannot resume from '{path}': weights.npz {problem}")
        epoch = int(epoch)
        history = history[:epoch]
        best = _best_state(path, model, history, expected, epoch)
        from .runtime import Divergence
        try:
            model.restore(state, history, best)
        except Divergence as exc:   # weights no run could have saved: a singular covariance, say
            raise ResumeError(f"cannot resume from '{path}': weights.npz {exc}") from None
        self = cls.__new__(cls)
        self.path, self.model, self.spec_path, self._lock = path, model, spec_path, lock
        self.checkpointed_epoch = epoch
        self.monitor = _monitor(model)
        if self.monitor:
            self.monitor.restore(_read_monitors(os.path.join(path, "monitors.npz")), epoch)
        self.metrics_path = os.path.join(path, "metrics.jsonl")
        with open(self.metrics_path, "w", encoding="utf-8") as f:  # drop records past the checkpoint
            f.writelines(json.dumps(h) + "\n" for h in history)
        return self

    def __init__(self, root, model, spec_path, name=None):
        """A new run directory under ``root``, named after the spec and the time (or ``name``, which
        must not exist yet); it starts with a checkpoint of the initial weights (epoch 0), so a run
        stopped in its first epoch resumes from the start."""
        self.monitor = _monitor(model)     # first: a monitor the model cannot serve leaves no folder behind
        os.makedirs(root, exist_ok=True)
        if name is not None:
            self.path = os.path.join(root, name)
            os.mkdir(self.path)
        else:
            base = os.path.join(root, f"{slug(model.plan.name)}-{time.strftime('%Y%m%d-%H%M%S')}")
            self.path, n = base, 1
            while True:
                try:
                    os.mkdir(self.path)   # atomic: two runs started in the same second get two folders
                    break
                except FileExistsError:
                    n += 1
                    self.path = f"{base}-{n}"
        os.mkdir(os.path.join(self.path, "plots"))
        self._lock = _lock(self.path)
        self.model, self.spec_path = model, spec_path
        with open(os.path.join(self.path, "spec.resolved.yaml"), "w", encoding="utf-8") as f:
            f.write(f"# resolved from {spec_path}: every default filled in\n")
            yaml.safe_dump(model.compiled.resolved, f, sort_keys=False, allow_unicode=True)
        self.checkpointed_epoch = 0
        self.metrics_path = os.path.join(self.path, "metrics.jsonl")
        open(self.metrics_path, "w").close()
        self.checkpoint()
        if self.monitor:
            self.monitor.capture()
            self._write_monitors()

    def close(self):
        """Release the run directory for another writer (a later --resume)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def record(self, entry: dict):
        """Append an epoch's metrics and checkpoint the weights after it, as one step that Ctrl-C
        cannot split: metrics.jsonl, weights.npz and the manifest always agree on the epoch (and
        best.npz holds the best validation epoch's, with train.keep_best)."""
        with _holding_ctrl_c():
            with open(self.metrics_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            self.checkpoint()
            if self.model.best is not None and self.model.best[0] == self.model.epoch:
                _write_checkpoint(os.path.join(self.path, "best.npz"), self.model.executor.state(), self.model.epoch)
            if self.monitor:
                self.monitor.capture()
                self._write_monitors()

    def _write_monitors(self):
        arrays = self.monitor.arrays()
        _atomic_write(os.path.join(self.path, "monitors.npz"), lambda tmp: _write_npz(tmp, arrays))

    def rewind(self):
        """Put the model's weights back at the last checkpoint — after a divergence, so that what is
        drawn or measured next is the last completed epoch, not the weights that became NaN. Returns
        False, and the run draws no plots, when the checkpoint cannot be read back."""
        from .runtime import Divergence
        expected = {k.replace("/", ":"): a.nbytes for k, a in self.model.executor.state().items()}
        try:
            _, state = _read_checkpoint(os.path.join(self.path, "weights.npz"), expected)
            self.model.executor.load_state(state)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, Divergence):
            self.plottable = False
            return False
        return True

    def checkpoint(self):
        """Write weights and optimizer state atomically (never a pickle)."""
        _write_checkpoint(os.path.join(self.path, "weights.npz"), self.model.executor.state(), self.model.epoch)
        self.checkpointed_epoch = self.model.epoch

    def manifest(self, status, run_seconds, message=""):
        import numba
        import numpy

        from . import __version__
        plan = self.model.plan
        data = {
            "name": plan.name, "spec": os.path.abspath(self.spec_path), "status": status, "message": message,
            "seed": plan.seed, "dtype": plan.dtype, "epochs_completed": self.checkpointed_epoch,
            "plan_hash": self.model.executor.source_hash,
            "timings": {"compile_seconds": round(self.model.compile_seconds, 4),
                        "kernel_cache": self.model.executor.kernel_cache,
                        "run_seconds": round(run_seconds, 4),
                        "threads": self.model.threads, "threads_in_use": self.model.threads_in_use},
            "versions": {"ngdsl": __version__, "numpy": numpy.__version__, "numba": numba.__version__,
                         "python": platform.python_version()},
            "final": self.model.history[-1] if self.model.history else {},
            "kept_epoch": self.model.best[0] if self.model.best else self.checkpointed_epoch,
        }
        with open(os.path.join(self.path, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)

    def plot(self):
        """Learning curves, the settling energy and, for image inputs, receptive fields; returns the
        files written."""
        if not self.plottable:
            return []
        import matplotlib
        matplotlib.use("Agg")
        monitors = self.monitor.plot(os.path.join(self.path, "plots")) if self.monitor else []
        return [p for p in [self._learning_curve(), self._settling_energy(), self._reconstructions(),
                            self._samples(), *self._receptive_fields(), *monitors] if p]

    def _samples(self, count=32):
        """What schedule.sample generates from draws of the prior, as images (plots/samples.png)."""
        shape = self.model.data.image_shape
        if "sample" not in self.model.plan.routines or shape is None:
            return None
        values = self.model.sample(count)
        if values.shape[1] != int(np.prod(shape)) or not np.all(np.isfinite(values)):
            return None
        state = self.model.plan.prior["state"]
        return save_figure(image_grid(values, shape, f"{self.model.plan.name}: samples from the prior over {state}, "
                                                     f"after epoch {self.model.epoch}"),
                           os.path.join(self.path, "plots", "samples.png"))

    def _reconstructions(self, count=8):
        """For a circuit whose readout is an image like its input (an autoencoder, a generative
        model's reconstruction): held-out images above what the model gives back (plots/reconstructions.png)."""
        data = self.model.data
        shape = data.image_shape
        x = data.x_test if len(data.x_test) else data.x_train
        if shape is None or "predict" not in self.model.plan.routines or not len(x):
            return None
        x = x[:count]
        out = self.model.predict(x)
        if out.shape[1] != x.shape[1] or not np.all(np.isfinite(out)):
            return None
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, len(x), figsize=(1.1 * len(x) + 0.6, 2.6), squeeze=False)
        for column, (image, back) in enumerate(zip(x, out)):
            for row, picture in enumerate((image, back)):
                axes[row, column].imshow(picture.reshape(shape), cmap="gray_r", vmin=0, vmax=max(1.0, float(x.max())))
                axes[row, column].set_xticks([])
                axes[row, column].set_yticks([])
        axes[0, 0].set_ylabel("image", fontsize=8)
        axes[1, 0].set_ylabel("readout", fontsize=8)
        fig.suptitle(f"{self.model.plan.name}: held-out images and the readout", fontsize=9, parse_math=False)
        return save_figure(fig, os.path.join(self.path, "plots", "reconstructions.png"))

    def remember_settling_energy(self):
        """Measure the settling energy now (before training), to draw beside the one after it."""
        self.energy_before = (self.model.epoch, self._first_batch_energy())

    def _first_batch_energy(self):
        data = self.model.data
        return self.model.settling_energy(data.x_train[:data.batch], data.y_train[:data.batch])

    def _settling_energy(self):
        """The error energy over the settling steps on the first training batch, before training (when
        measured) and with the final weights (plots/settling_energy.png)."""
        after = self._first_batch_energy()
        if not after.size or not np.all(np.isfinite(after)):
            return None
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        epoch, before = getattr(self, "energy_before", (None, np.zeros(0)))
        if before.size and np.all(np.isfinite(before)) and epoch != self.model.epoch:
            ax.plot(np.arange(len(before)), before, marker=".", color="0.6",
                    label="before training" if epoch == 0 else f"after epoch {epoch}")
        ax.plot(np.arange(len(after)), after, marker=".", label=f"after epoch {self.model.epoch}")
        ax.set_xlabel("settling step")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("Σ ½·precision·‖target − mu‖²  (batch mean)")
        phase = self.model.plan.routines["train"].segments[0].phases[-1].name
        ax.set_title(f"{self.model.plan.name}: phase '{phase}', first training batch", parse_math=False)
        ax.grid(alpha=0.3)
        ax.legend()
        return save_figure(fig, os.path.join(self.path, "plots", "settling_energy.png"))

    def _receptive_fields(self, most=64, most_on_lattice=400):
        """The first ``most`` units' weights from the image input, one grid per cable on one colour
        scale, each field numbered by its unit (plots/receptive_fields_<cable>.png). Units on a lattice
        are drawn in its places (a self-organising map's map), up to ``most_on_lattice``."""
        import matplotlib.pyplot as plt

        paths = []
        cables = self.model.compiled.circuit.cables
        for cable, fields in self.model.receptive_fields().items():
            lattice = self.model.plan.components[cables[cable].target.component].get("lattice")
            on_lattice = bool(lattice) and len(fields) <= most_on_lattice
            if on_lattice:
                rows, cols = lattice
            else:
                fields = fields[:most]
                cols = int(np.ceil(np.sqrt(len(fields))))
                rows = int(np.ceil(len(fields) / cols))
            fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 1.0, 1.1 * rows + 0.6), squeeze=False)
            limit = float(np.abs(fields).max()) or 1.0
            for ax in axes.flat:
                ax.axis("off")
            for unit, (ax, field) in enumerate(zip(axes.flat, fields)):
                image = ax.imshow(field, cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set_title(str(unit), fontsize=6, pad=1)
            shown = (f"its {len(fields)} units on a {rows} × {cols} lattice" if on_lattice
                     else f"{len(fields)} of {len(self.model.weights[cable])} units")
            fig.suptitle(f"{self.model.plan.name}: {cable}, {shown}", fontsize=9, parse_math=False)
            fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="weight")
            paths.append(save_figure(fig, os.path.join(self.path, "plots", f"receptive_fields_{cable}.png"), tight=False))
        return paths

    def _learning_curve(self):
        """Each metric over epochs, train, validation and test in one panel, the best test epoch and the
        epoch whose weights are kept marked (plots/learning_curve.png)."""
        from .runtime.metrics import HIGHER_IS_BETTER, best_epoch, measured_series

        history = self.model.history
        series = {k: curve for k, curve in measured_series(history).items() if not k.startswith("steps_")}
        if not series:
            return None
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        panels = list(dict.fromkeys(k.split("_", 1)[-1] for k in series))
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
        for ax, metric in zip(axes[0], panels):
            for key, (epochs, values) in series.items():
                if key.split("_", 1)[-1] == metric:
                    ax.plot(epochs, values, marker="o", markersize=3, label=key.split("_", 1)[0])
            best = best_epoch(history, f"test_{metric}", HIGHER_IS_BETTER.get(metric, True))
            if best:
                epoch, value = best
                ax.axvline(epoch, color="0.5", linestyle="--", linewidth=1, label=f"best test {value:.4g} (epoch {epoch})")
            if self.model.best is not None:   # the weights the model ends with (train.keep_best)
                ax.axvline(self.model.best[0], color="k", linestyle=":", linewidth=1.5,
                           label=f"weights kept: best validation (epoch {self.model.best[0]})")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric.replace("_", " "))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        fig.suptitle(self.model.plan.name, parse_math=False)
        return save_figure(fig, os.path.join(self.path, "plots", "learning_curve.png"))


def image_grid(values, shape, title, columns=8):
    """A figure of ``values`` (one image per row, each of ``shape``), framed so neighbours stay apart."""
    import matplotlib.pyplot as plt

    columns = min(columns, len(values))
    rows = -(-len(values) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.1 * rows + 0.4), squeeze=False)
    for ax in axes.flat[len(values):]:
        ax.set_axis_off()
    for ax, image in zip(axes.flat, values):
        ax.imshow(image.reshape(shape), cmap="gray_r", vmin=0, vmax=max(1.0, float(values.max())))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9, parse_math=False)
    return fig


def save_figure(fig, path, tight=True):
    import matplotlib.pyplot as plt

    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _monitor(model):
    """The spec's monitors for ``model`` (None when it asks for none)."""
    settings = model.compiled.resolved.get("monitors")
    if not settings:
        return None
    from .monitors import Monitor
    return Monitor(model, settings)


def _write_npz(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _read_monitors(path) -> dict:
    """What an earlier run recorded (nothing if the file is missing, damaged or not plain arrays)."""
    try:
        if os.path.getsize(path) > 1 << 30:
            return {}
        with np.load(path, allow_pickle=False) as arrays:
            return {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return {}
