"""``python -m benchmarks [--quick] [NAME ...]``: step time of the numba runtime against the
reference executor, the BLAS floor and plain NumPy, measured interleaved in one process; compile
and warm-start times and memory in fresh processes; scaling exponents in T, batch and width; then
the thread settings (:mod:`benchmarks.threads`) on every core, idle and beside a busy neighbour; and
the spiking network against Brian2 (:mod:`benchmarks.spiking`)."""
from __future__ import annotations

import os

# One BLAS thread, one core (set before numpy loads): numpy's and numba's OpenBLAS pools would
# otherwise spin against each other between interleaved calls on a 2-core machine.
from ngdsl.runtime.threads import STANDARD_VARIABLES  # loads no numpy: the settings below still act

for _var in STANDARD_VARIABLES:
    os.environ.setdefault(_var, "1")
CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
if CORES:
    os.sched_setaffinity(0, {CORES[0]})

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time

import numpy as np

import ngdsl

from .floor import Floor
from .numpy_pc import NumpyPC
from .workloads import WORKLOADS

HERE = os.path.dirname(os.path.abspath(__file__))


def _width_overrides(template, value):
    head, names = template.split("{")
    names, tail = names.split("}")
    return [f"{head}{n}{tail}={value}" for n in names.split(",")]


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_ms(samples):
    return 1000 * float(np.median(samples))


def trial_times(workload, overrides, batch, reps):
    """Median seconds of one trial of the numba runtime and of its BLAS floor (interleaved), and the
    floor's multiply-adds."""
    model = ngdsl.load(workload.path, set=workload.overrides + overrides)
    x, y = _batch(model, batch)
    floor = Floor(model.plan, batch, np.dtype(model.plan.dtype))
    run = lambda: model.executor.train_batch(x, y)  # noqa: E731
    run()
    floor()
    samples = [(_timed(run), _timed(floor)) for _ in range(reps)]
    numba_s, floor_s = (float(np.median(column)) for column in zip(*samples))
    return numba_s, floor_s, floor.multiply_adds


def _batch(model, batch):
    idx = np.arange(batch) % len(model.data.x_train)
    return np.ascontiguousarray(model.data.x_train[idx]), np.ascontiguousarray(model.data.y_train[idx])


