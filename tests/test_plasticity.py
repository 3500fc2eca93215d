"""Online plasticity: a phase's `learn` applies a cable's rule after every step, inside the kernel."""
import numpy as np
import pytest

import ngdsl
from ngdsl.compiler import SpecError, compile_text

ONLINE = """ngdsl: 1
name: online
dtype: float64
data: {dataset: gaussian, dim: 4, n: 40, test_fraction: 0.0, batch: 8, shuffle: false}
components:
  x: {kind: input, size: 4}
  y: {kind: state, size: 3, leak: 1.0, dt: 1.0}
cables:
  W: {from: x, to: y, init: {dist: normal, scale: 0.3}, lr: 0.1, rule: {equation: {dW: "outer(post, pre) - W"}}}
schedule:
  train:
    - {phase: run, steps: 5, clamp: {x: data.x}, init: zero, learn: [W]}
  predict:
    - {phase: run, steps: 5, clamp: {x: data.x}, init: zero, read: y}
"""


def reference(w, x, steps=5, lr=0.1):
    """numpy: y.z += (W x − y.z) each step, so y = W x of this step's W; then W += lr·(⟨y ⊗ x⟩ − W)."""
    for _ in range(steps):
        y = x @ w.T
        w = w + lr * (y.T @ x / len(x) - w)
    return w


def test_a_phase_applies_its_rule_after_every_step(write_spec):
    model = ngdsl.load(write_spec(ONLINE))
    w0 = model.weights["W"].copy()
    x = model.data.x_train[:8]
    np.testing.assert_allclose(model.updates(x, np.zeros((8, 1)))["W"], reference(w0, x) - w0, rtol=1e-12)
    np.testing.assert_array_equal(model.weights["W"], w0)   # updates() reports the change and undoes it
    model.fit(epochs=1)
    w = w0
    for start in range(0, 40, 8):   # one trial per batch, in order (the spec does not shuffle)
        w = reference(w, model.data.x_train[start:start + 8])
    np.testing.assert_allclose(model.weights["W"], w, rtol=1e-12)


@pytest.mark.parametrize("rule, decay", [
    ("outer(post, pre) - 0.5 * outer(post * post, pre)", lambda w, y: 0.0),
    ("outer(post, pre) - 0.5 * outer(post * post, pre) - 0.2 * W - diag(mean(post * post)) @ W",
     lambda w, y: 0.2 * w + np.mean(y * y, axis=0)[:, None] * w),
])
def test_a_rule_of_outer_products_and_row_decays_is_applied_every_step_over_a_batch(write_spec, rule, decay):
    # such a rule is formed and applied a row of W at a time (the fast path of spiking circuits)
    model = ngdsl.load(write_spec(ONLINE.replace('"outer(post, pre) - W"', f'"{rule}"')))
    w = model.weights["W"].copy()
    model.fit(epochs=1)
    for start in range(0, 40, 8):
        x = model.data.x_train[start:start + 8]
        for _ in range(5):
            y = x @ w.T
            w = w + 0.1 * ((y - 0.5 * y * y).T @ x / len(x) - decay(w, y))
    np.testing.assert_allclose(model.weights["W"], w, rtol=1e-12)


def test_the_product_through_a_plastic_weight_is_recomputed_every_step(write_spec):
    # with the product hoisted out of the loop (as it is for fixed weights) y would keep W₀ x
    compiled = compile_text(ONLINE)
    phase = compiled.plan.routines["train"].segments[0].phases[0]
    assert not phase.hoisted and any(getattr(op, "plastic", False) for op in phase.step)
    unchanged = compile_text(ONLINE.replace(", learn: [W]", "").replace("    - {phase: run, steps: 5, clamp: "
                                                                         "{x: data.x}, init: zero}",
                                                                         "    - {phase: run, steps: 5, clamp: "
                                                                         "{x: data.x}, init: zero}\n    - {update: [W]}"))
    assert unchanged.plan.routines["train"].segments[0].phases[0].hoisted


def test_loading_a_model_leaves_its_plastic_weights_as_drawn(write_spec):
    path = write_spec(ONLINE)
    drawn = ngdsl.load(path, jit=False).weights["W"]   # the interpreter compiles nothing
    np.testing.assert_array_equal(ngdsl.load(path).weights["W"], drawn)


@pytest.mark.parametrize("change, message", [
    (("    - {phase: run, steps: 5, clamp: {x: data.x}, init: zero, read: y}",
      "    - {phase: run, steps: 5, clamp: {x: data.x}, init: zero, read: y, learn: [W]}"),
     "spec.yaml:14:79: error: 'predict' cannot change weights; learn belongs in schedule.train"),
    (("learn: [W]}\n  predict", "learn: [V]}\n  predict"),
     "spec.yaml:12:70: error: learn names no cable 'V'"),
    (("lr: 0.1, rule", "lr: 0.1, mask: zero_diagonal, rule"),
     "spec.yaml:12:70: error: cable 'W' is masked or has derived views; it can change in an update, not every step"),
])
def test_a_cable_a_phase_cannot_change_every_step_is_named(change, message):
    text = ONLINE.replace(*change)
    if "mask" in change[1]:   # a mask needs a square cable
        text = text.replace("size: 3, leak", "size: 4, leak")
    assert text != ONLINE
    with pytest.raises(SpecError) as exc:
        compile_text(text, "spec.yaml")
    assert message in [str(d) for d in exc.value.diagnostics]
