"""Runs and sweeps side by side: a table of each one's final and best metric (mean ± std over
seeds), learning curves overlaid with a band over seeds, the final metric per point with error
bars, and a heat-map when a sweep varies two settings.

A sweep point (its seeds) is one group; a run directory given on its own is a group of one.
Run folders are untrusted input: only ``metrics.jsonl``, ``manifest.json`` and ``results.csv``
are read, each up to a size limit, and lines that are not records are skipped and counted."""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

MAX_FILE = 64 << 20      # bytes read of any one metrics, manifest or results file


class CompareError(Exception):
    """A path that is neither a run directory nor a sweep folder, or nothing to compare."""


@dataclass
class Group:
    """Runs that differ only in their seed: a sweep point, or one run directory."""

    label: str
    spec: str
    values: dict = field(default_factory=dict)      # swept key -> value text (a sweep point)
    histories: list = field(default_factory=list)   # one list of epoch records per run

    def series(self, metric) -> np.ndarray:
        """(runs, epochs) of ``metric``, NaN where a run has no value (shorter, or diverged)."""
        longest = max((len(h) for h in self.histories), default=0)
        out = np.full((len(self.histories), longest), np.nan)
        for i, history in enumerate(self.histories):
            for j, record in enumerate(history):
                value = record.get(metric)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[i, j] = value
        return out

    def final(self, metric) -> np.ndarray:
        return np.array([h[-1].get(metric, np.nan) if h else np.nan for h in self.histories], dtype=float)


@dataclass
class Comparison:
    groups: list
    swept: list            # the keys a sweep varied (empty for run directories alone)
    skipped: int = 0       # unreadable lines and failed runs left out


def _read_text(path):
    with open(path, "rb") as f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise CompareError(f"'{path}' is larger than {MAX_FILE >> 20} MB; not a file ngdsl wrote")
    return data.decode("utf-8", errors="replace")


def read_history(run_dir) -> tuple:
    """(epoch records of a run directory's metrics.jsonl, lines skipped)."""
    records, skipped = [], 0
    for line in _read_text(os.path.join(run_dir, "metrics.jsonl")).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        elif line.strip():
            skipped += 1
    return records, skipped


def _run_name(run_dir):
    try:
        manifest = json.loads(_read_text(os.path.join(run_dir, "manifest.json")))
        return str(manifest.get("name", "")) or os.path.basename(os.path.normpath(run_dir))
    except (OSError, ValueError):
        return os.path.basename(os.path.normpath(run_dir))


