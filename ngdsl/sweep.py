"""Studies: every combination of swept values × seeds × specs, each trained into a run directory of
its own on a Dask cluster; ``results.csv`` (one row per run), ``summary.csv`` (mean ± std over the
seeds of each point) and the best points.

A sweep resumes: run again with the same output folder, a point whose run directory holds a completed
run is read back and an interrupted one continues from its last checkpoint."""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .compiler.source import parse_yaml
from .runs import slug


class SweepError(Exception):
    """The sweep cannot run as asked (a malformed axis, a sweep file that is not one)."""


@dataclass(frozen=True)
class Point:
    """One run of a sweep: a spec, the swept values ((key, value text), ...) and a seed."""

    spec: str
    values: tuple
    seed: int

    @property
    def overrides(self) -> list:
        return [f"{key}={value}" for key, value in self.values] + [f"seed={self.seed}"]

    def folder(self, name: str) -> str:
        """Its run directory's name: the spec's name and a hash of what makes the point, so a
        second sweep into the same folder finds it again."""
        key = json.dumps([os.path.abspath(self.spec), list(self.values), self.seed])
        return f"{slug(name)}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@dataclass
class Study:
    """What a sweep trains: specs × the product of the axes (grid values, then random draws) × seeds."""

    specs: list
    fixed: list = field(default_factory=list)       # overrides every run gets
    axes: dict = field(default_factory=dict)        # key -> [value text] (a grid)
    random: dict = field(default_factory=dict)      # key -> (low, high, log) drawn `draws` times
    draws: int = 0
    seeds: int = 1
    epochs: int = None

    def combinations(self) -> list:
        """Every set of swept values, as tuples of (key, value text)."""
        grid = [tuple(zip(self.axes, combo)) for combo in itertools.product(*self.axes.values())]
        if not self.random:
            return grid
        rng = np.random.default_rng(0)   # the draws are part of the study: the same every time
        drawn = []
        for _ in range(self.draws):
            values = []
            for key, (low, high, log) in self.random.items():
                value = math.exp(rng.uniform(math.log(low), math.log(high))) if log else rng.uniform(low, high)
                values.append((key, f"{value:.6g}"))
            drawn.append(tuple(values))
        return [g + d for g in grid for d in drawn]

    def points(self) -> list:
        return [Point(spec, values, seed) for spec in self.specs for values in self.combinations()
                for seed in range(self.seeds)]


# ---- building a study from the command line or a sweep file ---------------------------------

def split_values(text: str) -> list:
    """'0.1,0.3,{adam: {lr: 1}}' -> the comma-separated values, commas inside brackets kept."""
    values, depth, current = [], 0, ""
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += char
    values.append(current.strip())
    if not all(values):
        raise SweepError(f"'{text}' has an empty value")
    return values


def _numbers(text, count, what):
    try:
        numbers = [float(v) for v in text.split(":")]
    except ValueError:
        numbers = []
    if len(numbers) != count:
        raise SweepError(f"'{text}' is not {what}")
    return numbers


def spaced(text: str, log: bool) -> list:
    """'LOW:HIGH:N' -> N values from LOW to HIGH, evenly spaced (in log scale when ``log``)."""
    low, high, n = _numbers(text, 3, "LOW:HIGH:N")
    if n < 1 or n != int(n) or (log and (low <= 0 or high <= 0)):
        raise SweepError(f"'{text}': N must be a whole number ≥ 1" + (", LOW and HIGH positive" if log else ""))
    values = np.geomspace(low, high, int(n)) if log else np.linspace(low, high, int(n))
    return [f"{v:.6g}" for v in values]


def _axis(argument: str) -> tuple:
    key, sep, values = argument.partition("=")
    if not sep or not key or not values:
        raise SweepError(f"'{argument}' is not KEY=VALUES")
    return key.strip(), values


def study_from_arguments(args) -> Study:
    study = Study(specs=[args.spec], fixed=list(args.set), seeds=args.seeds, epochs=args.epochs, draws=args.draws)
    for argument in args.grid:
        key, values = _axis(argument)
        study.axes[key] = split_values(values)
    for argument, log in [(a, False) for a in args.range] + [(a, True) for a in args.log]:
        key, values = _axis(argument)
        study.axes[key] = spaced(values, log)
    for argument, log in [(a, False) for a in args.uniform] + [(a, True) for a in args.loguniform]:
        key, values = _axis(argument)
        low, high = _numbers(values, 2, "LOW:HIGH")
        if log and (low <= 0 or high <= 0):
            raise SweepError(f"'{argument}': a log-uniform range needs positive bounds")
        study.random[key] = (low, high, log)
    if study.random and study.draws < 1:
        raise SweepError("--uniform and --loguniform draw values: say how many points with --draws N")
    return study


