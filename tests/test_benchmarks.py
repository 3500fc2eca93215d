"""The benchmark runner works end to end (it measures; this only checks that it runs and reports)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ngdsl
from ngdsl.compiler.ops import MatMul

from conftest import ROOT

sys.path.insert(0, ROOT)
from benchmarks.floor import Floor, trial_products  # noqa: E402
from benchmarks.numpy_pc import NumpyPC  # noqa: E402


def test_floor_counts_the_products_one_trial_executes():
    model = ngdsl.load(f"{ROOT}/benchmarks/specs/pc_mlp_small.yaml")
    products = trial_products(model.plan, 64)
    phase = model.plan.routines["train"].segments[0].phases[0]
    per_step = [op for op in phase.step if isinstance(op, MatMul)]
    assert sum(t for *_, t in products if t == phase.steps) == len(per_step) * phase.steps
    assert "W1" not in {op.weight for op in per_step}            # hoisted: once per phase
    floor = Floor(model.plan, 64, np.float32)
    macs = sum(a[0] * a[1] * b[1 if not tr else 0] * t for a, b, tr, t in products)
    assert floor.multiply_adds == macs


@pytest.mark.parametrize("hoisted", [False, True])
def test_the_numpy_baselines_compute_what_ngdsl_computes(hoisted):
    """The NumPy PC the benchmarks time against does the same work: after one trial from the same
    weights (float64) its weights equal ngdsl's to 1e-10."""
    model = ngdsl.load(f"{ROOT}/benchmarks/specs/pc_mlp_small.yaml", set=["dtype=float64", "train.optimizer={sgd: {lr: 0.1}}"])
    baseline = NumpyPC.like(model, hoisted)
    x, y = model.data.x_train[:64].copy(), model.data.y_train[:64].copy()
    before = [w.copy() for w in baseline.w]
    model.executor.train_batch(x, y)
    baseline.trial(x, y)
    for name, ours, theirs, start in zip(("W1", "W2"), (model.weights["W1"], model.weights["W2"]), baseline.w, before):
        assert np.abs(theirs - start).max() > 1e-4                     # the trial moved the weights
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.slow
def test_benchmark_runner_reports_every_measure():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--reps", "3", "--quick", "64-128-10"],
                            capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for pattern in (r"numba [\d.]+ +reference \(no JIT\) [\d.]+ +BLAS floor [\d.]+", r"numpy/numba [\d.]+ \(hoisted [\d.]+\)",
                    r"cold [\d.]+ s \(process ready in [\d.]+ s; compiling in one process [\d.]+ s\) +warm start [\d.]+ s", r"resident per epoch \[", r"T: exponent [\d.-]+",
                    r"batch 64→256: exponent [\d.-]+ \(floor [\d.-]+\); numba/floor [\d.]+ → [\d.]+"):
        assert re.search(pattern, out), pattern
    if len(os.sched_getaffinity(0)) > 1:
        for pattern in (r"cores idle: +\d+ threads [\d.]+× +auto [\d.]+×",
                        r"busy neighbour: +1 thread [\d.]+× +\d+ threads [\d.]+× +auto [\d.]+×",
                        r"target +auto with a busy neighbour ≤ 1.2×: (holds|MISSED)"):
            assert re.search(pattern, out), pattern


@pytest.mark.slow
def test_rbm_benchmark_compares_with_scikit_learn():
    result = subprocess.run([sys.executable, "-m", "benchmarks.rbm", "--epochs", "2"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    assert re.search(r"seconds per epoch +[\d.]+ +[\d.]+", result.stdout)
    assert re.search(r"logistic regression on h +0\.\d+ +0\.\d+", result.stdout)


@pytest.mark.slow
def test_an_mnist_sized_file_trains_in_flat_memory():
    result = subprocess.run([sys.executable, "-m", "benchmarks.mnist_scale", "--epochs", "2"],
                            capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert result.returncode == 0, result.stderr
    resident = [[float(v) for v in found.split(",")]
                for found in re.findall(r"resident after each epoch \[([\d., ]+)\] MB", result.stdout)]
    assert len(resident) == 2                          # PC and BP
    for per_epoch in resident:
        assert per_epoch[-1] - per_epoch[0] < 2.0      # MB: nothing accumulates across epochs
    assert len(re.findall(r"epoch +[\d.]+, [\d.]+ s", result.stdout)) == 2


@pytest.mark.slow
def test_spiking_benchmark_reports_ngdsl_and_says_how_to_add_brian2(tmp_path):
    # Brian2 is not a dependency: without it the benchmark reports ngdsl's side and the setup
    missing = tmp_path / "no-brian2"
    missing.write_text("#!/bin/sh\nexit 1\n")
    missing.chmod(0o755)
    result = subprocess.run([sys.executable, "-m", "benchmarks.spiking", "--runs", "1", "--brian2-python", str(missing)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    found = re.search(r"ngdsl +([\d.]+) µs/step +first step cold +([\d.]+) s +warm +([\d.]+) s +output (\d+) Hz",
                      result.stdout)
    assert found, result.stdout
    assert 20 <= int(found[4]) <= 80          # the network fires as Brian2's does (44 Hz)
    assert "Brian2    not found" in result.stdout and "pip install brian2 'numpy<2.4'" in result.stdout
