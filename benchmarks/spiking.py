"""``python -m benchmarks.spiking [--brian2-python PATH]``: the LIF + STDP network of
``specs/lif_stdp.yaml`` in ngdsl and the same network in Brian2 (``brian2_net.py``, its default
code-generation target), side by side: microseconds per simulated step, and seconds from a fresh
process's start to the end of its first step — cold (empty caches: Brian2 generates and compiles
its code, ngdsl its kernels) and warm (the caches of the cold run).

Brian2 runs in an interpreter of its own (``--brian2-python``, default ``$BRIAN2_PYTHON`` or this
one): Brian2 2.9 needs NumPy < 2.4. Targets (issue "Museum III"): ≥ 5× faster per step, ≥ 10×
faster first run."""
from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "specs", "lif_stdp.yaml")
STEPS = 1000
SETUP = ("python -m venv brian2-env && brian2-env/bin/pip install brian2 'numpy<2.4', then "
         "--brian2-python brian2-env/bin/python")


def probe(runs):
    """In a fresh process: ngdsl's figures, as Brian2's script reports its own."""
    import numpy as np

    import ngdsl
    from ngdsl.compiler.ops import Signal
    model = ngdsl.load(SPEC)
    executor, x = model.executor, np.ones((1, 1), dtype=model.plan.dtype)
    steps = executor.steps[("train", 0)]
    steps[0] = 1
    executor.train_batch(x, x)
    first = time.perf_counter() - START
    steps[0] = STEPS
    count = executor.buffers(1)[Signal("out", "n")]
    per_step, spikes = [], 0.0
    for _ in range(runs):
        t = time.perf_counter()
        executor.train_batch(x, x)
        per_step.append((time.perf_counter() - t) / STEPS * 1e6)
        spikes += float(count.sum())   # each trial starts its units at rest: n counts that trial's spikes
    print(json.dumps({"first_step_seconds": first, "per_step_us": float(np.median(per_step)),
                      "rate_hz": spikes / (100 * runs), "compile_seconds": model.compile_seconds}))


def fresh(command, home, env):
    """Run ``command`` in a new process whose caches live under ``home``; its JSON line."""
    env = dict(env, HOME=home, NGDSL_CACHE=os.path.join(home, "ngdsl"), NUMBA_CACHE_DIR=os.path.join(home, "numba"))
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=os.path.dirname(HERE))
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_and_warm(command, env):
    with tempfile.TemporaryDirectory() as home:
        return fresh(command, home, env), fresh(command, home, env)


def has_brian2(python):
    return subprocess.run([python, "-c", "import brian2"], capture_output=True).returncode == 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.spiking", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--brian2-python", default=os.environ.get("BRIAN2_PYTHON", sys.executable),
                   help="an interpreter with Brian2 installed (default: $BRIAN2_PYTHON or this one)")
    p.add_argument("--runs", type=int, default=5, help=f"timed runs of {STEPS} steps (default 5)")
    p.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        return probe(args.runs)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    ours = cold_and_warm([sys.executable, "-m", "benchmarks.spiking", "--probe", "--runs", str(args.runs)], env)
    print(f"== LIF + STDP, 784 Poisson inputs → 100 LIF units, every synapse learning every step (float64)\n"
          f"  ngdsl     {ours[1]['per_step_us']:7.1f} µs/step   first step cold {ours[0]['first_step_seconds']:5.2f} s"
          f"   warm {ours[1]['first_step_seconds']:5.2f} s   output {ours[1]['rate_hz']:.0f} Hz", flush=True)
    if not has_brian2(args.brian2_python):
        print(f"  Brian2    not found by {args.brian2_python}: {SETUP}")
        return
    theirs = cold_and_warm([args.brian2_python, os.path.join(HERE, "brian2_net.py"), str(args.runs)], env)
    print(f"  Brian2    {theirs[1]['per_step_us']:7.1f} µs/step   first step cold {theirs[0]['first_step_seconds']:5.2f} s"
          f"   warm {theirs[1]['first_step_seconds']:5.2f} s   output {theirs[1]['rate_hz']:.0f} Hz"
          f"   (target '{theirs[1]['target']}')")
    step = theirs[1]["per_step_us"] / ours[1]["per_step_us"]
    cold = theirs[0]["first_step_seconds"] / ours[0]["first_step_seconds"]
    warm = theirs[1]["first_step_seconds"] / ours[1]["first_step_seconds"]
    print(f"  ngdsl is  {step:.1f}× faster per step, {cold:.1f}× faster to a first step cold, {warm:.1f}× warm")
    for what, held in (("≥ 5× faster per step", step >= 5), ("≥ 10× faster first run", cold >= 10)):
        print(f"  target    {what}: {'holds' if held else 'MISSED'}")


if __name__ == "__main__":
    main()
