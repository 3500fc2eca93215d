"""A trial starts from its own clamps and data: what ran before it (train or predict, on other
batches) never changes the ΔW it forms (given the same random numbers and persistent chains, for
specs that have them: those are set alike; they carry over by design)."""
import glob
import os

import numpy as np
import pytest

import ngdsl

from conftest import ROOT, SPECS

SHIPPED = sorted(glob.glob(os.path.join(SPECS, "*.yaml")) + glob.glob(os.path.join(ROOT, "benchmarks", "specs", "*.yaml")))


def _batches(model, size=16):
    x, y = model.data.x_train, model.data.y_train
    # chains: a batch; a one-example dataset (stdp_pairs) runs that example before itself
    size = max(1, min(size, len(x) // 2, *([model.plan.data["batch"]] if model.plan.persistent else [])))
    return (x[:size], y[:size]), (x[len(x) - size:], y[len(y) - size:])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: os.path.basename(p)[:-5])
def test_a_trials_updates_do_not_depend_on_what_ran_before(path):
    fresh = ngdsl.load(path)
    (x, y), (x_other, y_other) = _batches(fresh)
    trial = int(fresh.executor.draw[1])
    chains = {s: a.copy() for s, a in fresh.executor.chains.items()}
    expected = fresh.updates(x, y)

    model = ngdsl.load(path)
    weights = {n: w.copy() for n, w in model.weights.items()}
    if "predict" in model.plan.routines:
        model.executor.predict_batch(np.ascontiguousarray(x_other))
    model.executor.train_batch(np.ascontiguousarray(x_other), np.ascontiguousarray(y_other))
    model.updates(x_other, y_other)
    for name, w in weights.items():   # undo the training step: only the buffers it left remain
        model.weights[name][...] = w
    model.executor.draw[1] = trial
    for signal, a in chains.items():
        model.executor.chains[signal][...] = a
    got = model.updates(x, y)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
