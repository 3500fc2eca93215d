"""Monitors: what a spec's ``monitors:`` asks a run to record before training and after every epoch —
chosen compartments on a few held-out examples, and the spread of chosen weights — kept in the run
directory's ``monitors.npz`` and drawn in its plots."""
from __future__ import annotations

import os

import numpy as np

#: weight percentiles recorded per epoch: the extremes, the quartiles and the median
PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


class Monitor:
    """Records ``record`` (compartments) on the first ``examples`` held-out examples and the
    percentiles of ``weights`` (cables) each time :meth:`capture` is called."""

    def __init__(self, model, settings: dict):
        self.model = model
        self.names = list(settings.get("record", []))
        self.cables = list(settings.get("weights", []))
        data = model.data
        x, y = (data.x_test, data.y_test) if len(data.x_test) else (data.x_train, data.y_train)
        self.x, self.y = x[:settings.get("examples", 4)], y[:settings.get("examples", 4)]
        self.every_step = bool(settings.get("steps"))
        self.samples = settings.get("samples")       # a compartment the model generates, drawn after training
        self._look(self.x[:1])                       # a compartment predict does not compute: a ValueError now
        self.epochs, self.activity, self.spread = [], {n: [] for n in self.names}, {c: [] for c in self.cables}
        self.steps = {}   # name -> (steps + 1, examples, units) at the last capture, with every_step

    def _look(self, x, every_step=False) -> dict:
        """The monitored compartments for ``x`` (after every step, with ``every_step``), leaving the
        prediction trials' counter as it was: a monitored run evaluates (and resumes) with the same
        random draws as any other."""
        counter = self.model.executor.predict_draw.copy()
        names = self.names + ([self.samples] if self.samples and not every_step else [])
        try:
            if not names:
                return {}
            if every_step:
                return self.model.trace(x, *self.names, y=self.y[:len(x)])
            return self.model.activity(x, *names)
        finally:
            self.model.executor.predict_draw[...] = counter

    def capture(self):
        """Record the monitored values as they are now (at ``model.epoch``)."""
        values = self._look(self.x)
        for name in self.names:
            self.activity[name].append(values[name].copy())
        for cable in self.cables:
            self.spread[cable].append(np.percentile(self.model.weights[cable], PERCENTILES))
        if self.every_step:
            self.steps = self._look(self.x, every_step=True)
        self.epochs.append(self.model.epoch)

    def arrays(self) -> dict:
        """What monitors.npz holds: ``epoch``, ``activity/<name>`` (records × examples × units) and
        ``weights/<cable>`` (records × percentiles), with ``percentiles``."""
        out = {"epoch": np.array(self.epochs), "percentiles": np.array(PERCENTILES, dtype=float)}
        out.update({f"activity/{n}": np.array(v) for n, v in self.activity.items()})
        out.update({f"weights/{c}": np.array(v) for c, v in self.spread.items()})
        out.update({f"steps/{n}": v for n, v in self.steps.items()})
        return out

    def restore(self, arrays: dict, epoch: int):
        """Continue from what an earlier run recorded, up to ``epoch``."""
        keep = [i for i, e in enumerate(arrays.get("epoch", [])) if e <= epoch]
        self.epochs = [int(arrays["epoch"][i]) for i in keep]
        for name in self.names:
            self.activity[name] = [arrays[f"activity/{name}"][i] for i in keep] if f"activity/{name}" in arrays else []
        for cable in self.cables:
            self.spread[cable] = [arrays[f"weights/{cable}"][i] for i in keep] if f"weights/{cable}" in arrays else []
        if any(len(v) != len(self.epochs) for v in list(self.activity.values()) + list(self.spread.values())):
            self.epochs, self.activity = [], {n: [] for n in self.names}
            self.spread = {c: [] for c in self.cables}

    def plot(self, folder) -> list:
        """A plot per monitor: the first example's units over epochs; the weights' percentiles over epochs."""
        import matplotlib.pyplot as plt

        from .runs import save_figure

        written = []
        for name, values in self.activity.items():
            if not values:
                continue
            trace = np.array(values)[:, 0, :16]      # records × the first 16 units of the first example
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.plot(self.epochs, trace, marker=".", linewidth=1)
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_ylabel(f"{name} (first held-out example)")
            ax.set_title(f"{self.model.plan.name}: {name}, units 0–{trace.shape[1] - 1}", parse_math=False)
            ax.grid(alpha=0.3)
            written.append(save_figure(fig, os.path.join(folder, f"monitor_{name}.png")))
        for cable, values in self.spread.items():
            if not values:
                continue
            spread = np.array(values)
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.fill_between(self.epochs, spread[:, 0], spread[:, -1], color="#c6dbef", label="min – max")
            ax.fill_between(self.epochs, spread[:, 1], spread[:, -2], color="#9ecae1", label="5th – 95th percentile")
            ax.fill_between(self.epochs, spread[:, 2], spread[:, -3], color="#4292c6", label="quartiles")
            ax.plot(self.epochs, spread[:, 3], color="#08306b", label="median")
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_ylabel(f"weights of {cable}")
            ax.set_title(f"{self.model.plan.name}: the spread of {cable}", parse_math=False)
            ax.legend(fontsize="small")
            ax.grid(alpha=0.3)
            written.append(save_figure(fig, os.path.join(folder, f"monitor_{cable}_weights.png")))
        for name, values in self.steps.items():
            written.append(save_figure(self._steps_figure(name, values[:, 0, :]), os.path.join(
                folder, f"monitor_{name}_steps.png")))
        if self.samples:
            written.append(save_figure(self._samples_figure(), os.path.join(folder, "samples.png")))
        return written

    def _samples_figure(self, count=16):
        """What the model generates, once per held-out example of a prediction (a generative circuit's
        dreams need no input): as images when they are as wide as the data's images, else as rows."""
        import matplotlib.pyplot as plt

        from .runs import image_grid

        data = self.model.data
        x = data.x_test if len(data.x_test) else data.x_train
        values = self._look(x[:count])[self.samples]
        shape = data.image_shape
        title = f"{self.model.plan.name}: samples of {self.samples} after epoch {self.model.epoch}"
        if shape is not None and values.shape[1] == int(np.prod(shape)):
            return image_grid(values, shape, title)
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(values) + 1))
        ax.imshow(values, aspect="auto", cmap="viridis")
        ax.set_xlabel("unit")
        ax.set_ylabel("sample")
        fig.suptitle(title, fontsize=9, parse_math=False)
        return fig

    def _steps_figure(self, name, values):
        """The first example's units over the steps of the last epoch: a raster where they are 0/1
        (spikes), else a trace of the first 16 units."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        if np.isin(values, (0.0, 1.0)).all():
            steps, units = np.nonzero(values)
            ax.scatter(steps, units, marker="|", s=40, color="#08306b")
            ax.set_ylabel("unit")
            ax.set_ylim(-0.5, values.shape[1] - 0.5)
            what = "spikes"
        else:
            ax.plot(values[:, :16], linewidth=1)
            ax.set_ylabel(name)
            what = f"units 0–{min(16, values.shape[1]) - 1}"
        ax.set_xlabel("step")
        ax.set_xlim(0, len(values) - 1)
        ax.set_title(f"{self.model.plan.name}: {name} after every step, epoch {self.model.epoch} ({what})",
                     parse_math=False)
        ax.grid(alpha=0.3)
        return fig