def _short_keys(keys):
    """Each swept key by its last part (``lr`` for ``train.optimizer.sgd.lr``) where that is unique."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def _sweep_groups(folder):
    with open(os.path.join(folder, "results.csv"), newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        head = reader.fieldnames or []
        rows = list(reader)
    if "spec" not in head or "seed" not in head:
        raise CompareError(f"'{folder}/results.csv' is not a sweep's results table (no spec or seed column)")
    swept = head[head.index("spec") + 1:head.index("seed")]
    short = _short_keys(swept)
    several_specs = len({r["spec"] for r in rows}) > 1
    groups, skipped = {}, 0
    for row in rows:
        key = (row["spec"], *(row[k] for k in swept))
        spec_name = os.path.splitext(os.path.basename(row["spec"]))[0]
        label = " ".join(([spec_name] if several_specs or not swept else []) +
                         [f"{short[k]}={row[k]}" for k in swept])
        group = groups.setdefault(key, Group(label or spec_name, row["spec"], {k: row[k] for k in swept}))
        run_dir = os.path.join(folder, "runs", os.path.basename(row.get("run_dir") or ""))
        if row.get("status") != "completed" or not os.path.isfile(os.path.join(run_dir, "metrics.jsonl")):
            skipped += 1
            continue
        history, bad = read_history(run_dir)
        group.histories.append(history)
        skipped += bad
    return list(groups.values()), swept, skipped


def collect(paths) -> Comparison:
    """The groups of every path: a sweep folder (with results.csv) or a run directory (with metrics.jsonl)."""
    groups, swept, skipped = [], [], 0
    for path in paths:
        if os.path.isfile(os.path.join(path, "results.csv")):
            found, keys, bad = _sweep_groups(path)
            groups += found
            swept = swept or keys
            skipped += bad
        elif os.path.isfile(os.path.join(path, "metrics.jsonl")):
            history, bad = read_history(path)
            groups.append(Group(_run_name(path), path, histories=[history]))
            skipped += bad
        else:
            raise CompareError(f"'{path}' is neither a run directory (metrics.jsonl) nor a sweep folder (results.csv)")
    groups = [g for g in groups if g.histories]
    if not groups:
        raise CompareError("no completed runs to compare")
    if len(paths) > 1:
        swept = []      # points of different sweeps share no axes
    _unique_labels(groups)
    return Comparison(groups, swept, skipped)


def _unique_labels(groups):
    seen = {}
    for group in groups:
        seen[group.label] = seen.get(group.label, 0) + 1
        if seen[group.label] > 1:
            group.label = f"{group.label} ({seen[group.label]})"


def metrics_of(comparison) -> list:
    """Metrics every run recorded, in the order of the first run's records."""
    first = comparison.groups[0].histories[0]
    keys = [k for k in (first[0] if first else {}) if k not in ("epoch", "seconds") and not k.startswith("steps_")]
    return [k for k in keys if all(h and k in h[0] for g in comparison.groups for h in g.histories)]


def default_metric(comparison) -> str:
    keys = metrics_of(comparison)
    if not keys:
        raise CompareError("the runs share no metric")
    return next((k for k in keys if k.startswith("test_")), keys[0])


def _stats(values):
    values = values[np.isfinite(values)]
    return (float(np.mean(values)), float(np.std(values))) if len(values) else (math.nan, math.nan)


def table(comparison, metric) -> list:
    """Rows (label, runs, final mean, final std, best mean, best std, mean best epoch) per group."""
    from .runtime.metrics import HIGHER_IS_BETTER

    higher = HIGHER_IS_BETTER.get(metric.split("_", 1)[-1], True)
    rows = []
    for group in comparison.groups:
        series = group.series(metric)
        filled = np.where(np.isfinite(series), series, -np.inf if higher else np.inf)
        best_epoch = (np.argmax(filled, axis=1) if higher else np.argmin(filled, axis=1)) + 1
        best = filled[np.arange(len(series)), best_epoch - 1]
        rows.append((group.label, len(group.histories), *_stats(group.final(metric)), *_stats(best),
                     float(np.mean(best_epoch))))
    return rows


def plot(comparison, metric, folder) -> list:
    """Write the comparison's plots into ``folder``; returns the files written."""
    import matplotlib
    matplotlib.use("Agg")
    os.makedirs(folder, exist_ok=True)
    written = [_curves(comparison, metric, folder), _finals(comparison, metric, folder)]
    if len(comparison.swept) == 2:
        written.append(_heatmap(comparison, metric, folder))
    return [w for w in written if w]


def _curves(comparison, metric, folder):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for group in comparison.groups:
        series = group.series(metric)
        epochs = np.arange(1, series.shape[1] + 1)
        with np.errstate(all="ignore"):
            mean, std = np.nanmean(series, axis=0), np.nanstd(series, axis=0)
        measured = ~np.isnan(mean)   # train.evaluate_every: the epochs between measure nothing
        epochs, mean, std = epochs[measured], mean[measured], std[measured]
        label = group.label + (f" ({len(series)} seeds)" if len(series) > 1 else "")
        line, = ax.plot(epochs, mean, label=_plain(label))
        if len(series) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{metric.replace('_', ' ')}: mean ± std over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small" if len(comparison.groups) <= 8 else "x-small", ncol=1 + len(comparison.groups) // 12)
    return _save(fig, folder, "learning_curves.png")


