"""The numba kernels and the same generated code run by the interpreter agree on every spec."""
import glob
import os

import numpy as np
import pytest

from conftest import SPECS, load

ALL_SPECS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SPECS, "*.yaml")))


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-9), ("float32", 1e-2)])
@pytest.mark.parametrize("spec", ALL_SPECS)
def test_jit_equals_reference(spec, dtype, tolerance):
    # Only rounding may differ: the kernels fuse multiply-adds, the interpreter does not. In float32
    # a contrastive update (a difference of two phases' statistics) amplifies that rounding.
    jitted, reference = load(spec, f"dtype={dtype}", jit=True), load(spec, f"dtype={dtype}", jit=False)
    x, y = jitted.data.x_train[:4], jitted.data.y_train[:4]
    a, b = jitted.updates(x, y), reference.updates(x, y)
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=tolerance, atol=tolerance * np.abs(b[name]).max(),
                                   err_msg=name)
    for model in (jitted, reference):  # one optimizer step, then the predictions
        model.executor.train_batch(x, y)
    pa, pb = jitted.predict(x), reference.predict(x)
    np.testing.assert_allclose(pa, pb, rtol=tolerance, atol=tolerance * np.abs(pb).max())


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_same_seed_same_results(spec):
    first, second = load(spec, "train.epochs=1"), load(spec, "train.epochs=1")
    first.fit()
    second.fit()
    for name in first.weights:
        np.testing.assert_array_equal(first.weights[name], second.weights[name])
    assert first.history[0].keys() == second.history[0].keys()
    assert {k: v for k, v in first.history[0].items() if k != "seconds"} == \
           {k: v for k, v in second.history[0].items() if k != "seconds"}


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_optimised_plan_equals_unoptimised_plan(spec):
    import ngdsl
    from conftest import spec_path
    optimised = ngdsl.load(spec_path(spec), set=["dtype=float64"])
    plain = ngdsl.load(spec_path(spec), set=["dtype=float64"], optimize=False)
    x, y = optimised.data.x_train[:8], optimised.data.y_train[:8]
    a, b = optimised.updates(x, y), plain.updates(x, y)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(optimised.predict(x), plain.predict(x), rtol=1e-12, atol=1e-12)


def test_changing_a_value_reuses_the_compiled_kernels():
    # dt, nudge strength, rule scale and learning rate are data: the generated source does not change
    a = load("eqprop_xor.yaml", "train.epochs=1")
    b = load("eqprop_xor.yaml", "train.epochs=1", "components.h.dt=0.1", "cables.W1.rule.contrastive.scale=3.0",
             "schedule.train[1].clamp.o={value: data.y, beta: 0.3}", "train.optimizer={adam: {lr: 0.01}}")
    assert a.executor.source == b.executor.source and b.executor.kernel_cache == "warm"
    x, y = a.data.x_train, a.data.y_train
    assert not np.allclose(a.updates(x, y)["W1"], b.updates(x, y)["W1"])