def study_from_file(path: str, args) -> Study:
    """A sweep file: ``specs`` (paths relative to it), and optionally ``set``, ``grid`` (key: [values]),
    ``range`` / ``log`` (key: [low, high, n]), ``uniform`` / ``loguniform`` (key: [low, high]) with
    ``draws``, ``seeds``, ``epochs``. Command-line axes and --set add to it."""
    with open(path, encoding="utf-8") as f:
        data, _ = parse_yaml(f.read(), path)
    base = os.path.dirname(os.path.abspath(path))
    if not isinstance(data, dict) or not isinstance(data.get("specs"), list) or not data["specs"]:
        raise SweepError(f"{path}: a sweep file lists its specs under 'specs:'")
    unknown = set(data) - {"specs", "set", "grid", "range", "log", "uniform", "loguniform", "draws", "seeds", "epochs"}
    if unknown:
        raise SweepError(f"{path}: unknown key '{sorted(unknown)[0]}' (a sweep file has specs, set, grid, range, log, "
                         "uniform, loguniform, draws, seeds, epochs)")
    study = study_from_arguments(args)
    study.specs = [os.path.join(base, str(s)) for s in data["specs"]]
    study.fixed = [str(s) for s in data.get("set") or []] + study.fixed
    for key, values in (data.get("grid") or {}).items():
        study.axes.setdefault(str(key), [_text(v) for v in values])
    for kind in ("range", "log"):
        for key, (low, high, n) in (data.get(kind) or {}).items():
            study.axes.setdefault(str(key), spaced(f"{low}:{high}:{n}", kind == "log"))
    for kind in ("uniform", "loguniform"):
        for key, (low, high) in (data.get(kind) or {}).items():
            study.random.setdefault(str(key), (float(low), float(high), kind == "loguniform"))
    study.draws = study.draws or int(data.get("draws", 0))
    study.seeds = args.seeds if args.seeds != 1 else int(data.get("seeds", 1))
    study.epochs = args.epochs or data.get("epochs")
    if study.random and study.draws < 1:
        raise SweepError(f"{path}: uniform and loguniform ranges need 'draws: N'")
    return study


def _text(value) -> str:
    """A YAML value as an override's value text."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


# ---- one run, on a worker ------------------------------------------------------------------

def run_point(point: Point, fixed: list, root: str, epochs) -> dict:
    """Train one point into its run directory under ``root`` (or read back / continue what a
    previous sweep left there); returns its results row. Never raises for the model's own problems:
    they come back as a row with status 'failed'."""
    from .compiler import SpecError, compile_file
    from .model import Model
    from .runs import ResumeError, RunDirectory, train
    from .runtime import DataError

    row = {"spec": point.spec, **dict(point.values), "seed": point.seed}
    try:
        compiled = compile_file(point.spec, fixed + point.overrides)
        model = Model(compiled, threads=1)   # one per worker: the workers fill the cores
        name = point.folder(compiled.plan.name)
        path = os.path.join(root, name)
        if os.path.isdir(path):
            run = RunDirectory.reopen(path, model, point.spec)
        else:
            run = RunDirectory(root, model, point.spec, name=name)
    except (SpecError, DataError, ResumeError, OSError, ValueError) as exc:   # ValueError: a monitor's compartment
        return {**row, "status": "failed", "message": str(exc)}
    total = compiled.plan.train["epochs"] if epochs is None else epochs
    timings = {"compile_seconds": round(model.compile_seconds, 3)}
    if model.epoch >= total:   # finished by an earlier sweep: its own timings stand
        status, message = "completed", ""
        timings = _earlier_timings(path) or timings
    else:
        start = time.perf_counter()
        status, message = train(model, run, total)
        timings["run_seconds"] = round(time.perf_counter() - start, 3)
        run.manifest(status, timings["run_seconds"], message)
    run.close()
    return {**row, "status": status, "message": message, "epochs": model.epoch, **_metrics(model.history),
            **timings, "run_dir": path}


def _earlier_timings(path):
    try:
        with open(os.path.join(path, "manifest.json"), "rb") as f:
            timings = json.loads(f.read(1 << 20))["timings"]
        return {k: float(timings[k]) for k in ("compile_seconds", "run_seconds")}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _metrics(history) -> dict:
    """final_<metric> and best_<metric> (with its epoch, best_epoch_<metric>) of a run's history."""
    from .runtime.metrics import HIGHER_IS_BETTER, measured_series

    out = {}
    for key, (epochs, values) in measured_series(history).items():
        higher = HIGHER_IS_BETTER.get(key.split("_", 1)[-1], True)
        best = int(np.argmax(values) if higher else np.argmin(values))
        out.update({f"final_{key}": values[-1], f"best_{key}": values[best], f"best_epoch_{key}": epochs[best]})
    return out


# ---- the sweep -----------------------------------------------------------------------------

