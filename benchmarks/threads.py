"""``python -m benchmarks.threads [--quick] [NAME ...]``: training time per batch on one BLAS thread,
on every core with the machine idle, and with a busy neighbour — a process spinning on one core,
which this benchmark starts and stops itself — for fixed thread counts and for ``auto``.

Each setting trains a fresh model through ``Model.fit`` (so ``auto`` pays for its own probing);
settings take turns, repeated, and the median per-batch time of each is reported as a ratio to
one thread on the idle machine. Targets (issue "Performance II"): the large PC on idle cores
≤ 0.6× one thread, any workload with a busy neighbour ≤ 1.2×, small nets never slower (≤ 1.05×,
the noise of one sitting)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import ngdsl
from ngdsl.runtime.threads import STANDARD_VARIABLES

from .workloads import WORKLOADS

LARGE = "pc-mlp 784-256-256-10"
SMALL = "pc-mlp 64-128-10"


def per_batch_ms(workload, threads, batches):
    """Median milliseconds between consecutive training batches of one ``fit`` epoch."""
    model = ngdsl.load(workload.path, set=workload.overrides + [f"data.n={batches * 64}", "metrics=[]"],
                       threads=threads)
    stamps = []
    model.fit(epochs=1, on_batch=lambda: stamps.append(time.perf_counter()))
    return 1000 * float(np.median(np.diff(stamps)))


def neighbour():
    """A process that keeps one core busy until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def measure(workload, cores, batches, reps):
    settings = {"1 thread": 1, f"{cores} threads": cores, "auto": "auto"}
    idle = {name: [] for name in settings}
    busy = {name: [] for name in settings}
    for threads in settings.values():        # compile (or load the cache) before timing anything
        per_batch_ms(workload, threads, 4)
    for _ in range(reps):
        for name, threads in settings.items():
            idle[name].append(per_batch_ms(workload, threads, batches))
        spinner = neighbour()
        try:
            time.sleep(0.2)
            for name, threads in settings.items():
                busy[name].append(per_batch_ms(workload, threads, batches))
        finally:
            spinner.kill()
            spinner.wait()
    median = lambda d: {k: float(np.median(v)) for k, v in d.items()}  # noqa: E731
    return median(idle), median(busy)


def report(name, idle, busy, cores):
    one = idle["1 thread"]
    ratio = lambda t: f"{t / one:.2f}×"  # noqa: E731
    print(f"== {name}\n  threads   1 thread {one:.3f} ms/batch\n"
          f"            {cores} cores idle:      {cores} threads {ratio(idle[f'{cores} threads'])}   "
          f"auto {ratio(idle['auto'])}\n"
          f"            busy neighbour:    1 thread {ratio(busy['1 thread'])}   {cores} threads "
          f"{ratio(busy[f'{cores} threads'])}   auto {ratio(busy['auto'])}", flush=True)
    targets = [("auto with a busy neighbour ≤ 1.2×", busy["auto"] / one <= 1.2)]
    if name == LARGE:
        targets.append(("auto on idle cores ≤ 0.6×", idle["auto"] / one <= 0.6))
    if name == SMALL:
        targets.append(("auto on idle cores ≤ 1.05×", idle["auto"] / one <= 1.05))
    for what, held in targets:
        print(f"  target    {what}: {'holds' if held else 'MISSED'}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.threads", description=__doc__)
    p.add_argument("names", nargs="*", help="workloads to run (substring match); default all")
    p.add_argument("--quick", action="store_true", help="fewer batches and repetitions")
    p.add_argument("--cores", help="comma-separated cores to run on (default: those this process may use)")
    args = p.parse_args(argv)
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
    for name in STANDARD_VARIABLES + ("NGDSL_THREADS",):
        os.environ.pop(name, None)      # the settings under test are the ones given to ngdsl.load
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2:
        print("threads   one usable core: nothing to compare", flush=True)
        return
    batches, reps = (40, 2) if args.quick else (150, 3)
    print(f"thread settings on {cores} cores: median ms per training batch over {batches} batches, "
          f"{reps} turns each", flush=True)
    for workload in WORKLOADS:
        if not args.names or any(n in workload.name for n in args.names):
            report(workload.name, *measure(workload, cores, batches, reps), cores)


if __name__ == "__main__":
    main()