def probe(workload, cache, **settings):
    env = dict(os.environ, NGDSL_CACHE=cache, **settings)
    out = subprocess.run([sys.executable, "-m", "benchmarks.probe", workload.path, *workload.overrides],
                         capture_output=True, text=True, env=env, cwd=os.path.dirname(HERE), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def exponent(t_small, t_large, ratio):
    return math.log(t_large / t_small) / math.log(ratio)


def measure(workload, reps, quick):
    model = ngdsl.load(workload.path, set=workload.overrides)
    plan = model.plan
    batch = model.data.batch
    x, y = _batch(model, batch)
    floor = Floor(plan, batch, np.dtype(plan.dtype))
    contenders = {"numba": lambda: model.executor.train_batch(x, y), "floor": floor}
    if workload.numpy:
        plain, hoisted = NumpyPC.like(model), NumpyPC.like(model, hoisted=True)
        contenders["numpy"] = lambda: plain.trial(x, y)
        contenders["numpy_hoisted"] = lambda: hoisted.trial(x, y)
    for fn in contenders.values():
        fn()
    samples = {k: [] for k in contenders}
    for _ in range(reps):   # interleaved, so drift on a shared machine hits every contender alike
        for name, fn in contenders.items():
            samples[name].append(_timed(fn))
    row = {k: _median_ms(v) for k, v in samples.items()}
    reference = ngdsl.load(workload.path, set=workload.overrides, jit=False)
    row["reference"] = 1000 * _timed(lambda: reference.executor.train_batch(x, y))
    row["floor_gmac"] = floor.multiply_adds / 1e9

    with tempfile.TemporaryDirectory() as cache:   # one process compiling everything, as on one core
        serial = probe(workload, cache, NGDSL_SERIAL_COMPILE="1")
    with tempfile.TemporaryDirectory() as cache:
        cold = probe(workload, cache)
        warm = probe(workload, cache)
    row.update(cold_compile=cold["compile_seconds"], cold_ready=cold["ready_seconds"],
               serial_ready=serial["ready_seconds"], warm_start=warm["compile_seconds"],
               warm_ready=warm["ready_seconds"], peak_mb=warm["peak_mb"], rss_mb=warm["rss_mb"])

    scale_reps = max(5, reps // 2)
    if workload.steps:
        # Linear in T means a constant cost per step: the exponent of the T-dependent part of a trial.
        steps = [plan.routines["train"].segments[0].phases[i].steps for i in range(len(workload.steps))]
        at = lambda k: [f"{key}={k * s}" for key, s in zip(workload.steps, steps)]  # noqa: E731
        t0, t1, t4 = (trial_times(workload, at(k), batch, scale_reps)[0] for k in (0, 1, 4))
        row["T"] = exponent(t1 - t0, t4 - t0, 4)
    # From the workload's batch up: below about 64 rows single-thread BLAS is itself still
    # speeding up per row (its own exponent over 32→128 is near 0.8).
    small, large = trial_times(workload, [], batch, scale_reps), trial_times(workload, [], 4 * batch, scale_reps)
    row["batch"] = _scaling(small, large, 4)
    row["batches"] = (batch, 4 * batch)
    if not quick:
        template, lo, hi = workload.width
        small = trial_times(workload, _width_overrides(template, lo), batch, scale_reps)
        large = trial_times(workload, _width_overrides(template, hi), batch, scale_reps)
        row["width"] = _scaling(small, large, large[2] / small[2])
    return row


def _scaling(small, large, ratio):
    """Exponents of numba's and the floor's time against ``ratio`` (the growth of the work), and
    numba / floor at both ends."""
    return (exponent(small[0], large[0], ratio), exponent(small[1], large[1], ratio),
            small[0] / small[1], large[0] / large[1])


def report(name, row):
    lines = [f"== {name}",
             f"  ms/step   numba {row['numba']:.3f}   reference (no JIT) {row['reference']:.1f}   "
             f"BLAS floor {row['floor']:.3f} ({row['floor_gmac']:.3f} GMAC)"
             + (f"   numpy {row['numpy']:.3f} (hoisted {row['numpy_hoisted']:.3f})" if "numpy" in row else ""),
             f"  ratios    numba/floor {row['numba'] / row['floor']:.2f}   reference/numba {row['reference'] / row['numba']:.0f}"
             + (f"   numpy/numba {row['numpy'] / row['numba']:.2f} (hoisted {row['numpy_hoisted'] / row['numba']:.2f})"
                if "numpy" in row else ""),
             f"  compile   cold {row['cold_compile']:.2f} s (process ready in {row['cold_ready']:.2f} s; compiling in "
             f"one process {row['serial_ready']:.2f} s)   warm start {row['warm_start']:.3f} s "
             f"(process ready in {row['warm_ready']:.2f} s)",
             f"  memory    peak {row['peak_mb']:.0f} MB   resident per epoch {row['rss_mb']} MB"]
    if "T" in row:
        lines.append(f"  scaling   T: exponent {row['T']:.2f} (of the T-dependent part)")
    batch = "batch {}→{}".format(*row["batches"])
    for key, what in (("batch", batch), ("width", "width, against executed multiply-adds")):
        if key in row:
            e, ef, r1, r2 = row[key]
            lines.append(f"  scaling   {what}: exponent {e:.2f} (floor {ef:.2f}); numba/floor {r1:.2f} → {r2:.2f}")
    print("\n".join(lines), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("names", nargs="*", help="workloads to run (substring match); default all")
    p.add_argument("--reps", type=int, default=30, help="interleaved repetitions (default 30)")
    p.add_argument("--quick", action="store_true", help="skip the width exponent")
    p.add_argument("--brian2-python", default=os.environ.get("BRIAN2_PYTHON", sys.executable),
                   help="an interpreter with Brian2, for the spiking comparison (default: $BRIAN2_PYTHON or this one)")
    args = p.parse_args(argv)
    chosen = [w for w in WORKLOADS if not args.names or any(n in w.name for n in args.names)]
    print(f"ngdsl {ngdsl.__version__}, numpy {np.__version__}; pinned to 1 of {os.cpu_count()} cores, 1 BLAS thread; "
          f"medians of {args.reps} interleaved trials (one trial = all settling steps + the update)", flush=True)
    for workload in chosen:
        report(workload.name, measure(workload, args.reps, args.quick))
    if chosen and len(CORES) > 1:
        # In a process of its own: this one is pinned to one core with one BLAS thread.
        env = {k: v for k, v in os.environ.items()
               if k not in STANDARD_VARIABLES + ("NGDSL_THREADS",)}
        subprocess.run([sys.executable, "-m", "benchmarks.threads", "--cores", ",".join(map(str, CORES)),
                        *(["--quick"] if args.quick else []), *[w.name for w in chosen]],
                       env=env, cwd=os.path.dirname(HERE), check=True)
    if not args.names or any(n in "spiking lif-stdp" for n in args.names):
        # Fresh processes, cold and warm, on this process's one core; Brian2 in its own interpreter.
        subprocess.run([sys.executable, "-m", "benchmarks.spiking", "--brian2-python", args.brian2_python,
                        *(["--runs", "2"] if args.quick else [])], cwd=os.path.dirname(HERE), check=True)


if __name__ == "__main__":
    main()