def _numeric(values):
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def _finals(comparison, metric, folder):
    import matplotlib
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    stats = [_stats(g.final(metric)) for g in comparison.groups]
    axis = comparison.swept[0] if comparison.swept else None
    xs = _numeric([g.values[axis] for g in comparison.groups]) if axis else None
    if xs is not None:       # the metric against the first swept value; a line per spec and other values
        several_specs = len({g.spec for g in comparison.groups}) > 1
        others = comparison.swept[1:]
        short = _short_keys(comparison.swept)
        lines = {}
        for i, group in enumerate(comparison.groups):
            lines.setdefault((group.spec, *(group.values[k] for k in others)), []).append(i)
        for (spec, *rest), chosen in lines.items():
            order = sorted(chosen, key=lambda i: xs[i])
            label = " ".join(([os.path.splitext(os.path.basename(spec))[0]] if several_specs else []) +
                             [f"{short[k]}={v}" for k, v in zip(others, rest)])
            ax.errorbar([xs[i] for i in order], [stats[i][0] for i in order], yerr=[stats[i][1] for i in order],
                        marker="o", capsize=4, label=_plain(label) if label else None)
        if min(xs) > 0 and max(xs) / min(xs) >= 10:
            ax.set_xscale("log")
        ticks = dict(sorted({x: g.values[axis] for x, g in zip(xs, comparison.groups)}.items()))
        if len(ticks) <= 12:      # the swept values themselves, as the user wrote them
            ax.set_xticks(list(ticks), [_plain(t) for t in ticks.values()])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel(_plain(axis))
        if len(lines) > 1:
            ax.legend(fontsize="small")
    else:                    # runs as categories
        positions = np.arange(len(stats))
        ax.errorbar(positions, [s[0] for s in stats], yerr=[s[1] for s in stats], fmt="o", capsize=4)
        ax.set_xticks(positions)
        ax.set_xticklabels([_plain(g.label) for g in comparison.groups], rotation=30 if len(stats) > 3 else 0,
                           ha="right" if len(stats) > 3 else "center", fontsize="small")
        ax.set_xlim(-0.5, len(stats) - 0.5)
    ax.set_ylabel(f"final {metric.replace('_', ' ')}")
    ax.set_title("final value: mean ± std over seeds")
    ax.grid(alpha=0.3)
    return _save(fig, folder, "final.png")


def _heatmap(comparison, metric, folder):
    import matplotlib.pyplot as plt

    rows_key, cols_key = comparison.swept
    row_values = list(dict.fromkeys(g.values[rows_key] for g in comparison.groups))
    col_values = list(dict.fromkeys(g.values[cols_key] for g in comparison.groups))
    for values in (row_values, col_values):
        numbers = _numeric(values)
        if numbers is not None:
            values.sort(key=float)
    grid = np.full((len(row_values), len(col_values)), np.nan)
    for group in comparison.groups:
        # several specs in one sweep: the heat-map shows the first spec's points
        if group.spec != comparison.groups[0].spec:
            continue
        grid[row_values.index(group.values[rows_key]), col_values.index(group.values[cols_key])] = \
            _stats(group.final(metric))[0]
    fig, ax = plt.subplots(figsize=(1.2 * len(col_values) + 3, 0.8 * len(row_values) + 2))
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, label=f"final {metric.replace('_', ' ')} (mean over seeds)")
    ax.set_xticks(range(len(col_values)))
    ax.set_xticklabels([_plain(v) for v in col_values])
    ax.set_yticks(range(len(row_values)))
    ax.set_yticklabels([_plain(v) for v in row_values])
    ax.set_xlabel(_plain(cols_key))
    ax.set_ylabel(_plain(rows_key))
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="black" if value > middle else "white")
    return _save(fig, folder, "heatmap.png")


def _save(fig, folder, name):
    from .runs import save_figure
    return save_figure(fig, os.path.join(folder, name))


def _plain(text) -> str:
    """Text from a run folder as matplotlib shows it literally ('$' would start TeX)."""
    return str(text).replace("$", r"\$")
