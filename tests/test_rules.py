"""Rules and optimizers against closed forms and numpy references."""
import numpy as np
import pytest

import ngdsl
from ngdsl.runtime.library import sigmoid_f32, tanh_f32

SOFT_BOUND = """ngdsl: 1
name: soft-bound
data: {dataset: xor, repeat: 4, test_fraction: 0.0, batch: 4}
dtype: float64
components:
  x: {kind: input, size: 2}
  y: {kind: state, size: 3}
cables:
  W: {from: x, to: y, init: {dist: constant, scale: 0.05}, rule: {hebbian: {w_max: 1.0, decay: 0.1}}}
schedule:
  train:
    - {phase: hold, steps: 0, clamp: {x: 0.5, y: 0.8}}
    - {update: [W]}
train: {epochs: 300, optimizer: {sgd: {lr: 0.1}}}
"""


def test_hebbian_with_soft_bounds_and_decay_reaches_its_fixed_point(write_spec):
    # τ dW/dt = (w_max − W) ⊙ C − γW with C = post·pre = 0.4  ⇒  W* = w_max·C/(C + γ) = 0.8
    model = ngdsl.load(write_spec(SOFT_BOUND))
    trajectory = []
    model.fit(on_epoch=lambda r: trajectory.append(model.weights["W"].copy()))
    np.testing.assert_allclose(model.weights["W"], 0.8, atol=1e-9)
    assert all(np.all((w >= 0) & (w < 1.0)) for w in trajectory)


def test_plain_hebbian_update_is_the_outer_product(write_spec):
    model = ngdsl.load(write_spec(SOFT_BOUND.replace("{hebbian: {w_max: 1.0, decay: 0.1}}", "hebbian")))
    delta = model.updates(model.data.x_train[:4], model.data.y_train[:4])["W"]
    np.testing.assert_allclose(delta, np.full((3, 2), 0.8 * 0.5))


DELTA = """ngdsl: 1
name: delta
dtype: float64
data: {dataset: blobs, n: 200, centers: 2, features: 3, test_fraction: 0.25, batch: 10}
components:
  x: {kind: input, size: 3}
  t: {kind: input, size: 2}
  y: {kind: rate, size: 2, activation: sigmoid}
cables:
  W: {from: x, to: y, bias: true, init: {dist: normal, scale: 0.3}, rule: {delta: {target: t}}}
schedule:
  train:
    - {phase: forward, steps: 0, clamp: {x: data.x, t: data.y}}
    - {update: [W]}
  predict:
    - {phase: forward, steps: 0, clamp: {x: data.x}, read: y}
train: {epochs: 20, optimizer: {sgd: {lr: 0.5}}}
metrics: [accuracy]
"""


def test_delta_rule_is_the_gradient_of_the_squared_error(write_spec):
    model = ngdsl.load(write_spec(DELTA))
    x, t = model.data.x_train[:10], model.data.y_train[:10]
    updates = model.updates(x, t)
    w, b = model.weights["W"], model.weights["W.bias"]
    y = 1 / (1 + np.exp(-(x @ w.T + b)))
    d = (t - y) * y * (1 - y)                  # −∂(½‖y − t‖²)/∂h
    np.testing.assert_allclose(updates["W"], d.T @ x / 10, rtol=1e-12)
    np.testing.assert_allclose(updates["W.bias"], d.mean(0), rtol=1e-12)
    model.fit()
    assert model.history[-1]["test_accuracy"] >= 0.95


def test_lms_converges_to_the_least_squares_solution(write_spec):
    # Widrow-Hoff: a linear unit with the delta rule, full-batch gradient descent → W* = Y Xᵀ(X Xᵀ)⁻¹
    spec = DELTA.replace("activation: sigmoid", "activation: identity").replace("batch: 10", "batch: 150") \
        .replace("{epochs: 20, optimizer: {sgd: {lr: 0.5}}}", "{epochs: 20000, optimizer: {sgd: {lr: 0.05}}}") \
        .replace("metrics: [accuracy]", "metrics: []")
    model = ngdsl.load(write_spec(spec))
    model.fit()
    x, t = model.data.x_train, model.data.y_train
    ones = np.hstack([x, np.ones((len(x), 1))])
    solution = np.linalg.lstsq(ones, t, rcond=None)[0].T          # (outputs, inputs + bias)
    np.testing.assert_allclose(model.weights["W"], solution[:, :-1], atol=1e-6)
    np.testing.assert_allclose(model.weights["W.bias"], solution[:, -1], atol=1e-6)


@pytest.mark.parametrize("optimizer", ["{sgd: {lr: 0.1}}", "{momentum: {lr: 0.1, momentum: 0.5}}",
                                       "{adam: {lr: 0.01}}", "{rmsprop: {lr: 0.01, rho: 0.8}}"])
