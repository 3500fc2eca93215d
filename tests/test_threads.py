"""BLAS threads: where the setting comes from, that it is in force while a model works, and how
``auto`` chooses — driven here by batch times given to it, so the choices are exact."""
import json
import os

import pytest

import ngdsl
from ngdsl.runtime.threads import MeasuredThreads, thread_setting

from conftest import load, run_cli, spec_path


def blas():
    from threadpoolctl import threadpool_info
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


@pytest.mark.parametrize("threads", [1, 2])
def test_blas_threads_are_set_while_the_model_works_and_restored_after(threads):
    if threads > (os.cpu_count() or 1):
        pytest.skip("more threads than cores")
    model = ngdsl.load(spec_path("bp_digits.yaml"), set=["train.epochs=1"], threads=threads)
    before, seen = blas(), []
    model.fit(on_batch=lambda: seen.append(blas()))
    assert seen and all(set(s.values()) == {threads} for s in seen)
    assert blas() == before


def test_the_setting_comes_from_the_caller_then_ngdsl_threads_then_the_spec_then_omp(monkeypatch, tmp_path):
    for name in ("NGDSL_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert thread_setting() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_setting() == 3
    assert thread_setting(spec="auto") == "auto"
    monkeypatch.setenv("NGDSL_THREADS", "2")
    assert thread_setting(spec="auto") == 2
    assert thread_setting(explicit=1, spec="auto") == 1
    monkeypatch.setenv("NGDSL_THREADS", "many")          # not a setting: skipped, and said
    with pytest.warns(UserWarning, match=r"\$NGDSL_THREADS='many' is not a thread count"):
        assert thread_setting() == 3
    monkeypatch.delenv("NGDSL_THREADS")
    assert load("eqprop_xor.yaml", "train.threads=auto").threads == "auto"
    assert ngdsl.load(spec_path("eqprop_xor.yaml"), threads=2).threads == 2


def test_the_cli_takes_a_count_or_auto_and_the_manifest_says_which_was_used(tmp_path):
    bad = run_cli("run", spec_path("eqprop_xor.yaml"), "--threads", "0", "--out", str(tmp_path))
    assert bad.returncode == 2 and "'0' is not a thread count: a whole number of at least 1, or auto" in bad.stderr
    ok = run_cli("run", spec_path("eqprop_xor.yaml"), "--threads", "auto", "--epochs", "1", "--no-plots", "--quiet",
                 "--out", str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    [run] = os.listdir(tmp_path)
    timings = json.load(open(tmp_path / run / "manifest.json"))["timings"]
    assert timings["threads"] == "auto" and timings["threads_in_use"] in (1, os.cpu_count())


def feed(policy, seconds_for, batches, rows=32):
    """Run ``batches`` training batches whose time depends on the thread count; the counts used."""
    used = []
    for _ in range(batches):
        used.append(policy.count)
        policy.observe(rows, seconds_for(policy.count))
    return used


def test_auto_alternates_then_keeps_more_threads_when_they_are_faster():
    policy = MeasuredThreads(2)
    used = feed(policy, {1: 1.0, 2: 0.6}.get, 20)
    assert used[:6] == [1, 2] * 3 and set(used[6:]) == {2}


def test_auto_keeps_one_thread_when_more_do_not_pay_and_asks_again_ever_more_rarely():
    policy = MeasuredThreads(2)
    used = feed(policy, {1: 1.0, 2: 0.95}.get, 6 + 64 + 6 + 128 + 6)
    assert [i for i, count in enumerate(used) if count == 2] == [1, 3, 5, 71, 73, 75, 205, 207, 209]


def test_auto_drops_to_one_thread_when_a_neighbour_slows_it_and_returns_when_it_leaves():
    policy = MeasuredThreads(2)
    feed(policy, {1: 1.0, 2: 0.6}.get, 10)
    neighbour = feed(policy, {1: 1.0, 2: 3.0}.get, 10)
    assert neighbour[:2] == [2, 2] and set(neighbour[2:]) == {1}    # two slow batches, then one thread
    gone = feed(policy, {1: 1.0, 2: 0.6}.get, 64 + 6 + 5)
    assert gone[-5:] == [2] * 5


def test_auto_ignores_a_short_last_batch():
    policy = MeasuredThreads(2)
    policy.observe(32, 1.0)
    policy.observe(5, 100.0)       # the epoch's remainder: not a measurement
    assert policy.count == 2 and len(policy.samples[1]) == 1


def test_a_model_on_auto_runs_each_batch_on_the_count_it_chose():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: auto is one thread")
    model = load("bp_digits.yaml", "train.epochs=2", "train.threads=auto")
    before, seen = blas(), []
    model.fit(on_batch=lambda: seen.append(set(blas().values())))
    assert seen[:6] == [{1}, {2}] * 3                 # the probe: one thread, then both cores, alternately
    assert blas() == before
    assert {len(s) for s in seen} == {1}