def check(study: Study) -> list:
    """Compile every point before any runs (a mistake is reported at once, located); hold each
    spec's train/test split fixed over seeds unless the study sets data.seed itself. Returns the
    overrides every run of each spec gets: {spec: fixed}."""
    from .compiler import compile_file

    fixed = {}
    for spec in study.specs:
        base = compile_file(spec, study.fixed)
        keys = {o.partition("=")[0].strip() for o in study.fixed} | set(study.axes) | set(study.random)
        fixed[spec] = study.fixed + ([] if "data.seed" in keys else [f"data.seed={base.plan.data['seed']}"])
    for point in study.points():
        compile_file(point.spec, fixed[point.spec] + point.overrides)
    return fixed


def client_for(scheduler, workers):
    """A Dask client: of the cluster at ``scheduler``, or of a local cluster of ``workers`` processes
    (default: one per core), one thread each (and one BLAS thread, ngdsl's default)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    try:
        import bokeh  # noqa: F401 — the dashboard needs it
        dashboard = ":0"
    except ImportError:
        dashboard = None
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=dashboard)
    return Client(cluster)


def run_sweep(study: Study, root: str, scheduler=None, workers=None, quiet=False, say=print) -> list:
    """Train every point of ``study`` on Dask into ``root``; write results.csv and summary.csv there
    (rewritten as runs finish, so an interrupted sweep keeps what it finished). Returns the rows."""
    from dask.distributed import as_completed
    from tqdm import tqdm

    fixed = check(study)
    points = study.points()
    os.makedirs(root, exist_ok=True)
    runs = os.path.join(root, "runs")
    client = client_for(scheduler, workers)
    try:
        if client.dashboard_link and not quiet:
            say(f"dask dashboard: {client.dashboard_link}")
        futures = [client.submit(run_point, p, fixed[p.spec], runs, study.epochs, pure=False) for p in points]
        rows = []
        with tqdm(total=len(points), desc="sweep", unit="run", disable=quiet) as bar:
            for future in as_completed(futures):
                rows.append(future.result())
                bar.update(1)
                write_results(rows, study, root)
    finally:
        client.close()
        cluster = getattr(client, "cluster", None)
        if cluster is not None and not scheduler:
            cluster.close()
    order = {(p.spec, p.values, p.seed): i for i, p in enumerate(points)}
    swept = list(study.axes) + list(study.random)
    rows.sort(key=lambda r: order[(r["spec"], tuple((k, r[k]) for k in swept), r["seed"])])
    write_results(rows, study, root)
    return rows


def write_results(rows: list, study: Study, root: str):
    """results.csv (a row per run) and summary.csv (per point: runs, failures, mean and std over seeds)."""
    swept = list(study.axes) + list(study.random)
    measured = sorted({k for r in rows for k in r if k.startswith(("final_", "best_"))})
    head = ["spec", *swept, "seed", "status", "epochs", *measured, "compile_seconds", "run_seconds", "run_dir", "message"]
    _write_csv(os.path.join(root, "results.csv"), head, rows)
    _write_csv(os.path.join(root, "summary.csv"), *summarise(rows, swept, measured))


def summarise(rows, swept, measured) -> tuple:
    """(header, rows) of the per-point summary: mean and std over the seeds that completed."""
    groups = {}
    for row in rows:
        groups.setdefault((row["spec"], *(row[k] for k in swept)), []).append(row)
    head = ["spec", *swept, "runs", "failed"] + [f"{m}_{s}" for m in measured if not m.startswith("best_epoch")
                                                 for s in ("mean", "std")]
    out = []
    for key, group in groups.items():
        done = [r for r in group if r.get("status") == "completed"]
        entry = dict(zip(["spec", *swept], key), runs=len(group), failed=len(group) - len(done))
        for m in measured:
            values = [r[m] for r in done if m in r]
            if values and not m.startswith("best_epoch"):
                entry[f"{m}_mean"], entry[f"{m}_std"] = float(np.mean(values)), float(np.std(values))
        out.append(entry)
    return head, out


def best_points(summary_rows: list, count=3) -> tuple:
    """(the measure ranked by, the ``count`` best summary rows): the final test metric, else train."""
    from .runtime.metrics import HIGHER_IS_BETTER

    keys = [k[:-5] for k in (summary_rows[0] if summary_rows else {}) if k.startswith("final_") and k.endswith("_mean")]
    if not keys:
        return None, []
    key = next((k for k in keys if k.startswith("final_test_")), keys[0])
    higher = HIGHER_IS_BETTER.get(key.split("_", 2)[-1], True)
    ranked = sorted((r for r in summary_rows if f"{key}_mean" in r), key=lambda r: r[f"{key}_mean"], reverse=higher)
    return key, ranked[:count]


def _write_csv(path, head, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=head, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