def test_optimizers_follow_their_update_equations(write_spec, optimizer):
    model = ngdsl.load(write_spec(DELTA.replace("{sgd: {lr: 0.5}}", optimizer)))
    (name, hyper), = __import__("yaml").safe_load(optimizer).items()
    w = model.weights["W"].copy()
    velocity, m, v = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, (x, y) in enumerate([(model.data.x_train[i:i + 10], model.data.y_train[i:i + 10]) for i in (0, 10, 20)], 1):
        delta = model.updates(x, y)["W"]
        model.executor.train_batch(x, y)
        if name == "sgd":
            w = w + hyper["lr"] * delta
        elif name == "momentum":
            velocity = hyper["momentum"] * velocity + delta
            w = w + hyper["lr"] * velocity
        elif name == "rmsprop":
            v = 0.8 * v + 0.2 * delta ** 2
            w = w + hyper["lr"] * delta / (np.sqrt(v) + 1e-8)
        else:
            m = 0.9 * m - 0.1 * delta
            v = 0.999 * v + 0.001 * delta ** 2
            w = w - hyper["lr"] * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        np.testing.assert_allclose(model.weights["W"], w, rtol=1e-12, atol=1e-15)


def _as_generated(helper):
    """A helper applied over a float32 array as generated float32 code applies it: compiled with
    the kernels' options (FMA contraction included), its result rounded to float32."""
    import numba
    from ngdsl.runtime.kernels import JIT_OPTIONS
    options = {k: v for k, v in JIT_OPTIONS.items() if k != "cache"}
    scalar = numba.njit(**options)(helper)

    @numba.njit(**options)
    def sweep(x, out):
        for i in range(x.size):
            out[i] = np.float32(scalar(x[i]))

    def apply(x):
        out = np.empty_like(x)
        sweep(x, out)
        return out
    return apply


def _ulps(ours, reference, tiny):
    return np.abs(ours.astype(np.float64) - reference) / np.spacing(np.maximum(np.abs(reference), tiny))


def test_vectorisable_tanh_matches_numpy_within_one_ulp():
    magnitudes = np.logspace(-40, np.log10(60), 1_000_001)
    x = np.concatenate([np.linspace(-12, 12, 4_000_001), magnitudes, -magnitudes, [0.0, 9.1, 9.2]]).astype(np.float32)
    ref = np.tanh(x)
    assert _ulps(_as_generated(tanh_f32)(x), ref, np.float32(1e-45)).max() <= 1.0
    interpreted = x[::50]   # the reference executor runs the same function in Python
    ours = np.array([tanh_f32(float(v)) for v in interpreted]).astype(np.float32)
    assert _ulps(ours, ref[::50], np.float32(1e-45)).max() <= 1.0
    assert np.isnan(tanh_f32(float("nan")))


def test_vectorisable_sigmoid_is_correctly_rounded_within_one_ulp():
    x = np.concatenate([np.linspace(-104, 40, 4_000_001), [0.0, 1e-30, -1e30, 1e30]]).astype(np.float32)
    with np.errstate(over="ignore"):  # exp(1e30) = inf: the exact sigmoid is 0 there
        exact = (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    assert _ulps(_as_generated(sigmoid_f32)(x), exact, np.float32(1e-45)).max() <= 1.0
    interpreted = x[::50]
    ours = np.array([sigmoid_f32(float(v)) for v in interpreted]).astype(np.float32)
    assert _ulps(ours, exact[::50], np.float32(1e-45)).max() <= 1.0
    assert np.isnan(sigmoid_f32(float("nan")))


def test_float32_kernels_use_the_vectorisable_tanh_and_float64_numpys():
    from conftest import spec_path
    source32 = ngdsl.load(spec_path("dfa_digits.yaml")).executor.source
    source64 = ngdsl.load(spec_path("dfa_digits.yaml"), set=["dtype=float64"]).executor.source
    assert "tanh_f32(v_s_h1__z)" in source32 and "np.tanh" not in source32
    assert "np.tanh(s_h1__z[r, c])" in source64 and "tanh_f32" not in source64


LATERAL = """ngdsl: 1
name: lateral
dtype: float64
data: {dataset: blobs, n: 60, centers: 3, features: 6, test_fraction: 0.0, batch: 20}
components:
  x: {kind: input, size: 6}
  h: {kind: state, size: 6, activation: tanh, leak: 1.0}
cables:
  F: {from: x, to: h, transform: fixed}
  L: {from: h, to: h, init: {dist: uniform, scale: 0.5}, mask: MASK, rule: {hebbian: {decay: 0.1}}}
schedule:
  train:
    - {phase: settle, steps: 5, clamp: {x: data.x}}
    - {update: [L]}
train: {epochs: 3, optimizer: {sgd: {lr: 0.05}}}
"""


@pytest.mark.parametrize("mask, allowed", [
    ("zero_diagonal", lambda i, j: i != j),
    ("{zero_diagonal: true, groups: 2}", lambda i, j: (i != j) & (i // 3 == j // 3)),
    ("{band: 1}", lambda i, j: abs(i - j) <= 1),
])
def test_lateral_masks_keep_absent_connections_absent(write_spec, mask, allowed):
    model = ngdsl.load(write_spec(LATERAL.replace("MASK", mask)))
    model.fit()
    i, j = np.indices((6, 6))
    keep = allowed(i, j)
    w = model.weights["L"]
    assert np.all(w[~keep] == 0.0) and np.all(w[keep] != 0.0)


def test_mask_groups_must_divide_the_layer(write_spec):
    from ngdsl.compiler import SpecError
    with pytest.raises(SpecError) as info:
        ngdsl.load(write_spec(LATERAL.replace("MASK", "{groups: 4}")))
    assert [d.message for d in info.value.diagnostics] == ["4 groups do not divide the 6 units of cable 'L'"]
