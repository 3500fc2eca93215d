"""The NumPy interpreter of plans, an independent reference: every shipped spec's optimised, fused,
jitted kernels agree with its unoptimised plan run operator by operator, and a code-generation bug
that the generated Python reference would share shows as a difference."""
import ast
import glob
import os

import numpy as np
import pytest

import ngdsl
from ngdsl.runtime import loops

from conftest import SPECS



def _stores_a_local(stmt):
    store = loops.element_store(stmt)
    return bool(store) and isinstance(store[2], ast.Name) and store[2].id.startswith("v_")
ALL_SPECS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SPECS, "*.yaml")))


def _pair(spec, **jit_options):
    path = os.path.join(SPECS, spec)
    fused = ngdsl.load(path, set=["dtype=float64"], **jit_options)
    interpreted = ngdsl.load(path, set=["dtype=float64"], optimize=False, interpret=True)
    return fused, interpreted


def _batch(model):
    n = min(4, model.plan.data["batch"]) if model.plan.persistent else 4
    return model.data.x_train[:n], model.data.y_train[:n]


def _close(a, b, what):
    worst = np.abs(a - b).max() / (np.abs(b).max() or 1.0)
    assert worst <= 1e-10, f"{what}: the kernels and the interpreter differ by {worst:.1e}"


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_the_kernels_agree_with_the_plan_run_operator_by_operator(spec):
    fused, interpreted = _pair(spec)
    x, y = _batch(fused)
    a, b = fused.updates(x, y), interpreted.updates(x, y)
    assert a.keys() == b.keys()
    for name in a:
        _close(a[name], b[name], name)
    for model in (fused, interpreted):   # a trial that applies its updates, then the predictions
        model.executor.train_batch(x, y)
    for name in fused.weights:
        _close(fused.weights[name], interpreted.weights[name], f"{name} after a trial")
    _close(fused.predict(x), interpreted.predict(x), "predictions")


def test_a_fusion_bug_shows_against_the_interpreter(monkeypatch):
    # Break the generated code the way a fusion bug would: a value a fused loop forwards through a local
    # is never stored. The Python reference runs the same broken text and agrees with the kernels;
    # the interpreter does not.
    def forgets_stores(body):
        return [stmt for stmt in forwarded(body) if not _stores_a_local(stmt)]
    forwarded = loops.through_locals
    monkeypatch.setattr(loops, "through_locals", forgets_stores)
    path = os.path.join(SPECS, "pc_digits.yaml")
    broken = ngdsl.load(path, set=["dtype=float64"], jit=False)
    interpreted = ngdsl.load(path, set=["dtype=float64"], optimize=False, interpret=True)
    x, y = _batch(broken)
    got, want = broken.updates(x, y), interpreted.updates(x, y)
    assert any(np.abs(got[n] - want[n]).max() > 1e-6 for n in want)


NORMALISER = """ngdsl: 1
name: normaliser
seed: 0
dtype: float64
data: {dataset: digits, batch: 8}
components:
  x: {kind: input, size: 64}
  h: {kind: state, size: 6, dt: 0.5, leak: 1.0, activation: {phi: "z / sqrt(total(z * z) + 1)", dphi: "0 * z"}}
  o: {kind: rate, size: 3}
cables:
  W: {from: x, to: h, rule: none, init: {dist: normal, scale: 0.3}}
  V: {from: h, to: o, rule: none, init: {dist: normal, scale: 1.0}}
schedule:
  train:
    - {phase: run, steps: 5, clamp: {x: data.x}}
  predict:
    - {phase: run, steps: 5, clamp: {x: data.x}, read: o}
"""


def test_a_sum_over_units_in_an_activation_is_recomputed_wherever_the_activation_is(write_spec):
    # The activation runs in the setup and in every step; its total(z * z) must be of that z each
    # time (the kernels once reused the first one: 13 off against the interpreter).
    path = write_spec(NORMALISER)
    fused, interpreted = ngdsl.load(path), ngdsl.load(path, optimize=False, interpret=True)
    x = fused.data.x_test[:8]
    z = x @ fused.weights["W"].T
    h = np.zeros_like(z)
    for _ in range(5):   # the state integrates its drive: z += dt·(W x − z)
        h += 0.5 * (z - h)
    want = (h / np.sqrt(np.sum(h * h, axis=1, keepdims=True) + 1)) @ fused.weights["V"].T
    np.testing.assert_allclose(interpreted.predict(x), want, rtol=1e-10)
    np.testing.assert_allclose(fused.predict(x), want, rtol=1e-10)
