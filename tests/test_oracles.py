"""Each algorithm against its oracle, in float64: finite differences, backprop in numpy, eigenvectors."""
import os

import numpy as np
import pytest

import ngdsl
from ngdsl.runtime.mixture import GaussianMixture

import conftest
from conftest import ROOT, load


@pytest.fixture(autouse=True, params=["jit", "numpy"])
def backend(request, monkeypatch):
    """Every oracle holds for the generated kernels and for the plan run operator by operator in NumPy —
    but those marked ``kernels_only``, the slowest, whose NumPy run took 12–24 s each, and those marked
    ``interpreter_only``, whose variant of a spec would compile kernels of its own for a minute: the
    interpreter equals the kernels on every shipped spec (tests/test_conformance.py)."""
    if request.param == "numpy" and request.node.get_closest_marker("kernels_only"):
        pytest.skip("kernels only: the interpreter is held to the kernels by tests/test_conformance.py")
    if request.param == "jit" and request.node.get_closest_marker("interpreter_only"):
        pytest.skip("interpreter only: the kernels are held to the interpreter by tests/test_conformance.py")
    monkeypatch.setattr(conftest, "BACKEND", request.param)
    return request.param


def cosine(a, b):
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def descent_by_finite_differences(weights, indices, loss, eps):
    """−∂loss/∂w at the given flat indices of ``weights`` (modified in place and restored)."""
    flat = weights.reshape(-1)
    out = []
    for i in indices:
        keep = flat[i]
        flat[i] = keep + eps
        up = loss()
        flat[i] = keep - eps
        down = loss()
        flat[i] = keep
        out.append(-(up - down) / (2 * eps))
    return np.array(out)


def softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_bp_updates_equal_finite_differences():
    model = load("bp_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    updates = model.updates(x, y)

    def loss():
        return float(np.mean(-np.sum(y * np.log(softmax(model.predict(x))), axis=1)))

    rng = np.random.default_rng(0)
    for name, delta in updates.items():
        picks = rng.choice(delta.size, size=min(25, delta.size), replace=False)
        fd = descent_by_finite_differences(model.weights[name], picks, loss, 1e-6)
        got = delta.reshape(-1)[picks]
        assert np.linalg.norm(fd - got) / np.linalg.norm(fd) < 1e-6, name


def numpy_backprop(weights, x, y, hidden_layers):
    """ΔW = −∂L/∂W of a tanh MLP with softmax cross-entropy (batch mean), in numpy."""
    acts, h = [x], x
    for i in range(1, hidden_layers + 1):
        h = np.tanh(h @ weights[f"W{i}"].T + weights[f"W{i}.bias"])
        acts.append(h)
    out = hidden_layers + 1
    delta = y - softmax(h @ weights[f"W{out}"].T + weights[f"W{out}.bias"])
    grads = {}
    for i in range(out, 0, -1):
        grads[f"W{i}"] = delta.T @ acts[i - 1] / len(x)
        grads[f"W{i}.bias"] = delta.mean(axis=0)
        if i > 1:
            delta = (delta @ weights[f"W{i}"]) * (1 - acts[i - 1] ** 2)
    return grads


def tanh_layers(w, x, layers=2):
    """The hidden activities of a tanh MLP with layers W1..W{layers} (with biases)."""
    acts = []
    for i in range(1, layers + 1):
        x = np.tanh(x @ w[f"W{i}"].T + w[f"W{i}.bias"])
        acts.append(x)
    return acts


def assert_updates(updates, expected, batch):
    """Each named ΔW equals its expected sum over the batch divided by the batch size."""
    for name, want in expected.items():
        np.testing.assert_allclose(updates[name], want / batch, rtol=1e-10, atol=1e-14, err_msg=name)


def test_dfa_with_tied_transpose_feedback_is_backprop():
    # Replace the top hidden layer's random feedback B2 with W3ᵀ: its update becomes BP's exactly.
    model = load("dfa_digits.yaml", "dtype=float64",
                 "cables.B2={from: o, to: d2, tied: W3, transpose: true, gate: h2.dphi}")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    updates = model.updates(x, y)
    bp = numpy_backprop(model.weights, x, y, hidden_layers=2)
    for name in ("W2", "W2.bias", "W3", "W3.bias"):
        np.testing.assert_allclose(updates[name], bp[name], rtol=1e-10, atol=1e-14)
    # W1 still learns through the fixed random B1: not backprop.
    assert cosine(updates["W1"], bp["W1"]) < 0.9


def test_dfa_spec_uses_random_feedback():
    model = load("dfa_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    updates = model.updates(x, y)
    bp = numpy_backprop(model.weights, x, y, hidden_layers=2)
    np.testing.assert_allclose(updates["W3"], bp["W3"], rtol=1e-10, atol=1e-14)  # the top layer is always BP's
    assert cosine(updates["W2"], bp["W2"]) < 0.9


def test_rfa_with_transposed_weights_as_feedback_is_backprop():
    # B3 := W3ᵀ and B2 := W2ᵀ turn random feedback alignment into backprop, layer for layer
    model = load("rfa_digits.yaml", "dtype=float64",
                 "cables.B3={from: o, to: d2, tied: W3, transpose: true, gate: h2.dphi}",
                 "cables.B2={from: d2, to: d1, tied: W2, transpose: true, gate: h1.dphi}")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    updates, bp = model.updates(x, y), numpy_backprop(model.weights, x, y, hidden_layers=2)
    for name, grad in bp.items():
        np.testing.assert_allclose(updates[name], grad, rtol=1e-10, atol=1e-14, err_msg=name)


def test_rfa_spec_sends_the_error_down_through_fixed_random_matrices():
    model = load("rfa_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    h1, h2 = tanh_layers(w, x)
    e = y - softmax(h2 @ w["W3"].T + w["W3.bias"])
    d2 = (e @ w["B3"].T) * (1 - h2 ** 2)
    d1 = (d2 @ w["B2"].T) * (1 - h1 ** 2)
    assert_updates(updates, {"W3": e.T @ h2, "W2": d2.T @ h1, "W1": d1.T @ x}, 32)


def test_drtp_hidden_layers_learn_from_the_projected_target_alone():
    model = load("drtp_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    h1, h2 = tanh_layers(w, x)
    d1 = -(y @ w["B1"].T) * (1 - h1 ** 2)      # DFA with the error replaced by the target
    d2 = -(y @ w["B2"].T) * (1 - h2 ** 2)
    assert_updates(updates, {"W1": d1.T @ x, "W1.bias": d1.sum(0), "W2": d2.T @ h1, "W2.bias": d2.sum(0)}, 32)
    # nothing from above reaches them: new output weights leave the hidden updates as they were
    w["W3"][...] = np.random.default_rng(1).standard_normal(w["W3"].shape)
    again = model.updates(x, y)
    for name in ("W1", "W2"):
        np.testing.assert_array_equal(again[name], updates[name])
    assert not np.allclose(again["W3"], updates["W3"])


@pytest.mark.parametrize("spec", ["locsig_digits.yaml", "locsig_fa_digits.yaml"])
def test_local_signalers_send_each_local_error_through_their_feedback(spec):
    # locsig: B_l = K_lᵀ, so each hidden layer descends its own classifier's cross-entropy (inputs
    # detached); locsig_fa: the same local error through a separate fixed random B_l
    model = load(spec, "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    below = x
    for layer in (1, 2):
        h = np.tanh(below @ w[f"W{layer}"].T + w[f"W{layer}.bias"])
        feedback = w[f"K{layer}"] if spec == "locsig_digits.yaml" else w[f"B{layer}"].T
        local = ((y - softmax(h @ w[f"K{layer}"].T)) @ feedback) * (1 - h ** 2)   # locsig: −∂L_l/∂(W_l z)
        np.testing.assert_allclose(updates[f"W{layer}"], local.T @ below / 32, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(updates[f"W{layer}.bias"], local.mean(0), rtol=1e-10, atol=1e-14)
        below = h


@pytest.mark.parametrize("spec", ["locsig_digits.yaml", "locsig_fa_digits.yaml"])
def test_a_local_signaler_layer_needs_only_the_layers_below(spec):
    model = load(spec, "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    before = model.updates(x, y)
    model.weights["W3"][...] *= -2.0       # the layers above change ...
    after = model.updates(x, y)
    for name in ("W1", "W1.bias", "W2", "W2.bias"):   # ... and the hidden updates do not
        np.testing.assert_array_equal(after[name], before[name])
    model.weights["W2"][...] *= -2.0
    np.testing.assert_array_equal(model.updates(x, y)["W1"], before["W1"])


def test_lra_with_transposed_error_synapses_and_small_beta_aligns_with_backprop():
    # E = Wᵀ and β → 0: e_l ≈ −β^(L−l)·δ_l, so ΔW_l points along backprop's update (squared error)
    beta = 1e-3
    model = load("lra_digits.yaml", "dtype=float64",
                 f"cables.E3={{from: o, to: t2, tied: W3, transpose: true, scale: {beta}}}",
                 f"cables.E2={{from: e2, to: t1, tied: W2, transpose: true, scale: {-beta}}}")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    h1, h2 = tanh_layers(w, x)
    d3 = y - (h2 @ w["W3"].T + w["W3.bias"])
    d2 = (d3 @ w["W3"]) * (1 - h2 ** 2)
    d1 = (d2 @ w["W2"]) * (1 - h1 ** 2)
    np.testing.assert_allclose(updates["W3"], d3.T @ h2 / 32, rtol=1e-10, atol=1e-14)
    for name, bp, scale in (("W2", d2.T @ h1 / 32, beta), ("W1", d1.T @ x / 32, beta ** 2)):
        assert cosine(updates[name], bp) > 0.9999, name
        np.testing.assert_allclose(np.linalg.norm(updates[name]) / np.linalg.norm(bp), scale, rtol=1e-3)


def test_lra_learns_nothing_when_the_output_is_the_target():
    model = load("lra_digits.yaml", "dtype=float64")
    x = model.data.x_train[:32]
    updates = model.updates(x, model.predict(x))
    assert all(not np.any(u) for u in updates.values())


def numpy_rec_lra_updates(w, x, y, beta=0.1, gamma=0.1):
    """Every update of one rec-LRA sweep from the equations: targets against the errors of every layer
    above (the output's included, through the skip synapses), ΔW_l = −e_l ⊗ h_{l−1}, ΔE_{b→l} = −γ h_l ⊗ e_b."""
    z1 = x @ w["W1"].T + w["W1.bias"]
    h1 = np.tanh(z1)
    z2 = h1 @ w["W2"].T + w["W2.bias"]
    h2 = np.tanh(z2)
    z3 = h2 @ w["W3"].T + w["W3.bias"]
    h3 = np.tanh(z3)
    e4 = h3 @ w["W4"].T + w["W4.bias"] - y
    e3 = h3 - np.tanh(z3 - beta * e4 @ w["E43"].T)
    e2 = h2 - np.tanh(z2 - beta * (e4 @ w["E42"].T + e3 @ w["E32"].T))
    e1 = h1 - np.tanh(z1 - beta * (e4 @ w["E41"].T + e3 @ w["E31"].T + e2 @ w["E21"].T))
    m = len(x)
    out = {"W1": -e1.T @ x, "W2": -e2.T @ h1, "W3": -e3.T @ h2, "W4": -e4.T @ h3,
           "W1.bias": -e1.sum(0), "W2.bias": -e2.sum(0), "W3.bias": -e3.sum(0), "W4.bias": -e4.sum(0)}
    for name, post, error in (("E43", h3, e4), ("E42", h2, e4), ("E41", h1, e4), ("E32", h2, e3), ("E31", h1, e3),
                              ("E21", h1, e2)):
        out[name] = -gamma * post.T @ error
    return {k: v / m for k, v in out.items()}


def test_rec_lra_targets_read_the_errors_of_every_layer_above_through_learned_skip_synapses():
    # DR-LRA's rec-LRA: each target is nudged against the output's error and every hidden error above it
    model = load("rec_lra_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    want = numpy_rec_lra_updates(model.weights, x, y)
    got = model.updates(x, y)
    assert got.keys() == want.keys()
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-10, atol=1e-14, err_msg=name)


def test_rec_lra_learns_nothing_where_the_output_is_already_the_target():
    model = load("rec_lra_digits.yaml", "dtype=float64")
    x = model.data.x_train[:32]
    for name, delta in model.updates(x, model.predict(x)).items():
        assert np.abs(delta).max() < 1e-12, name


def test_pepita_with_a_linear_hidden_layer_learns_from_the_projected_error():
    # z₁ − z̃₁ = −W₁F·e, so ΔW₁ = (W₁F·e) ⊗ x̃ exactly; the output learns −ẽ ⊗ z̃₁
    model = load("pepita_digits.yaml", "dtype=float64", "components.h.activation=identity",
                 "components.h2.activation=identity")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    e = softmax(x @ w["W1"].T @ w["W2"].T) - y
    x_mod = x + e @ w["F"].T
    h_mod = x_mod @ w["W1"].T
    e_mod = softmax(h_mod @ w["W2"].T) - y
    np.testing.assert_allclose(updates["W1"], (e @ w["F"].T @ w["W1"].T).T @ x_mod / 32, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(updates["W2"], -e_mod.T @ h_mod / 32, rtol=1e-10, atol=1e-14)


def test_dtp_without_a_step_at_the_top_leaves_every_layer_alone():
    # α = 0: the top target is the output itself, so every target is its layer's activity
    # (whatever the decoders are) and the forward weights get no update
    model = load("dtp_digits.yaml", "dtype=float64", "cables.t3_e.scale=0")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    updates = model.updates(x, y)
    for name in ("W1", "W1.bias", "W2", "W2.bias"):
        assert np.abs(updates[name]).max() < 1e-15, name
    assert np.abs(updates["V2"]).max() > 1e-3            # the decoders still learn to invert


def test_dtp_decoders_descend_their_reconstruction_error():
    # DR-DTP with Lee et al.'s regulariser: each decoder g_l(z) = tanh(V_l z) learns to invert its layer
    # around a noisy copy ĥ = h + ε of the layer below: ΔV_l = −∂(½‖ĥ − g_l(f_l(ĥ))‖²)/∂V_l
    from ngdsl.compiler.ops import Signal
    model = load("dtp_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    bufs = model.executor.buffers(32)
    h1, h2 = tanh_layers(w, x)
    noisy1, noisy2 = bufs[Signal("n1", "s")], bufs[Signal("n2", "s")]
    for clean, noisy in ((h1, noisy1), (h2, noisy2)):
        assert abs((noisy - clean).std() - 0.5) < 0.02
    f3 = noisy2 @ w["W3"].T + w["W3.bias"]
    f2 = np.tanh(noisy1 @ w["W2"].T + w["W2.bias"])
    for name, below, above in (("V3", noisy2, f3), ("V2", noisy1, f2)):
        g = np.tanh(above @ w[name].T)
        np.testing.assert_allclose(updates[name], ((below - g) * (1 - g ** 2)).T @ above / 32, rtol=1e-10,
                                   atol=1e-14, err_msg=name)


def test_tp_moves_each_layer_toward_the_decoding_of_the_target_above():
    # DR-TP from the equations: ẑ2 = tanh(V3 y), ẑ1 = tanh(V2 ẑ2); ΔW_l = ((ẑ_l − h_l) ⊙ tanh'(h_l)) ⊗ h_{l−1};
    # the decoders as eq. 26 around the noisy copies c_l = h_l + ε; the output layer's own delta rule
    from ngdsl.compiler.ops import Signal
    model = load("tp_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    c1, c2 = (model.executor.buffers(32)[Signal(n, "s")] for n in ("n1", "n2"))
    h1, h2 = tanh_layers(w, x)
    t2 = np.tanh(y @ w["V3"].T)
    t1 = np.tanh(t2 @ w["V2"].T)
    f3, f2 = c2 @ w["W3"].T + w["W3.bias"], np.tanh(c1 @ w["W2"].T + w["W2.bias"])
    g3, g2 = np.tanh(f3 @ w["V3"].T), np.tanh(f2 @ w["V2"].T)
    want = {"W3": (y - softmax(h2 @ w["W3"].T + w["W3.bias"])).T @ h2,
            "W2": ((t2 - h2) * (1 - h2 ** 2)).T @ h1, "W1": ((t1 - h1) * (1 - h1 ** 2)).T @ x,
            "V3": ((c2 - g3) * (1 - g3 ** 2)).T @ f3, "V2": ((c1 - g2) * (1 - g2 ** 2)).T @ f2}
    for name, value in want.items():
        np.testing.assert_allclose(updates[name], value / 32, rtol=1e-10, atol=1e-14, err_msg=name)


def test_tp_with_an_exact_inverse_sets_the_target_below_at_the_pre_image_of_the_one_above():
    # linear layers and V2 = W2⁻¹ (W2 square, its bias 0): f2(ẑ1) = W2 ẑ1 = ẑ2 exactly
    from ngdsl.compiler.ops import Signal
    linear = [f"components.{c}.activation=identity" for c in ("h1", "h2", "t1", "t2")]
    model = load("tp_digits.yaml", "dtype=float64", *linear)
    model.weights["V2"][...] = np.linalg.inv(model.weights["W2"])
    x, y = model.data.x_train[:8], model.data.y_train[:8]
    model.updates(x, y)
    bufs = model.executor.buffers(8)
    t1, t2 = bufs[Signal("t1", "phi")], bufs[Signal("t2", "phi")]
    np.testing.assert_allclose(t1 @ model.weights["W2"].T, t2, rtol=1e-9, atol=1e-12)
    assert np.abs(t2).max() > 0.1


def test_tp_decoders_come_to_invert_their_layers():
    # eq. 26 descends ½‖c − g(f(c))‖² around noisy copies: after training the decoders reconstruct
    # held-out hidden activity far better than at the start (and than the zero map)
    model = load("tp_digits.yaml", "train.epochs=5")
    x = model.data.x_test

    def reconstruction():
        w = model.weights
        h1, h2 = tanh_layers(w, x)
        g3 = np.tanh((h2 @ w["W3"].T + w["W3.bias"]) @ w["V3"].T)
        g2 = np.tanh(np.tanh(h1 @ w["W2"].T + w["W2.bias"]) @ w["V2"].T)
        return [float(np.mean((h - g) ** 2) / np.mean(h ** 2)) for h, g in ((h2, g3), (h1, g2))]

    before = reconstruction()
    model.fit()
    after = reconstruction()
    assert all(a < 0.5 * b for a, b in zip(after, before)) and max(after) < 0.6, (before, after)


def test_dtp_with_transposed_linear_decoders_on_a_linear_net_is_backprop():
    # linear layers and decoders V = Wᵀ: t_l − z_l = −α ∂L/∂z_l, so ΔW_l = α × backprop's update
    linear = [f"components.{c}.activation=identity" for c in ("h1", "h2", "g3t", "g3z", "g2t", "g2z")]
    model = load("dtp_digits.yaml", "dtype=float64", *linear,
                 "cables.V3={from: t3, to: g3t, tied: W3, transpose: true}",
                 "cables.V3z={from: o.mu, to: g3z, tied: W3, transpose: true}",
                 "cables.V2={from: t2, to: g2t, tied: W2, transpose: true}",
                 "cables.V2z={from: h2, to: g2z, tied: W2, transpose: true}",
                 "cables.V3n={from: f3n, to: g3n, tied: W3, transpose: true}",
                 "cables.V2n={from: f2n, to: g2n, tied: W2, transpose: true}", "schedule.train[1].update=[W1, W2, W3]")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    h1 = x @ w["W1"].T + w["W1.bias"]
    h2 = h1 @ w["W2"].T + w["W2.bias"]
    d3 = y - softmax(h2 @ w["W3"].T + w["W3.bias"])
    d2 = d3 @ w["W3"]
    d1 = d2 @ w["W2"]
    for name, want in (("W3", d3.T @ h2), ("W2", 0.5 * d2.T @ h1), ("W1", 0.5 * d1.T @ x)):   # α = 0.5
        np.testing.assert_allclose(updates[name], want / 32, rtol=1e-9, atol=1e-14, err_msg=name)


def test_kolen_pollack_shrinks_the_gap_between_w_and_b_transposed_by_exactly_one_minus_eta_lambda():
    # ΔB = ΔWᵀ with the same decay λ: W − Bᵀ ← (1 − ηλ)(W − Bᵀ) whatever the data
    lr, decay = 0.05, 0.01
    model = load("kp_digits.yaml", "dtype=float64", f"train.optimizer={{sgd: {{lr: {lr}}}}}",
                 *(f"cables.{c}.rule.hebbian.decay={decay}" for c in ("W1", "W2", "W3", "B2", "B3")))
    w = model.weights
    gaps = lambda: [w["W3"] - w["B3"].T, w["W2"] - w["B2"].T]   # noqa: E731
    for start in range(0, 96, 32):
        before = gaps()
        model.executor.train_batch(model.data.x_train[start:start + 32], model.data.y_train[start:start + 32])
        for old, new in zip(before, gaps()):
            np.testing.assert_allclose(new, (1 - lr * decay) * old, rtol=1e-9, atol=1e-14)


def test_ifa_carries_the_error_forward_through_the_forward_weights():
    model = load("ifa_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w, updates = model.weights, model.updates(x, y)
    h1, h2 = tanh_layers(w, x)
    e = y - softmax(h2 @ w["W3"].T + w["W3.bias"])
    d1 = (e @ w["B"].T) * (1 - h1 ** 2)
    d2 = (d1 @ w["W2"].T) * (1 - h2 ** 2)      # W2 applied to the error stream (no bias)
    assert_updates(updates, {"W3": e.T @ h2, "W2": d2.T @ h1, "W1": d1.T @ x}, 32)


def test_pc_weakly_clamped_output_approximates_backprop():
    # Whittington & Bogacz: output variance λ large (precision 1/λ), settled to convergence:
    # λ·ΔW → −∂L/∂W of the equivalent MLP with loss ½‖y − h_L‖².
    lam = 1000.0
    model = load("pc_digits.yaml", "dtype=float64", f"components.e2.precision={1 / lam}",
                 "schedule.train[0].steps=400", "components.z1.dt=0.2")
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    updates = model.updates(x, y)
    w = model.weights
    h = np.maximum(x @ w["W1"].T + w["W1.bias"], 0.0)
    d2 = y - (h @ w["W2"].T + w["W2.bias"])
    d1 = (d2 @ w["W2"]) * (h > 0)
    bp = {"W2": d2.T @ h / 16, "W2.bias": d2.mean(0), "W1": d1.T @ x / 16, "W1.bias": d1.mean(0)}
    for name, grad in bp.items():
        assert cosine(lam * updates[name], grad) >= 0.999, name
        assert np.linalg.norm(lam * updates[name] - grad) / np.linalg.norm(grad) < 0.01, name


def test_pc_with_free_output_settles_at_the_feedforward_pass():
    model = load("pc_digits.yaml", "dtype=float64", "schedule.predict[0].steps=50")
    x = model.data.x_test[:8]
    w = model.weights
    mlp = np.maximum(x @ w["W1"].T + w["W1.bias"], 0.0) @ w["W2"].T + w["W2.bias"]
    np.testing.assert_allclose(model.predict(x), mlp, atol=1e-12)


def test_pc_settling_descends_the_energy():
    # PC inference is gradient descent on F = Σ ½·precision·‖target − mu‖² over the free states:
    # with a smooth activation and a small dt, F falls at every step, from the feed-forward value
    model = load("pc_digits.yaml", "dtype=float64", "components.z1.activation=tanh", "components.e2.precision=0.5")
    model.fit(2)
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    energy = model.settling_energy(x, y)
    assert len(energy) == 21                                   # after 0, 1, ..., 20 steps
    w = model.weights
    out = np.tanh(x @ w["W1"].T + w["W1.bias"]) @ w["W2"].T + w["W2.bias"]
    assert np.isclose(energy[0], 0.5 * 0.5 * np.sum((y - out) ** 2) / 32, rtol=1e-12)   # e1 = 0 at the start
    assert np.all(np.diff(energy) < 0) and energy[-1] < 0.8 * energy[0]
    assert model.settling_energy(x, y)[-1] == energy[-1]       # measuring applied no update
    assert load("bp_digits.yaml").settling_energy(x, y).size == 0   # nothing settles there


def test_eqprop_update_approaches_the_gradient_as_beta_goes_to_zero():
    beta = 1e-4
    model = load("eqprop_xor.yaml", "dtype=float64", "components.h.size=4",
                 f"schedule.train[1].clamp.o={{value: data.y, beta: {beta}}}",
                 f"cables.W1.rule.contrastive.scale={1 / beta}", f"cables.W2.rule.contrastive.scale={1 / beta}",
                 "schedule.train[0].steps=600", "schedule.train[1].steps=600", "schedule.predict[0].steps=600")
    x, y = model.data.x_train, model.data.y_train
    updates = model.updates(x, y)

    def cost():  # C at the free fixed point, re-settled for every perturbation
        return float(np.mean(0.5 * np.sum((y - model.predict(x)) ** 2, axis=1)))

    for name, delta in updates.items():
        fd = descent_by_finite_differences(model.weights[name], range(delta.size), cost, 1e-5)
        assert cosine(delta.reshape(-1), fd) > 0.999, name
        assert np.linalg.norm(delta.reshape(-1) - fd) / np.linalg.norm(fd) < 0.01, name


def test_eqprop_without_nudge_does_not_learn():
    # At the free fixed point, a nudge of strength 0 moves nothing: the two snapshots agree.
    model = load("eqprop_xor.yaml", "dtype=float64", "schedule.train[1].clamp.o={value: data.y, beta: 0.0}",
                 "schedule.train[0].steps=600")
    updates = model.updates(model.data.x_train, model.data.y_train)
    for name, delta in updates.items():
        assert np.abs(delta).max() < 1e-12, name


def _chl(gamma):
    """chl_xor in float64 with feedback gain γ (and the 1/γ layer scale), both phases converged."""
    return load("chl_xor.yaml", "dtype=float64", f"cables.W2t.scale={gamma}",
                f"cables.W1.rule.contrastive.scale={1 / gamma}", "schedule.train[0].steps=300",
                "schedule.train[1].steps=300", "schedule.predict[0].steps=300")


def test_chl_with_small_feedback_gain_is_backprop():
    # Xie & Seung 2003: as γ → 0 with converged phases, CHL's ΔW → the backprop update of the
    # feed-forward net for ½‖y − o‖² (linear output), with an O(γ) error
    for gamma, tolerance in ((0.1, 0.1), (0.01, 0.01)):
        model = _chl(gamma)
        x, y = model.data.x_train, model.data.y_train
        updates, w = model.updates(x, y), model.weights
        h = 1 / (1 + np.exp(-(x @ w["W1"].T + w["W1.bias"])))
        d2 = y - (h @ w["W2"].T + w["W2.bias"])
        d1 = (d2 @ w["W2"]) * h * (1 - h)
        bp = {"W2": d2.T @ h / 4, "W2.bias": d2.mean(0), "W1": d1.T @ x / 4, "W1.bias": d1.mean(0)}
        for name, grad in bp.items():
            assert cosine(updates[name], grad) > 0.9997, (gamma, name)
            assert np.linalg.norm(updates[name] - grad) / np.linalg.norm(grad) < tolerance, (gamma, name)


def test_chl_does_not_learn_what_the_free_phase_already_gets_right():
    model = _chl(0.2)
    x = model.data.x_train
    updates = model.updates(x, model.predict(x))   # targets = the free output: z⁺ = z⁻
    assert max(float(np.abs(u).max()) for u in updates.values()) < 1e-12


def _recirculate(w, x, beta=0.75, decoder=lambda a: 1 / (1 + np.exp(-a))):
    """Recirculation's two passes in numpy: (h, reconstruction, xbar, hbar)."""
    sigmoid = lambda a: 1 / (1 + np.exp(-a))   # noqa: E731
    h = sigmoid(x @ w["W"].T)
    r = decoder(h @ w["V"].T + w["V.bias"])
    xbar = beta * x + (1 - beta) * r
    return h, r, xbar, sigmoid(xbar @ w["W"].T)


def test_recirculation_learns_from_the_two_passes_differences():
    model = load("recirc_encoder.yaml", "dtype=float64")
    x = model.data.x_train[:8]
    w, updates = model.weights, model.updates(x, x)
    h, r, xbar, hbar = _recirculate(w, x)
    np.testing.assert_allclose(updates["W"], (h - hbar).T @ x / 8, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(updates["V"], (x - xbar).T @ h / 8, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model.predict(x), r, rtol=1e-12)


def test_recirculation_with_a_linear_decoder_descends_the_blend_error():
    # ΔV = −1/(1 − β) · ∂(½‖x − xbar‖²)/∂V (batch mean)
    model = load("recirc_encoder.yaml", "dtype=float64", "components.r.activation=identity")
    x = model.data.x_train[:8]
    w = model.weights

    def loss():
        xbar = _recirculate(w, x, decoder=lambda a: a)[2]
        return 0.5 * float(np.sum((x - xbar) ** 2)) / 8

    fd = descent_by_finite_differences(w["V"], range(w["V"].size), loss, 1e-6)
    np.testing.assert_allclose(model.updates(x, x)["V"].reshape(-1), fd / (1 - 0.75), rtol=1e-6, atol=1e-10)


def test_oja_recovers_the_first_principal_component():
    model = load("oja_pca.yaml")
    model.fit()
    x = model.data.x_train.astype(np.float64)
    _, vectors = np.linalg.eigh(x.T @ x / len(x))
    w = model.weights["W"][0].astype(np.float64)
    assert abs(cosine(w, vectors[:, -1])) >= 0.99
    assert abs(np.linalg.norm(w) - 1.0) < 0.05


def test_sanger_update_is_hebbian_minus_the_lower_triangle_normalisation():
    model = load("sanger_pca.yaml", "dtype=float64")
    x = model.data.x_train[:16]
    w = model.weights["W"]
    y = x @ w.T
    expected = y.T @ x - np.tril(y.T @ y) @ w
    np.testing.assert_allclose(model.updates(x, np.zeros((16, 1)))["W"], expected / 16, rtol=1e-10, atol=1e-14)


def test_sanger_recovers_the_principal_components_in_order():
    model = load("sanger_pca.yaml")
    model.fit()
    x = model.data.x_train.astype(np.float64)
    _, vectors = np.linalg.eigh(x.T @ x / len(x))
    w = model.weights["W"].astype(np.float64)
    for k in range(3):             # unit k: the k-th largest eigenvalue's eigenvector, unit length
        assert abs(cosine(w[k], vectors[:, -1 - k])) >= 0.99, k
        assert abs(np.linalg.norm(w[k]) - 1.0) < 0.05, k


def test_outstar_pulls_the_winners_columns_toward_the_target():
    model = load("counterprop_blobs.yaml", "dtype=float64", "schedule.predict[0].read=y", "metrics=[]")
    x, t = model.data.x_train[:10], model.data.y_train[:10]
    u = model.weights["U"]
    u[...] = np.random.default_rng(0).standard_normal(u.shape)
    winners = model.predict(x)                           # one-hot rows: who won each sample
    expected = t.T @ winners - u * winners.sum(axis=0)   # Σ_b (t ⊗ y − U diag(y))
    np.testing.assert_allclose(model.updates(x, t)["U"], expected / 10, rtol=1e-10, atol=1e-14)


@pytest.mark.kernels_only
def test_counterpropagation_columns_learn_their_clusters_mean_target():
    trained = load("counterprop_blobs.yaml", "dtype=float64")
    trained.fit()
    assert trained.history[-1]["test_accuracy"] >= 0.95
    # with the prototypes fixed, each winner's column of U converges to the mean target of what it wins
    readout = load("counterprop_blobs.yaml", "dtype=float64", "cables.W.rule=none", "schedule.train[1].update=[U]",
                   "train.epochs=60")
    winners = load("counterprop_blobs.yaml", "dtype=float64", "schedule.predict[0].read=y", "metrics=[]")
    for model in (readout, winners):
        model.weights["W"][...] = trained.weights["W"]
    readout.fit()
    won = winners.predict(readout.data.x_train)
    for j in np.flatnonzero(won.sum(axis=0) >= 20):
        mean_target = readout.data.y_train[won[:, j] == 1.0].mean(axis=0)
        np.testing.assert_allclose(readout.weights["U"][:, j], mean_target, atol=0.01)


def test_kwta_layer_has_exactly_one_winner_and_only_winners_learn():
    model = load("kwta_clusters.yaml", "dtype=float64")
    x = model.data.x_train[:1]
    before = model.weights["W"].copy()
    winners = model.predict(x)
    assert winners.sum() == 1.0 and set(np.unique(winners)) <= {0.0, 1.0}
    delta = model.updates(x, model.data.y_train[:1])["W"]
    moved = np.flatnonzero(np.abs(delta).sum(axis=1))
    assert list(moved) == [int(np.argmax(winners[0]))]
    np.testing.assert_allclose(delta[moved[0]], x[0] - before[moved[0]])  # instar: toward the input


def numpy_som_update(w, x, sigma, alpha, cols):
    """ΔW of a self-organising map from the equations: the winner is the nearest row of W; every unit
    moves toward x by α·h, h = exp(−d²/2σ²), d the distance from the winner's place on the lattice."""
    winner = np.argmin(((x[:, None, :] - w[None]) ** 2).sum(axis=2), axis=1)
    rows_of, cols_of = np.divmod(np.arange(len(w)), cols)
    d2 = (rows_of[None, :] - rows_of[winner][:, None]) ** 2 + (cols_of[None, :] - cols_of[winner][:, None]) ** 2
    h = np.exp(-d2 / (2 * sigma ** 2))
    return alpha * (h.T @ x / len(x) - h.mean(axis=0)[:, None] * w)


def test_som_update_is_the_neighbourhood_weighted_pull_at_the_epochs_radius_and_rate():
    # IMP-SOM: σ and α go geometrically from 4 to 0.5 and from 1 to 0.05 over the spec's 20 epochs
    model = load("som_digits.yaml", "dtype=float64")
    x = model.data.x_train[:8]
    for trained in (0, 5):
        model.fit(epochs=trained)
        epoch = max(trained - 1, 0)   # the schedule's place: the last epoch trained (the first before any)
        sigma, alpha = 4.0 * (0.5 / 4.0) ** (epoch / 19), 0.05 ** (epoch / 19)
        want = numpy_som_update(model.weights["W"], x, sigma, alpha, cols=10)
        np.testing.assert_allclose(model.updates(x, model.data.y_train[:8])["W"], want, rtol=1e-10, atol=1e-13)


def test_a_maps_neighbours_on_the_lattice_come_to_hold_similar_prototypes():
    # IMP-SOM: after training, the nearest and second-nearest prototypes of a test image sit side by side
    # on the lattice for most images (topographic error), and prototypes lie near the data (quantisation)
    model = load("som_digits.yaml", "train.epochs=10")
    x = model.data.x_test

    def errors():
        d = ((x[:, None, :] - model.weights["W"][None]) ** 2).sum(axis=2)
        best = np.argsort(d, axis=1)[:, :2]
        r, c = np.divmod(best, 10)
        return d.min(axis=1).mean(), np.mean((r[:, 0] - r[:, 1]) ** 2 + (c[:, 0] - c[:, 1]) ** 2 > 1)

    quantisation, topographic = errors()
    model.fit()
    assert errors()[0] < 0.25 * quantisation and topographic > 0.8 and errors()[1] < 0.25


def rastrigin(w):
    return float(np.sum(w * w - 10 * np.cos(2 * np.pi * w)) + 10 * len(w))


def annealing_walk(temperature, trials=300):
    """f(w) before each of ``trials`` annealing proposals and after the last, and the moves taken."""
    model = load("sa_rastrigin.yaml", f"components.p.constants.T={temperature}")
    x, y = model.data.x_train[:1], model.data.y_train[:1]
    values, moves = [rastrigin(model.weights["P"][:, 0])], []
    for _ in range(trials):
        before = model.weights["P"][:, 0].copy()
        model.executor.train_batch(x, y)
        moves.append(model.weights["P"][:, 0] - before)
        values.append(rastrigin(model.weights["P"][:, 0]))
    return np.array(values), np.array(moves)


def test_annealing_near_zero_temperature_is_hill_climbing():
    # EG-SA: at T → 0 a proposal is taken only when it lowers f, so f never rises; at T → ∞ every one is taken
    values, moves = annealing_walk(1e-9)
    taken = np.abs(moves).sum(axis=1) > 0
    assert np.all(np.diff(values)[taken] < 0) and np.all(np.diff(values)[~taken] == 0) and 3 < taken.sum() < 100
    values, moves = annealing_walk(1e9)
    assert np.all(np.abs(moves).sum(axis=1) > 0) and np.sum(np.diff(values) > 0) > 100   # a random walk, uphill too
    assert 0.25 < np.std(moves) < 0.35   # the proposals' spread, σ = 0.3


def test_annealing_is_the_same_under_a_seed_and_differs_across_seeds():
    runs = [load("sa_rastrigin.yaml", "train.epochs=3", f"seed={seed}") for seed in (0, 0, 1)]
    for model in runs:
        model.weights["P"][...] = 2.5   # one start: only the draws can differ
        model.fit()
    assert np.array_equal(runs[0].weights["P"], runs[1].weights["P"])
    assert not np.array_equal(runs[0].weights["P"], runs[2].weights["P"])


def numpy_deep_pc_updates(w, x, y, steps, dt):
    """ΔW of one supervised PC trial on a tanh MLP x → z1 → z2 → z3 (z3 clamped to y, identity
    output), written from the equations: states start at the feed-forward pass, then
    ż_l = −e_l + φ'(z_l) ⊙ W_{l+1}ᵀ e_{l+1} with e_l = z_l − W_l φ(z_{l−1}); ΔW_l = e_l ⊗ φ(z_{l−1})."""
    z1 = x @ w["W1"].T
    z2 = np.tanh(z1) @ w["W2"].T

    def errors(z1, z2):
        p1, p2 = np.tanh(z1), np.tanh(z2)
        return p1, p2, z1 - x @ w["W1"].T, z2 - p1 @ w["W2"].T, y - p2 @ w["W3"].T

    for _ in range(steps):
        p1, p2, e1, e2, e3 = errors(z1, z2)
        z1, z2 = (z1 + dt * (-e1 + (1 - p1 ** 2) * (e2 @ w["W2"])),
                  z2 + dt * (-e2 + (1 - p2 ** 2) * (e3 @ w["W3"])))
    p1, p2, e1, e2, e3 = errors(z1, z2)
    return {"W1": e1.T @ x / len(x), "W2": e2.T @ p1 / len(x), "W3": e3.T @ p2 / len(x)}


def test_deep_pc_trial_equals_numpy_from_the_equations():
    # Two free hidden layers between a clamped input and a clamped output (the benchmark net):
    # the second hidden layer starts at the prediction from the first, after the first is set.
    model = ngdsl.load(os.path.join(ROOT, "benchmarks", "specs", "pc_mlp.yaml"), set=["dtype=float64"])
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    expected = numpy_deep_pc_updates(model.weights, x, y, steps=20, dt=0.1)
    for repeat in range(2):   # the second trial reads what the first left in the buffers
        got = model.updates(x, y)
        for name, want in expected.items():
            np.testing.assert_allclose(got[name], want, rtol=1e-9, atol=1e-13, err_msg=f"{name}, trial {repeat}")


# ---- the catalogue's remaining checks (ALGORITHMS.md) ---------------------------------------

def test_kwta_prototypes_converge_to_the_cluster_means():
    # IMP-WTA: three units on three well-separated clusters, each row started at a sample of its cluster
    model = load("kwta_clusters.yaml", "dtype=float64", "components.y.size=3", "data.spread=0.3",
                 "train.epochs=20", "train.optimizer={sgd: {lr: 0.05}}")
    x, y = model.data.x_train, model.data.y_train
    labels = np.argmax(y, axis=1)
    model.weights["W"][...] = np.stack([x[np.flatnonzero(labels == k)[0]] for k in range(3)])
    model.fit()
    means = np.stack([x[labels == k].mean(axis=0) for k in range(3)])
    # the rows track a running average with rate lr: they stay within a few lr·spread of the mean
    np.testing.assert_allclose(model.weights["W"], means, atol=0.1)


def test_rfa_feedback_comes_within_90_degrees_of_backprop_during_training():
    # EG-RFA: at the start the random pathway's hidden signal is unrelated to backprop's; training
    # aligns the forward weights with it, so the angle falls below 90 degrees
    model = load("rfa_digits.yaml", "dtype=float64", "train.epochs=5")
    x, y = model.data.x_train[:256], model.data.y_train[:256]

    def cosines():
        w = model.weights
        h1, h2 = tanh_layers(w, x)
        e = y - softmax(h2 @ w["W3"].T + w["W3.bias"])
        rfa2, bp2 = (e @ w["B3"].T) * (1 - h2 ** 2), (e @ w["W3"]) * (1 - h2 ** 2)
        rfa1, bp1 = (rfa2 @ w["B2"].T) * (1 - h1 ** 2), (bp2 @ w["W2"]) * (1 - h1 ** 2)
        return cosine(rfa2, bp2), cosine(rfa1, bp1)

    before = cosines()
    model.fit()
    after = cosines()
    assert abs(before[0]) < 0.2 and abs(before[1]) < 0.2, before
    assert after[0] > 0.3 and after[1] > 0.1, after


def test_dfa_on_a_deep_linear_net_with_products_of_weights_as_feedback_is_backprop():
    # EG-DFA: with identity activations and B_l = (W_L ··· W_{l+1})ᵀ the direct signal is backprop's
    model = load("dfa_digits.yaml", "dtype=float64", "components.h1.activation=identity",
                 "components.h2.activation=identity")
    w = model.weights
    w["B2"][...] = w["W3"].T
    w["B1"][...] = (w["W3"] @ w["W2"]).T
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    h1 = x @ w["W1"].T + w["W1.bias"]
    h2 = h1 @ w["W2"].T + w["W2.bias"]
    e = y - softmax(h2 @ w["W3"].T + w["W3.bias"])
    d2 = e @ w["W3"]
    d1 = d2 @ w["W2"]
    assert_updates(model.updates(x, y), {"W3": e.T @ h2, "W2": d2.T @ h1, "W1": d1.T @ x}, 32)


def test_local_classifiers_improve_and_the_deeper_one_is_better():
    # NS-LOCSIG (B_l = K_lᵀ, as in Mostafa et al.): the fixed random classifiers K_l come to read
    # their layer well, the deeper one better
    model = load("locsig_digits.yaml", "dtype=float64", "train.epochs=10")
    x, labels = model.data.x_test, np.argmax(model.data.y_test, axis=1)

    def accuracies():
        w = model.weights
        h1, h2 = tanh_layers(w, x)
        return [float(np.mean(np.argmax(h @ w[f"K{i}"].T, axis=1) == labels)) for i, h in ((1, h1), (2, h2))]

    before = accuracies()
    model.fit()
    first, second = accuracies()
    assert first > before[0] + 0.5 and second > before[1] + 0.5, (before, first, second)
    assert second > first


def test_pepita_learns_nothing_when_the_error_is_zero():
    # FO-PEPITA: e = 0 leaves the second pass equal to the first, so every ΔW is zero
    model = load("pepita_digits.yaml", "dtype=float64")
    x = model.data.x_train[:32]
    y = softmax(model.predict(x))              # the target the network already outputs
    for name, delta in model.updates(x, y).items():
        assert np.abs(delta).max() < 1e-12, name


def eqprop_energy(w, x, h, o):
    """E = ½‖s‖² − ρ(h)ᵀW1x − ρ(o)ᵀW2ρ(h) − b·ρ over the free states s = (h, o), ρ the sigmoid."""
    rh, ro = 1 / (1 + np.exp(-h)), 1 / (1 + np.exp(-o))
    return (0.5 * np.sum(h ** 2, axis=1) + 0.5 * np.sum(o ** 2, axis=1) - np.sum(rh * (x @ w["W1"].T + w["W1.bias"]), axis=1)
            - np.sum(ro * (rh @ w["W2"].T + w["W2.bias"]), axis=1))


def test_eqprop_free_settling_descends_its_energy():
    # EB-EQPROP: the free dynamics ds/dt = ρ'(s)·(W ρ + b) − s are −∂E/∂s, so E never rises
    states = {c: load("eqprop_digits.yaml", "dtype=float64", f"schedule.predict[0].read={c}.z", "metrics=[]")
              for c in "ho"}
    x = states["h"].data.x_train[:16]
    energies = []
    for steps in range(0, 31, 2):
        for model in states.values():
            model.executor.steps[("predict", 0)][0] = steps
        h, o = states["h"].predict(x), states["o"].predict(x)
        energies.append(eqprop_energy(states["h"].weights, x, h, o))
    energies = np.array(energies)
    assert np.all(np.diff(energies, axis=0) <= 1e-12) and np.all(energies[-1] < energies[0] - 0.5)


def test_plain_hebbian_learning_aligns_with_the_top_eigenvector_and_grows_without_bound():
    # IMP-HEBB: the additive rule finds the direction of the top eigenvector of E[x xᵀ], and its norm diverges
    model = load("hebb_pca.yaml", "dtype=float64")
    start = np.linalg.norm(model.weights["W"])
    model.fit()
    x = model.data.x_train
    top = np.linalg.eigh(x.T @ x / len(x))[1][:, -1]
    w = model.weights["W"][0]
    assert abs(cosine(w, top)) > 0.999
    assert np.linalg.norm(w) > 100 * start


@pytest.mark.kernels_only
def test_pc_with_a_free_output_settles_from_zero_to_the_feedforward_pass():
    # DR-PC: started from zero, not from the answer, the free network still settles at the MLP's output
    # (slowly: the output's precision of 0.01 makes its error drive it a hundredth as hard)
    model = load("pc_digits.yaml", "dtype=float64", "schedule.predict[0].init=zero", "schedule.predict[0].steps=50000")
    x = model.data.x_test[:8]
    w = model.weights
    mlp = np.maximum(x @ w["W1"].T + w["W1.bias"], 0.0) @ w["W2"].T + w["W2.bias"]
    np.testing.assert_allclose(model.predict(x), mlp, atol=1e-9)


def test_three_factor_update_credits_the_pull_across_the_delay():
    """EG-3F: ΔW = ⟨(R · e) ⊗ x⟩ with e = ½·½^T·(s − p) the trace of the pull (s the arms pulled, p
    their probabilities) after T wait steps, and R = Σ_k (y_k − ½) s_k the reward delivered after
    them; with the modulator at 0 nothing changes."""
    from ngdsl.compiler.ops import Signal
    for wait in (0, 3):
        model = load("three_factor_bandit.yaml", "dtype=float64", f"schedule.train[1].steps={wait}",
                     "cables.W.init={dist: normal, scale: 1.0}")
        x, y = model.data.x_train[:16], model.data.y_train[:16]
        got = model.updates(x, y)
        bufs = model.executor.buffers(16)
        p, trace, reward = bufs[Signal("a", "phi")], bufs[Signal("elig", "z")], bufs[Signal("R", "z")]
        pulled = trace / 0.5 ** (wait + 1) + p            # the pull the trace remembers: 0 or 1 per arm
        np.testing.assert_allclose(pulled, np.round(pulled), atol=1e-9)
        np.testing.assert_allclose(reward[:, 0], ((y - 0.5) * np.round(pulled)).sum(axis=1), atol=1e-12)
        np.testing.assert_allclose(got["W"], (reward * trace).T @ x / 16, atol=1e-12)
        np.testing.assert_allclose(got["W.bias"], (reward * trace).mean(axis=0), atol=1e-12)
    silent = load("three_factor_bandit.yaml", "dtype=float64", "cables.pay.scale=0")
    x, y = silent.data.x_train[:16], silent.data.y_train[:16]
    assert all(not np.any(delta) for delta in silent.updates(x, y).values())


def test_the_perceptron_learns_only_from_its_mistakes():
    """IMP-SUP: ΔW = (y − step(W x + b)) ⊗ x, zero on the examples it already classifies."""
    model = load("perceptron_blobs.yaml", "dtype=float64")
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    w, b = model.weights["W"], model.weights["W.bias"]
    w[0] = x[y[:, 0] == 1].mean(axis=0) - x[y[:, 1] == 1].mean(axis=0)   # the right direction, and
    w[1] = -w[0]
    b[:] = -np.quantile(x @ w.T, 0.3, axis=0)                            # a threshold that errs on some
    wrong = y - (x @ w.T + b > 0)
    got = model.updates(x, y)
    np.testing.assert_allclose(got["W"], wrong.T @ x / 16, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["W.bias"], wrong.mean(axis=0), rtol=0, atol=1e-12)
    right = np.all(wrong == 0, axis=1)
    assert 0 < right.sum() < 16                         # some right, some wrong: both cases are checked
    only_right = model.updates(x[right], y[right])
    assert not np.any(only_right["W"]) and not np.any(only_right["W.bias"])


def test_the_perceptron_converges_on_separable_data_and_never_on_xor():
    separable = load("perceptron_blobs.yaml", "dtype=float64", "train.epochs=20")
    separable.fit()
    settled = separable.weights["W"].copy()
    assert separable.history[-1]["train_accuracy"] == 1.0
    separable.fit(epochs=1)
    np.testing.assert_array_equal(separable.weights["W"], settled)   # no mistakes left: no updates
    xor = load("perceptron_blobs.yaml", "data={dataset: xor, repeat: 1, test_fraction: 0.0, batch: 1}",
               "components.x.size=2", "components.y.size=1", "components.u.size=1", "train.epochs=200")
    xor.fit()
    assert max(h["train_accuracy"] for h in xor.history) <= 0.75   # no line separates XOR


def test_synthetic_gradients_are_a_linear_prediction_learned_by_the_delta_rule():
    """NS-SLU: ĝ = K h + C y + b; ΔW1 = (ĝ ⊙ tanh') ⊗ x; ΔK = (t − ĝ) ⊗ h with t = W2ᵀ o.e the true −∂L/∂h."""
    model = load("dni_digits.yaml", "dtype=float64", "cables.K.init={dist: normal, scale: 0.1}",
                 "cables.C.init={dist: normal, scale: 0.1}")
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    w = model.weights
    h = np.tanh(x @ w["W1"].T + w["W1.bias"])
    e = y - softmax(h @ w["W2"].T + w["W2.bias"])
    g = h @ w["K"].T + w["K.bias"] + y @ w["C"].T
    t = e @ w["W2"]
    got = model.updates(x, y)
    for name, expected in {"W1": (g * (1 - h ** 2)).T @ x, "W1.bias": (g * (1 - h ** 2)).sum(axis=0),
                           "W2": e.T @ h, "K": (t - g).T @ h, "K.bias": (t - g).sum(axis=0), "C": (t - g).T @ y}.items():
        np.testing.assert_allclose(got[name], expected / 16, rtol=1e-10, atol=1e-13, err_msg=name)


def test_with_the_true_gradient_in_place_of_the_synthetic_one_it_is_backprop():
    model = load("dni_digits.yaml", "dtype=float64", "cables.g_gd.from=t")
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    expected = numpy_backprop(model.weights, x, y, hidden_layers=1)
    got = model.updates(x, y)
    for name in ("W1", "W1.bias", "W2", "W2.bias"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-13, err_msg=name)


def test_with_the_network_frozen_the_synthesiser_converges_to_least_squares():
    """The delta rule on fixed (h, y) → t pairs descends the squared error: K and C reach the
    least-squares regression of t on h, y and 1 (one batch: the whole training set)."""
    model = load("dni_digits.yaml", "dtype=float64", "cables.W1.frozen=true", "cables.W2.frozen=true",
                 "data.batch=2000", "train.epochs=300", "train.optimizer={momentum: {lr: 0.3, momentum: 0.9}}",
                 "metrics=[]")
    x, y = model.data.x_train, model.data.y_train
    w = model.weights
    h = np.tanh(x @ w["W1"].T + w["W1.bias"])
    t = (y - softmax(h @ w["W2"].T + w["W2.bias"])) @ w["W2"]
    features = np.hstack([h, y, np.ones((len(x), 1))])
    best = features @ np.linalg.lstsq(features, t, rcond=None)[0]
    model.fit()
    learned = h @ w["K"].T + w["K.bias"] + y @ w["C"].T
    assert np.linalg.norm(learned - best) / np.linalg.norm(best) < 0.01     # from 1 (K = C = 0)


def _generec_phases(w, x, y, steps=40, dt=0.2):
    """generec_xor's two phases in numpy: (h, o) settled with x alone, then with o held at y."""
    sigmoid = lambda a: 1 / (1 + np.exp(-a))   # noqa: E731
    h, o = np.zeros((len(x), 8)), np.zeros((len(x), 1))
    for _ in range(steps):   # synchronous Euler steps of z' = −z + input
        h, o = (h + dt * (-h + x @ w["W1"].T + w["W1.bias"] + o @ w["W2"]),
                o + dt * (-o + sigmoid(h) @ w["W2"].T + w["W2.bias"]))
    minus = (sigmoid(h), o)
    o = y
    for _ in range(steps):
        h = h + dt * (-h + x @ w["W1"].T + w["W1.bias"] + o @ w["W2"])
    return minus, (sigmoid(h), o)


@pytest.mark.parametrize("midpoint", [False, True])
def test_generec_learns_how_the_receiving_unit_changed_times_the_minus_phase_sender(midpoint):
    """EB-GENEREC: ΔW = (post⁺ − post⁻) ⊗ pre⁻; its symmetric-midpoint form (pre at both phases)
    is CHL's post⁺ ⊗ pre⁺ − post⁻ ⊗ pre⁻."""
    model = load("generec_xor.yaml", "dtype=float64", *(["cables.W2.rule.contrastive.pre=h"] if midpoint else []))
    x, y = model.data.x_train, model.data.y_train
    (h_minus, o_minus), (h_plus, o_plus) = _generec_phases(model.weights, x, y)
    w2 = (o_plus.T @ h_plus - o_minus.T @ h_minus) if midpoint else (o_plus - o_minus).T @ h_minus
    expected = {"W1": (h_plus - h_minus).T @ x, "W1.bias": (h_plus - h_minus).sum(0),
                "W2": w2, "W2.bias": (o_plus - o_minus).sum(0)}
    got = model.updates(x, y)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value / 4, rtol=1e-9, atol=1e-12, err_msg=name)
    assert np.abs(expected["W2"] - ((o_plus - o_minus).T @ h_minus if midpoint else o_plus.T @ h_plus
                                    - o_minus.T @ h_minus)).max() > 1e-4          # the two forms differ here


def test_generec_does_not_learn_what_the_minus_phase_already_gets_right():
    model = load("generec_xor.yaml", "dtype=float64", "schedule.train[0].steps=400", "schedule.train[1].steps=400",
                 "schedule.predict[0].steps=400")      # settled: the plus phase then starts where it ends
    x = model.data.x_train
    updates = model.updates(x, model.predict(x))   # the outcome is the expectation: no change
    assert max(float(np.abs(u).max()) for u in updates.values()) < 1e-12


def test_the_covariance_rule_learns_from_deviations_from_its_running_means():
    """IMP-COV: ⟨x⟩ ← ⟨x⟩ + 0.01·(x − ⟨x⟩) and ⟨z⟩ likewise (persistent: carried from trial to trial),
    then ΔW = (z − ⟨z⟩) ⊗ (x − ⟨x⟩)."""
    from ngdsl.compiler.ops import Signal
    model = load("covariance_pca.yaml", "dtype=float64")
    model.fit(epochs=1)                                   # running means well away from 0
    chains = model.executor.chains
    mx, mz = chains[Signal("mx", "z")].copy(), chains[Signal("mz", "z")].copy()
    x = model.data.x_train[:1]
    z = x @ model.weights["W"].T
    mx, mz = mx + 0.01 * (x - mx), mz + 0.01 * (z - mz)
    np.testing.assert_allclose(model.updates(x, np.zeros((1, 1)))["W"], (z - mz).T @ (x - mx), rtol=1e-10)
    assert np.abs(mx - model.data.x_train.mean(axis=0)).max() < 0.5     # they do track the means


def test_on_data_with_a_mean_the_covariance_rule_finds_its_principal_component_and_hebb_the_mean():
    """IMP-COV against IMP-HEBB: with every coordinate's mean at 2, the raw second moment's top
    eigenvector is near the mean's direction; the covariance rule turns to the covariance's."""
    def direction(*overrides):
        model = load("covariance_pca.yaml", "dtype=float64", *overrides)
        model.fit()
        return model.weights["W"][0], model.data.x_train
    w, x = direction()
    covariance = np.linalg.eigh(np.cov(x.T))[1][:, -1]
    raw = np.linalg.eigh(x.T @ x / len(x))[1][:, -1]
    assert abs(cosine(w, covariance)) > 0.995 and abs(cosine(w, raw)) < 0.5
    hebb, _ = direction("cables.W.rule={hebbian: {post: z, pre: x}}")
    assert abs(cosine(hebb, raw)) > 0.995 and abs(cosine(hebb, covariance)) < 0.5
    assert np.linalg.norm(hebb) > 1e20                    # and, unnormalised, it grows without bound


def test_a_mirror_update_is_the_noise_times_its_image_through_w_minus_b():
    """EG-WM: ΔB2 = ξ1 ⊗ (W2 ξ1) − B2 over the batch, so ΔB2 + B2 = S·W2ᵀ with S = ⟨ξ1 ξ1ᵀ⟩ the noise's
    sample second moment: symmetric, with a diagonal near σ² = 1."""
    model = load("wm_digits.yaml", "dtype=float64")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    w = model.weights
    s = (model.updates(x, y)["B2"] + w["B2"]) @ np.linalg.inv(w["W2"].T)
    np.testing.assert_allclose(s, s.T, atol=1e-9)
    assert np.all(np.linalg.eigvalsh((s + s.T) / 2) > -1e-9)      # a second moment: positive semi-definite
    assert abs(np.mean(np.diag(s)) - 1.0) < 0.05
    other = (model.updates(x, y)["B2"] + w["B2"]) @ np.linalg.inv(w["W2"].T)
    assert np.abs(other - s).max() > 0.1                            # fresh noise every trial


def test_with_the_forward_weights_frozen_mirroring_makes_b_their_transpose():
    # a slower rate averages the mirror's noisy estimates over more trials (≈ 200 × 32 samples here)
    model = load("wm_digits.yaml", *(f"cables.{c}.frozen=true" for c in ("W1", "W2", "W3")), "train.epochs=30",
                 "train.optimizer={sgd: {lr: 0.005}}", "metrics=[]")
    w = model.weights
    before = cosine(w["B2"], w["W2"].T), cosine(w["B3"], w["W3"].T)
    model.fit()
    assert max(before) < 0.1
    assert cosine(w["B2"], w["W2"].T) > 0.99 and cosine(w["B3"], w["W3"].T) > 0.99


def test_sign_symmetric_feedback_is_the_sign_of_the_weights_after_every_update():
    """EG-SS: B = sign(W), re-derived after each update (W itself changes sign here and there)."""
    model = load("ss_digits.yaml", "train.epochs=2")
    w, checked = model.weights, []
    start = np.sign(w["W2"]).copy()

    def check():
        checked.append(np.array_equal(w["B2"], np.sign(w["W2"])) and np.array_equal(w["B3"], np.sign(w["W3"])))
    model.fit(on_batch=check)
    flips = int(np.sum(np.sign(w["W2"]) != start))
    assert checked and all(checked) and flips > 0


def test_with_weights_of_one_magnitude_sign_symmetry_is_backprop_scaled_per_layer():
    """EG-SS: when every |W_ij| = c, B = s·sign(W)ᵀ = (s/c)·Wᵀ, so layer l's update is backprop's times
    (s/c)^(L−l): the output layer's equals it, each layer below gains a factor s/c."""
    c, s = 0.05, 0.1
    model = load("ss_digits.yaml", "dtype=float64")
    w = model.weights
    rng = np.random.default_rng(1)
    for name in ("W1", "W2", "W3"):
        w[name][...] = c * rng.choice([-1.0, 1.0], size=w[name].shape)
        w[name + ".bias"][...] = rng.normal(0, 0.1, size=w[name + ".bias"].shape)
    model.executor.load_state(model.executor.state())        # re-derives B from the new W
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    expected = numpy_backprop(w, x, y, hidden_layers=2)
    got = model.updates(x, y)
    for name, power in (("W3", 0), ("W2", 1), ("W1", 2)):
        for key in (name, name + ".bias"):
            np.testing.assert_allclose(got[key], expected[key] * (s / c) ** power, rtol=1e-9, atol=1e-13, err_msg=key)


def test_node_perturbation_on_average_is_the_gradient():
    """EG-PERTURB: ΔW1 = −((L_noisy − L_clean)/σ²)·ξ ⊗ x; averaged over N draws of ξ (one example repeated
    N times in a batch) it tends to backprop's −∂L/∂W1 for L = ½‖y − o‖²."""
    model = load("np_digits.yaml", "dtype=float64", "data.batch=10000")
    w = model.weights
    x, y = model.data.x_train[:1], model.data.y_train[:1]
    h = np.tanh(x @ w["W1"].T + w["W1.bias"])
    e = y - (h @ w["W2"].T + w["W2.bias"])
    gradient = ((e @ w["W2"]) * (1 - h ** 2)).T @ x
    cosines = {}
    for n in (100, 10000):
        mean = model.updates(np.repeat(x, n, axis=0), np.repeat(y, n, axis=0))["W1"]
        cosines[n] = cosine(mean, gradient)
    assert cosines[100] < 0.9 < 0.99 < cosines[10000]               # noisy alone, the gradient on average
    assert abs(np.linalg.norm(mean) / np.linalg.norm(gradient) - 1) < 0.05


def test_bounded_hebbian_weights_settle_at_the_soft_bound_fixed_point():
    """IMP-HEBB-SB: ΔW = (w_max − W) ⊙ C − γW, with C = ⟨y ⊗ x⟩ over the (single, whole) batch, has
    the fixed point W* = w_max·C/(C + γ), elementwise; from 0 the weights stay in [0, w_max)."""
    model = load("hebb_digits.yaml", "dtype=float64", "data.batch=2000", "train.epochs=1000",
                 "train.optimizer={sgd: {lr: 0.5}}", "metrics=[]")
    x, y = model.data.x_train, model.data.y_train
    c = y.T @ x / len(x)
    w, seen = model.weights["W"], []
    model.fit(on_batch=lambda: seen.append((w.min(), w.max())))
    np.testing.assert_allclose(w, 1.0 * c / (c + 0.05), rtol=0, atol=1e-9)
    assert min(lo for lo, _ in seen) >= 0.0 and max(hi for _, hi in seen) < 1.0


@pytest.mark.parametrize("offset", [0.0, 0.5, -0.5])
def test_a_gated_hebbian_update_vanishes_at_the_gate_and_changes_sign_across_it(offset):
    """IMP-GATED: ΔW = (z − g) ⊗ x, the gate g a running average of z (g ← g + 0.1·(z − g), then the update)."""
    from ngdsl.compiler.ops import Signal
    model = load("gated_pca.yaml", "dtype=float64")
    x = model.data.x_train[:1]
    z = float((x @ model.weights["W"].T)[0, 0])
    model.executor.chains[Signal("g", "z")][...] = z - offset
    expected = 0.9 * offset * x                               # z − (g + 0.1·(z − g)) = 0.9·(z − g)
    np.testing.assert_allclose(model.updates(x, np.zeros((1, 1)))["W"], expected, rtol=1e-10, atol=1e-14)


def test_the_wake_phase_teaches_the_generative_side_its_expected_delta_rule():
    """EB-WS, wake: h ~ Bernoulli(σ(R v + c)); ΔG = (v − σ(G h + b)) ⊗ h and ΔP = h − σ(P). Averaged over
    many draws for one image they approach the expectation over all 2⁸ causes, computed exactly."""
    import itertools
    sigmoid = lambda a: 1 / (1 + np.exp(-a))   # noqa: E731
    model = load("ws_bars.yaml", "dtype=float64", "data.batch=40000", "cables.R.init={dist: normal, scale: 1.0}",
                 "cables.G.init={dist: normal, scale: 1.0}", "cables.P.init={dist: normal, scale: 1.0}")
    w = model.weights
    v = model.data.x_train[:1]
    q = sigmoid(v @ w["R"].T + w["R.bias"])[0]
    expected_g, expected_gb, expected_p = 0.0, 0.0, 0.0
    for bits in itertools.product([0.0, 1.0], repeat=8):
        h = np.array(bits)
        p = np.prod(np.where(h == 1, q, 1 - q))
        err = v[0] - sigmoid(w["G"] @ h + w["G.bias"])
        expected_g = expected_g + p * np.outer(err, h)
        expected_gb = expected_gb + p * err
        expected_p = expected_p + p * (h - sigmoid(w["P"][:, 0]))
    got = model.updates(np.repeat(v, 40000, axis=0), np.zeros((40000, 8)))
    for name, want in (("G", expected_g), ("G.bias", expected_gb), ("P", expected_p[:, None])):
        assert np.abs(got[name] - want).max() < 0.015, name                  # sampling error of 40,000 draws
        assert cosine(got[name], want) > 0.999, name


def test_the_sleep_phase_teaches_recognition_to_recover_the_causes_of_dreams():
    """EB-WS, sleep: h' ~ Bernoulli(σ(P)), v' ~ Bernoulli(σ(G h' + b)); ΔR = (h' − σ(R v' + c)) ⊗ v'. The
    mean over 40,000 dreams agrees with the same expectation estimated by NumPy from its own draws."""
    sigmoid = lambda a: 1 / (1 + np.exp(-a))   # noqa: E731
    model = load("ws_bars.yaml", "dtype=float64", "data.batch=40000", "cables.R.init={dist: normal, scale: 1.0}",
                 "cables.G.init={dist: normal, scale: 1.0}", "cables.P.init={dist: normal, scale: 1.0}")
    w = model.weights
    rng = np.random.default_rng(0)
    n = 400000
    h = (rng.random((n, 8)) < sigmoid(w["P"][:, 0])).astype(float)
    v = (rng.random((n, 16)) < sigmoid(h @ w["G"].T + w["G.bias"])).astype(float)
    err = h - sigmoid(v @ w["R"].T + w["R.bias"])
    want = err.T @ v / n
    got = model.updates(np.repeat(model.data.x_train[:1], 40000, axis=0), np.zeros((40000, 8)))["R"]
    assert np.abs(got - want).max() < 0.015 and cosine(got, want) > 0.995


def _efp_reference(w, x, y):
    """efp_digits' two passes in NumPy: the expected updates (batch means)."""
    relu = lambda a: np.maximum(a, 0.0)   # noqa: E731
    h1 = relu(x @ w["W1"].T + w["W1.bias"])
    h2 = relu(h1 @ w["W2"].T + w["W2.bias"])
    e = softmax(h2 @ w["W3"].T + w["W3.bias"]) - y
    h1n = h1 + e @ w["F"].T                                   # the error enters the first hidden layer
    h2n = relu(h1n @ w["W2"].T + w["W2.bias"])
    en = softmax(h2n @ w["W3"].T + w["W3.bias"]) - y
    n = len(x)
    return {"W1": -(h1 - h1n).T @ x / n, "W1.bias": -(h1 - h1n).mean(0), "W2": -(h2 - h2n).T @ h1n / n,
            "W2.bias": -(h2 - h2n).mean(0), "W3": -en.T @ h2n / n, "W3.bias": -en.mean(0)}


def test_error_forward_propagation_learns_from_how_each_layer_changed_between_the_passes():
    """FO-EFP: h̃1 = h1 + F e; ΔW_l = −(h_l − h̃_l) ⊗ h̃_(l−1); ΔW3 = −ẽ ⊗ h̃2."""
    model = load("efp_digits.yaml", "dtype=float64", "cables.F.init.scale=0.5")
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    expected = _efp_reference(model.weights, x, y)
    got = model.updates(x, y)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-10, atol=1e-13, err_msg=name)
    assert np.abs(expected["W1"]).max() > 1e-3


def test_error_forward_propagation_does_not_learn_what_it_already_predicts():
    model = load("efp_digits.yaml", "dtype=float64")
    x = model.data.x_train[:16]
    targets = softmax(model.predict(x))                      # e = 0: the two passes agree
    assert max(float(np.abs(u).max()) for u in model.updates(x, targets).values()) < 1e-12


def _stdp_reference(t_pre, t_post, steps, tau, a_plus, a_minus):
    """W after ``steps`` steps of pair-based STDP in trace form, in numpy: each unit fires once, on
    the first step whose count passes its time; its trace decays by (1 − 1/τ) and jumps by 1 at its
    spike; after each step W += A+·post_spike ⊗ x_pre − A−·y_post ⊗ pre_spike."""
    w = np.zeros((len(t_post), len(t_pre)))
    x, y = np.zeros(len(t_pre)), np.zeros(len(t_post))
    for k in range(1, steps + 1):
        pre, post = (np.floor(t_pre) + 1 == k).astype(float), (np.floor(t_post) + 1 == k).astype(float)
        x, y = x * (1 - 1 / tau) + pre, y * (1 - 1 / tau) + post
        w += a_plus * np.outer(post, x) - a_minus * np.outer(y, pre)
    return w


def test_stdp_weights_follow_the_trace_arithmetic_exactly():
    model = load("stdp_pairs.yaml")
    t_pre, t_post = model.data.x_train[0], model.data.y_train[0]
    model.fit()
    want = _stdp_reference(t_pre, t_post, 200, tau=20.0, a_plus=0.01, a_minus=0.0105)
    np.testing.assert_allclose(model.weights["W"], want, rtol=1e-12, atol=1e-15)
    dt = t_post - t_pre[0]
    w = model.weights["W"][:, 0]
    assert np.all(w[dt > 0] > 0) and np.all(w[dt < 0] < 0)   # pre before post potentiates; after, depresses
    assert np.all(np.diff(w[dt > 0]) < 0) and np.all(np.diff(w[dt < 0]) < 0)   # the window decays with |Δt|


def test_stdp_with_no_amplitude_changes_nothing():
    model = load("stdp_pairs.yaml", "cables.W.rule.equation.constants.A_plus=0",
                 "cables.W.rule.equation.constants.A_minus=0")
    model.fit()
    assert not model.weights["W"].any()


def _stdp_digits_reference(w, theta, r, inh, x, y, steps=100):
    """One trial of stdp_digits.yaml in NumPy, for spike trains that are the (binary) pixels on every
    step: the input traces, the LIF units with lateral inhibition and their adaptive currents θ, STDP
    toward the normalised traces and θ's change after every step; then the readout's ΔR."""
    trace, v, n, spikes = np.zeros(len(x)), np.zeros(len(w)), np.zeros(len(w)), np.zeros(len(w))
    for _ in range(steps):
        trace = trace + (x - trace) / 20.0
        v = v - v / 20.0 + w @ x + inh @ spikes + theta[:, 0]
        spikes = (v > 1).astype(float)
        v[spikes > 0], n = 0.0, n + spikes
        w = w + 0.002 * (np.outer(spikes, trace / (trace.sum() + 0.001)) - spikes[:, None] * w)
        theta = theta - 0.0005 * spikes[:, None] - theta / 1e5
    return w, theta, r + np.outer(y, n / (n.sum() + 1)) - 0.002 * r, n


def test_stdp_digits_learns_toward_the_input_traces_with_its_thresholds_adapting_as_the_equations_say():
    # binary pixels at rate 1 spike on every step, so the trial is deterministic and NumPy can follow it
    model = load("stdp_digits.yaml", "cables.rate.scale=1.0")
    weights = {k: v.copy() for k, v in model.weights.items()}
    x = (model.data.x_train[:3] > 0.5).astype(float)
    w, theta, r = weights["W"], weights["theta"], weights["R"]
    for i in range(3):   # θ carries from trial to trial
        model.executor.train_batch(x[i:i + 1], model.data.y_train[i:i + 1])
        w, theta, r, n = _stdp_digits_reference(w, theta, r, weights["inh"], x[i], model.data.y_train[i])
        assert n.sum() > 10                                   # the units fired, so STDP moved W
    for name, want in (("W", w), ("theta", theta), ("R", r)):
        np.testing.assert_allclose(model.weights[name], want, rtol=1e-10, atol=1e-14, err_msg=name)
    assert np.abs(w - weights["W"]).max() > 1e-3 and theta.min() < -1e-3


def _gncn_reference(w, x, steps=50, dt=0.1, leak=0.001):
    """One GNCN trial in NumPy: from rest, the latents settle for ``steps`` synchronous Euler steps
    (each pulled by its own error, pushed by the error below through E and, with lateral matrices
    V1–V3 in ``w``, held back by its group's activity), then ΔW_l = e_{l−1} ⊗ φ(z_l) and
    ΔE_l = φ(z_l) ⊗ e_{l−1} from the settled errors (batch means). With skip matrices M2, M3 in ``w``
    (GNCN-PDH) each layer is also predicted from the layer two above, and ΔM = e ⊗ φ likewise. With
    precisions ``S1.precision``, ``S2.precision`` (GNCN-t1-Σ) a latent layer's error is e = P r of its raw
    error r, and ΔS = r ⊗ r − S."""
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    z = [np.zeros((len(x), len(w["W1"].T))), np.zeros((len(x), len(w["W2"].T))), np.zeros((len(x), len(w["W3"].T)))]
    skip = {name: w.get(name, np.zeros((len(w[below].T[0]), len(w[below].T)))) for name, below in
            (("M2", "W1"), ("M3", "W2"))}

    def errors():
        phi = [relu(v) for v in z]
        e0 = x - 1 / (1 + np.exp(-(phi[0] @ w["W1"].T + phi[1] @ skip["M2"].T)))
        raw = [z[0] - phi[1] @ w["W2"].T - phi[2] @ skip["M3"].T, z[1] - phi[2] @ w["W3"].T]
        weighted = [r @ w[f"S{l + 1}.precision"].T if f"S{l + 1}" in w else r for l, r in enumerate(raw)]
        return phi, [e0, *weighted], raw

    for _ in range(steps):
        phi, e, _ = errors()
        pushed = [e[0] @ w["E1"].T, e[1] @ w["E2"].T, e[2] @ w["E3"].T]
        held = [phi[l] @ w[f"V{l + 1}"].T if f"V{l + 1}" in w else 0.0 for l in range(3)]
        z = [z[l] + dt * (-leak * z[l] - (e[l + 1] if l < 2 else 0.0) + pushed[l] - held[l]) for l in range(3)]
    phi, e, raw = errors()
    updates = {}
    for l in range(3):
        updates[f"W{l + 1}"] = e[l].T @ phi[l] / len(x)
        updates[f"E{l + 1}"] = phi[l].T @ e[l] / len(x)
    for l in range(2):
        if f"S{l + 1}" in w:
            updates[f"S{l + 1}"] = raw[l].T @ raw[l] / len(x) - w[f"S{l + 1}"]
    if "M2" in w:
        updates["M2"], updates["M3"] = e[0].T @ phi[1] / len(x), e[1].T @ phi[2] / len(x)
    return updates


def _assert_gncn_trial(model, rows=16):
    """One trial's updates of a GNCN model on its first training ``rows`` equal :func:`_gncn_reference`'s
    (each one moving); returns them."""
    x = model.data.x_train[:rows]
    want = _gncn_reference(model.weights, x)
    got = model.updates(x, model.data.y_train[:rows])
    assert set(got) == set(want)
    for name, value in want.items():
        assert np.abs(value).max() > 1e-4, name
        np.testing.assert_allclose(got[name], value, rtol=1e-9, atol=1e-12, err_msg=name)
    return want


def test_gncn_generates_from_its_settled_top_layer_through_every_layer_below():
    # the readout holds the settled z3 and predicts down: z2 = W3 φ(z3), z1 = W2 φ(z2), x̄ = σ(W1 φ(z1))
    model = load("gncn_t1_digits.yaml", "dtype=float64", "train.epochs=1")
    model.fit()
    w, x = model.weights, model.data.x_test[:8]
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    top = relu(model.activity(x, "z3")["z3"])
    z2 = top @ w["W3"].T
    z1 = relu(z2) @ w["W2"].T
    np.testing.assert_allclose(model.predict(x), 1 / (1 + np.exp(-(relu(z1) @ w["W1"].T))), rtol=1e-12, atol=1e-15)
    assert np.abs(z2).max() > 1e-2 and np.abs(top).max() > 1e-2


def test_gncn_samples_are_its_ancestral_pass_from_draws_of_a_mixture_fitted_to_its_settled_top_layer():
    # schedule.sample clamps z3 to draws of the prior and predicts down as the readout does
    model = load("gncn_t1_digits.yaml", "dtype=float64", "train.epochs=1")
    model.fit()
    w, relu = model.weights, lambda v: np.maximum(v, 0.0)  # noqa: E731
    draws = np.random.default_rng(5).normal(0.0, 0.5, (40, 32))
    z1 = relu(relu(draws) @ w["W3"].T) @ w["W2"].T
    np.testing.assert_allclose(model._generate(draws), 1 / (1 + np.exp(-(relu(z1) @ w["W1"].T))), rtol=1e-12,
                               atol=1e-15)
    # the prior is a mixture fitted to z3 as schedule.predict leaves it on the training images
    settled = model.activity(model.data.x_train, "z3.z")["z3.z"]
    prior = model.fit_prior()
    fitted = GaussianMixture.fit(settled, 10, model._prior_rng(0))
    np.testing.assert_allclose(prior.means, fitted.means, rtol=1e-12)
    np.testing.assert_allclose(model.sample(6), model._generate(prior.sample(6, model._prior_rng(1))), rtol=1e-12)
    # log_px is the Monte-Carlo mean of the Bernoulli likelihood over the prior's draws
    samples = model.sample(model.plan.prior["draws"])
    x = model.data.x_test.astype(np.float64)
    p = np.clip(samples, 1e-7, 1 - 1e-7)
    likelihoods = np.exp(x @ np.log(p).T + (1 - x) @ np.log(1 - p).T)   # (examples, draws); no underflow at 64 pixels
    assert likelihoods.min() > 0
    assert model.evaluate()["test_log_px"] == pytest.approx(float(np.mean(np.log(likelihoods.mean(axis=1)))),
                                                            rel=1e-10)


def test_the_mixture_recovers_the_gaussians_its_data_came_from():
    rng = np.random.default_rng(0)
    means = np.array([[-3.0, 0.0, 1.0], [2.0, 2.0, -1.0]])
    factors = np.array([[[1.0, 0, 0], [0.5, 0.5, 0], [0, 0.2, 0.3]], [[0.4, 0, 0], [0, 1.0, 0], [0.3, 0, 0.6]]])
    labels = rng.random(6000) < 0.3
    z = np.where(labels[:, None], means[0], means[1]) + np.einsum(
        "nij,nj->ni", factors[labels.astype(int) ^ 1], rng.standard_normal((6000, 3)))
    mixture = GaussianMixture.fit(z, 2, np.random.default_rng(1))
    first = int(np.argmin(mixture.means[:, 0]))
    np.testing.assert_allclose(mixture.weights[first], 0.3, atol=0.02)
    np.testing.assert_allclose(mixture.means[[first, 1 - first]], means, atol=0.06)
    for j, want in zip((first, 1 - first), factors):
        np.testing.assert_allclose(mixture.cholesky[j] @ mixture.cholesky[j].T, want @ want.T, atol=0.06)
    # its density is the weighted sum of the two Gaussian densities
    point = np.array([[0.5, 1.0, 0.0]])
    density = sum(w * np.exp(-0.5 * (point - m) @ np.linalg.inv(c @ c.T) @ (point - m).T)[0, 0]
                  / np.sqrt((2 * np.pi) ** 3 * np.linalg.det(c @ c.T))
                  for w, m, c in zip(mixture.weights, mixture.means, mixture.cholesky))
    np.testing.assert_allclose(np.exp(mixture.log_density(point)), density, rtol=1e-10)
    # and its draws come back in its proportions
    drawn = mixture.sample(20000, np.random.default_rng(2))
    assert abs(np.mean(drawn[:, 0] < -0.5) - 0.3) < 0.02


@pytest.mark.kernels_only
def test_gncn_sigma_weights_its_latent_errors_by_the_inverse_of_their_learned_covariance():
    # GNCN-t1-Σ: S1, S2 learn ΔS = r ⊗ r − S (r: the raw error) and carry P = S⁻¹ with S's diagonal
    # raised to ≥ 1; e = P r drives the layer, rises through E and teaches W
    model = load("gncn_t1_sigma_digits.yaml", "dtype=float64", "train.epochs=2")
    model.fit()
    w = model.weights
    for name in ("S1", "S2"):
        covariance = 0.5 * (w[name] + w[name].T)
        np.fill_diagonal(covariance, np.maximum(np.diagonal(covariance), 1.0))
        np.testing.assert_allclose(w[f"{name}.precision"], np.linalg.solve(covariance, np.eye(32)), rtol=1e-10,
                                   atol=1e-12, err_msg=name)
        assert np.abs(w[f"{name}.precision"] - np.eye(32)).max() > 1e-2, name   # a precision that is not I
    want = _assert_gncn_trial(model)
    # the errors are weighted: read raw, the updates of W2, W3, E2, E3 would differ
    unweighted = _gncn_reference({k: v for k, v in w.items() if not k.startswith("S")}, model.data.x_train[:16])
    assert np.abs(unweighted["W2"] - want["W2"]).max() > 1e-3


@pytest.mark.kernels_only
def test_gncn_pdh_predicts_past_a_layer_and_its_units_compete_within_their_groups():
    # GNCN-PDH: skip predictions (M2: z2 → the image, M3: z3 → z1) and a fixed lateral V per layer
    model = load("gncn_pdh_digits.yaml", "dtype=float64", "train.epochs=1")
    model.fit()
    w = model.weights
    groups = np.kron(np.eye(4), np.ones((8, 8)))   # 4 groups of 8 units; none inhibits itself
    for name in ("V1", "V2", "V3"):
        np.testing.assert_array_equal(w[name], 0.05 * (groups - np.eye(32)))
    _assert_gncn_trial(model)
    # the readout regenerates from the settled top layer through the skips too
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    x = model.data.x_test[:8]
    top = relu(model.activity(x, "z3")["z3"])
    z2 = top @ w["W3"].T
    z1 = relu(z2) @ w["W2"].T + top @ w["M3"].T
    np.testing.assert_allclose(model.predict(x), 1 / (1 + np.exp(-(relu(z1) @ w["W1"].T + relu(z2) @ w["M2"].T))),
                               rtol=1e-12, atol=1e-15)


def test_gncn_settles_top_down_and_learns_from_the_errors_it_sees():
    # GNCN-t1 (Ororbia & Kifer 2022) after some training, so that every layer is active
    model = load("gncn_t1_digits.yaml", "dtype=float64", "train.epochs=1")
    model.fit()
    _assert_gncn_trial(model)


@pytest.mark.kernels_only
def test_recurrent_backprop_is_the_gradient_at_the_fixed_point():
    # Almeida-Pineda: the relaxed adjoint gives the exact descent direction of C = ½‖y − s_o‖² at s*
    model = load("rbp_digits.yaml", "dtype=float64", "components.h.size=4", "components.ah.size=4",
                 "schedule.train[0].steps=600", "schedule.train[1].steps=600", "schedule.predict[0].steps=600")
    x, y = model.data.x_train[:8], model.data.y_train[:8]
    updates = model.updates(x, y)

    def cost():   # re-settled to the fixed point for every perturbation
        return float(np.mean(0.5 * np.sum((y - model.predict(x)) ** 2, axis=1)))

    for name, delta in updates.items():
        picks = range(min(delta.size, 40))
        fd = descent_by_finite_differences(model.weights[name], picks, cost, 1e-5)
        np.testing.assert_allclose(delta.reshape(-1)[:len(fd)], fd, rtol=1e-6, atol=1e-9, err_msg=name)


def test_recurrent_backprop_without_its_adjoint_phase_learns_nothing():
    model = load("rbp_digits.yaml", "dtype=float64", "schedule.train[1].steps=0")
    updates = model.updates(model.data.x_train[:8], model.data.y_train[:8])
    assert all(not np.any(delta) for delta in updates.values())


def _ff_inputs(x, labels):
    """The layer-normalised input [x, label] / (‖[x, label]‖ + ε) of forward-forward's first layer."""
    norm = np.sqrt(np.sum(x * x, axis=1, keepdims=True) + np.sum(labels * labels, axis=1, keepdims=True)) + 1e-4
    return x / norm, labels / norm


def _ff_layers(w, x, labels):
    """Forward-forward's two ReLU layers, each reading the last one's activity length-normalised."""
    xl, ll = _ff_inputs(x, labels)
    h1 = np.maximum(xl @ w["W1"].T + ll @ w["U1"].T, 0.0)
    n1 = h1 / (np.sqrt(np.sum(h1 * h1, axis=1, keepdims=True)) + 1e-4)
    return h1, n1, np.maximum(n1 @ w["W2"].T, 0.0)


def _ff_loss(positive, negative, theta=64.0):
    """A layer's loss: −log σ(G − θ) on positives, −log(1 − σ(G − θ)) on negatives (batch means), G = Σ z²."""
    g_pos, g_neg = np.sum(positive ** 2, axis=1), np.sum(negative ** 2, axis=1)
    return float(np.mean(np.logaddexp(0.0, theta - g_pos)) + np.mean(np.logaddexp(0.0, g_neg - theta)))


def _ff_trial(model):
    """A batch, the wrong labels the trial drew for it, and the ΔW it formed."""
    from ngdsl.runtime import streams
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    updates = model.updates(x, y)
    wrong = np.zeros_like(y)
    draw = model.executor.draw
    streams.derive(model.plan.data["streams"], "wrong", int(draw[0]), int(draw[1]), x, y, wrong)
    assert not np.any(wrong.argmax(axis=1) == y.argmax(axis=1))
    return x, y, wrong, updates


def test_forward_forward_updates_descend_each_layers_own_goodness_loss():
    # Each layer's ΔW = −∂L_l/∂W_l with its input held (no error between layers): finite differences
    # of layer 1's loss in W1 and U1, and of layer 2's in W2 with layer 1's output fixed.
    model = load("ff_digits.yaml", "dtype=float64")
    x, y, wrong, updates = _ff_trial(model)
    w = model.weights
    n1 = {c: _ff_layers(w, x, labels)[1] for c, labels in (("pos", y), ("neg", wrong))}
    losses = {"W1": lambda: _ff_loss(_ff_layers(w, x, y)[0], _ff_layers(w, x, wrong)[0]),
              "W2": lambda: _ff_loss(np.maximum(n1["pos"] @ w["W2"].T, 0), np.maximum(n1["neg"] @ w["W2"].T, 0))}
    losses["U1"] = losses["W1"]
    rng = np.random.default_rng(0)
    for name, loss in losses.items():
        picks = rng.choice(updates[name].size, size=40, replace=False)
        fd = descent_by_finite_differences(w[name], picks, loss, 1e-6)
        got = updates[name].reshape(-1)[picks]
        assert np.linalg.norm(fd) > 1e-4, name
        assert np.linalg.norm(fd - got) / np.linalg.norm(fd) < 1e-6, name


def test_forward_forward_scores_each_candidate_label_by_its_goodness():
    model = load("ff_digits.yaml", "dtype=float64")
    x = model.data.x_test[:5]
    eye = np.eye(10)
    want = np.stack([sum(np.sum(a ** 2, axis=1) for a in _ff_layers(model.weights, x, np.tile(eye[k], (5, 1)))[::2])
                     for k in range(10)], axis=1)
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-10)


TINY_DBM = ["dtype=float64", "data={dataset: bars, n: 100, size: 2, p: 0.3, test_fraction: 0.2, batch: 10}",
            "components.v.size=4", "components.y.size=4", "components.vc.size=4", "components.mu1.size=3",
            "components.h1c.size=3", "components.mu2.size=2", "components.h2c.size=2", "schedule.train[0].steps=10"]


@pytest.mark.kernels_only
def test_the_sap_update_of_a_tiny_dbm_is_its_exact_likelihood_gradient_on_average():
    # EB-DBM-SAP on 4-3-2 units, every one of the 2⁹ states enumerated: ⟨h1 vᵀ⟩ under p(h | v) over the batch
    # minus under p(v, h); averaged over trials (the chains run on) SAP's ΔW1 points the same way
    import itertools
    model = load("dbm_digits.yaml", *TINY_DBM)
    w = model.weights
    rng = np.random.default_rng(0)
    for name in ("W1", "W1.bias", "W2", "W2.bias", "bv"):
        w[name][...] = rng.normal(0, 1.0, w[name].shape)
    x, y = model.data.x_train[:10], model.data.y_train[:10]
    states = np.array(list(itertools.product([0.0, 1.0], repeat=9)))
    v, h1, h2 = states[:, :4], states[:, 4:7], states[:, 7:]
    minus_energy = (np.einsum("si,ji,sj->s", v, w["W1"], h1) + np.einsum("si,ji,sj->s", h1, w["W2"], h2)
                    + v @ w["bv"][:, 0] + h1 @ w["W1.bias"] + h2 @ w["W2.bias"])
    p = np.exp(minus_energy - minus_energy.max())
    p /= p.sum()
    data_term = np.zeros_like(w["W1"])
    for example in x:
        q = p * np.all(v == example, axis=1)
        data_term += np.einsum("s,sj,si->ji", q / q.sum(), h1, v) / len(x)
    exact = data_term - np.einsum("s,sj,si->ji", p, h1, v)
    sap = np.mean([model.updates(x, y)["W1"] for _ in range(1500)], axis=0)
    assert cosine(exact, sap) > 0.99


def test_a_dbm_comes_to_reconstruct_held_out_images_through_its_mean_field():
    # v̂ = σ(W1ᵀ mu1 + b_v), mu from the mean-field iteration with the image clamped: far nearer the image
    # after training than at the start
    model = load("dbm_digits.yaml", "train.epochs=2", "data.nudge=false")
    x = model.data.x_test

    def reconstruction_error():
        w = model.weights
        sigmoid = lambda a: 1 / (1 + np.exp(-a))   # noqa: E731
        mu1 = sigmoid(x @ w["W1"].T + w["W1.bias"])
        mu2 = sigmoid(mu1 @ w["W2"].T + w["W2.bias"])
        for _ in range(3):
            mu1, mu2 = sigmoid(x @ w["W1"].T + mu2 @ w["W2"] + w["W1.bias"]), sigmoid(mu1 @ w["W2"].T + w["W2.bias"])
        return float(np.mean((sigmoid(mu1 @ w["W1"] + w["bv"][:, 0]) - x) ** 2))

    before = reconstruction_error()
    model.fit()
    assert reconstruction_error() < 0.5 * before


def gaussian_hsic(z, other, s_z, s_other):
    """HSIC(Z, B) = tr(K_Z H K_B H)/(m − 1)² with kernels exp(−‖a_i − a_j‖²/s)."""
    def kernel(a, s):
        return np.exp(-((a[:, None, :] - a[None, :, :]) ** 2).sum(axis=2) / s)
    m = len(z)
    h = np.eye(m) - 1.0 / m
    return float(np.trace(kernel(z, s_z) @ h @ kernel(other, s_other) @ h) / (m - 1) ** 2)


def test_an_hsic_layers_update_is_the_descent_of_its_own_bottleneck_objective():
    # EG-HSIC: ΔW1 = −∂(HSIC(Z1, X) − β HSIC(Z1, Y))/∂W1 with the input held, by finite differences, times
    # s_z (m − 1)²/(4m): the factors the measure leaves out (2/s_z per kernel derivative, 2 per symmetric
    # pair, 1/(m − 1)² of HSIC) and the batch mean of outer()
    model = load("hsic_digits.yaml", "dtype=float64")
    w = model.weights
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    got = model.updates(x, y)

    def loss():
        z = np.tanh(x @ w["W1"].T + w["W1.bias"])
        return gaussian_hsic(z, x, 20.0, 10.0) - 10.0 * gaussian_hsic(z, y, 20.0, 2.0)

    picks = np.random.default_rng(0).choice(w["W1"].size, size=40, replace=False)
    descent = descent_by_finite_differences(w["W1"], picks, loss, 1e-6)
    factor = 20.0 * 15 ** 2 / (4 * 16)
    np.testing.assert_allclose(got["W1"].reshape(-1)[picks], descent * factor, rtol=1e-5, atol=1e-12)
    bias = descent_by_finite_differences(w["W1.bias"], range(8), loss, 1e-6)
    np.testing.assert_allclose(got["W1.bias"][:8], bias * factor, rtol=1e-5, atol=1e-12)


def test_hsic_training_raises_each_layers_dependence_on_the_labels():
    model = load("hsic_digits.yaml", "train.epochs=5")
    x, y = model.data.x_test[:200], model.data.y_test[:200]

    def with_labels():
        h1, h2 = tanh_layers(model.weights, x)
        return [gaussian_hsic(h, y, 20.0, 2.0) for h in (h1, h2)]

    before = with_labels()
    model.fit()
    assert all(after > 2 * start for after, start in zip(with_labels(), before)), (before, with_labels())


def test_a_signal_propagation_layer_descends_its_own_loss_with_the_targets_held():
    # FO-SIGPROP: with S_ij = −‖h_i − t_j‖²/τ, P its row softmax and Y_ij = [y_i = y_j] normalised by row,
    # ΔW1 = −∂(−Σ Y log P)/∂W1 through the images' path alone (t1, the labels' activity, held), by finite
    # differences, times τ/(2m): the factors the measure and outer()'s batch mean leave out
    model = load("sigprop_digits.yaml", "dtype=float64")
    w = model.weights
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    got = model.updates(x, y)
    t1 = np.tanh((y @ w["S"].T) @ w["W1"].T + w["W1.bias"])
    same = (y @ y.T)
    target = same / same.sum(axis=1, keepdims=True)

    def loss():
        h1 = np.tanh(x @ w["W1"].T + w["W1.bias"])
        s = -((h1[:, None, :] - t1[None, :, :]) ** 2).sum(axis=2) / 1.0
        log_p = s - s.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        return float(-(target * log_p).sum())

    picks = np.random.default_rng(0).choice(w["W1"].size, size=40, replace=False)
    descent = descent_by_finite_differences(w["W1"], picks, loss, 1e-6)
    np.testing.assert_allclose(got["W1"].reshape(-1)[picks], descent / (2 * 16), rtol=1e-5, atol=1e-12)


def test_signal_propagation_scores_each_label_by_its_distance_after_the_same_layers():
    model = load("sigprop_digits.yaml", "dtype=float64")
    w = model.weights
    x = model.data.x_test[:5]
    h2 = tanh_layers(w, x)[1]
    labels = np.tanh(np.tanh(w["S"].T @ w["W1"].T + w["W1.bias"]) @ w["W2"].T + w["W2.bias"])   # one row per class
    want = -((h2[:, None, :] - labels[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-10)


def test_rstdp_moves_the_weights_by_the_trials_reward_times_the_eligibility_the_spikes_left():
    # EG-RSTDP: after a trial, W ← W + lr·(r·E − decay·|r|·W) with E as the trial left it and r its reward
    from ngdsl.compiler.ops import Signal
    model = load("rstdp_choice.yaml", "data.repeat=10")
    model.fit(epochs=3)
    x, y = model.data.x_train[:1], model.data.y_train[:1]
    before = model.weights["W"].copy()
    model.executor.train_batch(x, y)
    reward = model.executor.buffers(1)[Signal("reward", "phi")][0, 0]
    counts = model.executor.buffers(1)[Signal("out", "n")][0]
    right = counts @ y[0]
    assert reward == pytest.approx((right - (counts.sum() - right)) / (counts.sum() + 1))
    want = before + 0.05 * (reward * model.weights["E"] - 0.1 * abs(reward) * before)
    np.testing.assert_allclose(model.weights["W"], want, rtol=1e-12)


def test_without_a_reward_rstdp_changes_no_weight_though_the_eligibility_follows_the_spikes():
    model = load("rstdp_choice.yaml", "components.reward.value=0 * total(y)", "data.repeat=10", "train.epochs=3")
    before = model.weights["W"].copy()
    model.fit()
    np.testing.assert_array_equal(model.weights["W"], before)
    assert np.abs(model.weights["E"]).max() > 0.01


def layer_norm(v):
    return v / (np.sqrt((v * v).sum(axis=1, keepdims=True)) + 1e-4)


def numpy_rff_share(w, x, label, c, beta, steps, theta=64.0):
    """One phase's ΔM of recurrent forward-forward from eq. 63: both layers settle ``steps`` synchronous
    leaky steps from rest, each reading LN of the layer below, above (or the label) and itself; then
    ΔM = ± 2(c − σ(G_l − θ)) phi_l ⊗ LN(source one step before the last), minus for the lateral M."""
    z1, z2 = np.zeros((len(x), 64)), np.zeros((len(x), 64))
    xl = layer_norm(x)
    for _ in range(steps):
        n1, n2 = layer_norm(np.maximum(z1, 0)), layer_norm(np.maximum(z2, 0))
        drive1 = xl @ w["W1"].T + n2 @ w["V1"].T - n1 @ w["Lat1"].T
        drive2 = n1 @ w["W2"].T + label @ w["V2"].T - n2 @ w["Lat2"].T
        z1, z2 = z1 + beta * (drive1 - z1), z2 + beta * (drive2 - z2)
    h1, h2 = np.maximum(z1, 0), np.maximum(z2, 0)
    m1, m2 = ((2 * (c - 1 / (1 + np.exp(-((h * h).sum(axis=1, keepdims=True) - theta))))) * h for h in (h1, h2))
    return {"W1": m1.T @ xl, "V1": m1.T @ n2, "Lat1": -(m1.T @ n1),
            "W2": m2.T @ n1, "V2": m2.T @ label, "Lat2": -(m2.T @ n2)}, (h1, h2)


@pytest.mark.parametrize("beta, steps, recurrent", [(0.5, 8, True), (1.0, 2, False)])
def test_recurrent_forward_forward_settles_and_learns_as_eq_63_says(beta, steps, recurrent):
    # the positive phase with the right label and, for a deterministic check, the negative phase with the same
    # image and label (c = 0); with β = 1, no top-down V1 and no laterals it is forward-forward after two steps
    model = load("rff_digits.yaml", "dtype=float64", f"components.h1.dt={beta}", f"components.h2.dt={beta}",
                 f"schedule.train[0].steps={steps}", f"schedule.train[1].steps={steps}",
                 "schedule.train[1].clamp={x: data.x, l: data.y, c: 0}")
    w = model.weights
    rng = np.random.default_rng(0)
    for name in ("Lat1", "Lat2"):
        w[name][...] = 0.1 * rng.random((64, 64)) * (1 - np.eye(64)) if recurrent else 0.0
    if not recurrent:
        w["V1"][...] = 0.0
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    positive, (h1, h2) = numpy_rff_share(w, x, y, 1.0, beta, steps)
    negative, _ = numpy_rff_share(w, x, y, 0.0, beta, steps)
    got = model.updates(x, y)
    for name in positive:
        np.testing.assert_allclose(got[name], (positive[name] + negative[name]) / 16, rtol=1e-9, atol=1e-13,
                                   err_msg=name)
    if not recurrent:   # the feed-forward pass of forward-forward with the label entering the second layer
        ff1 = np.maximum(layer_norm(x) @ w["W1"].T, 0)
        np.testing.assert_allclose(h1, ff1, rtol=1e-12)
        np.testing.assert_allclose(h2, np.maximum(layer_norm(ff1) @ w["W2"].T + y @ w["V2"].T, 0), rtol=1e-12)
    model.executor.train_batch(x, y)
    assert not np.any(np.diag(w["Lat1"])) and not np.any(np.diag(w["Lat2"]))   # no self-inhibition, ever


def test_the_lateral_update_descends_the_last_steps_own_goodness_loss():
    # −∂(log loss of σ(G₁ − θ) against c = 1)/∂Lat1 through the last step alone, by finite differences,
    # points the way ΔLat1 does (β from eq. 63 folded into the rate)
    model = load("rff_digits.yaml", "dtype=float64")
    w, x, y = model.weights, model.data.x_train[:8], model.data.y_train[:8]
    rng = np.random.default_rng(1)
    w["Lat1"][...] = 0.1 * rng.random((64, 64)) * (1 - np.eye(64))
    share, _ = numpy_rff_share(w, x, y, 1.0, 0.5, 8)
    z1, z2, xl = np.zeros((8, 64)), np.zeros((8, 64)), layer_norm(x)
    for _ in range(7):
        n1, n2 = layer_norm(np.maximum(z1, 0)), layer_norm(np.maximum(z2, 0))
        z1, z2 = (z1 + 0.5 * (xl @ w["W1"].T + n2 @ w["V1"].T - n1 @ w["Lat1"].T - z1),
                  z2 + 0.5 * (n1 @ w["W2"].T + y @ w["V2"].T - n2 @ w["Lat2"].T - z2))
    n1, n2 = layer_norm(np.maximum(z1, 0)), layer_norm(np.maximum(z2, 0))

    def loss():
        h = np.maximum(z1 + 0.5 * (xl @ w["W1"].T + n2 @ w["V1"].T - n1 @ w["Lat1"].T - z1), 0)
        return float(np.sum(np.log1p(np.exp(-((h * h).sum(axis=1) - 64.0)))))

    picks = rng.choice(64 * 64, size=200, replace=False)
    picks = picks[picks % 65 != 0]   # off the diagonal
    descent = descent_by_finite_differences(w["Lat1"], picks, loss, 1e-6)
    assert cosine(descent, share["Lat1"].reshape(-1)[picks]) > 0.999


def numpy_pff_explain(w, x, steps=40, beta=0.5, dt=0.1, leak=0.01):
    """PFF's generative circuit settling on an image's label-free representation: from rest, the
    representation steps as in eq. 63 with no label while zg += dt(−γ zg + Gyᵀ e2), e2 = φ(h2) − relu(Gy φ(zg)),
    all synchronously; returns the settled (φ(h1), φ(h2), zg)."""
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    z1, z2, zg = np.zeros((len(x), 64)), np.zeros((len(x), 64)), np.zeros((len(x), 20))
    xl = layer_norm(x)
    for _ in range(steps):
        e2 = relu(z2) - relu(relu(zg) @ w["Gy"].T)
        n1, n2 = layer_norm(relu(z1)), layer_norm(relu(z2))
        z1, z2, zg = (z1 + beta * (xl @ w["W1"].T + n2 @ w["V1"].T - n1 @ w["Lat1"].T - z1),
                      z2 + beta * (n1 @ w["W2"].T - n2 @ w["Lat2"].T - z2),
                      zg + dt * (-leak * zg + e2 @ w["Gy"]))
    return relu(z1), relu(z2), zg


def numpy_pff_predictions(w, zg):
    """The generative circuit's top-down predictions from zg: (g2, q2 = LN(g2), g1, q1 = LN(g1), x̄)."""
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    g2 = relu(relu(zg) @ w["Gy"].T)
    q2 = layer_norm(g2)
    g1 = relu(q2 @ w["G2"].T)
    q1 = layer_norm(g1)
    return g2, q2, g1, q1, 1 / (1 + np.exp(-(q1 @ w["G1"].T)))


@pytest.mark.interpreter_only
def test_predictive_forward_forward_learns_both_circuits_as_the_paper_says():
    # Ororbia & Mali 2023: the representation learns as recurrent FF; the generative circuit explains its
    # label-free representation from zg and each predictor learns from its own error. The negative phase shows
    # the right label (c = 0) for a deterministic check.
    model = load("pff_digits.yaml", "dtype=float64", "schedule.train[1].clamp={x: data.x, l: data.y, c: 0}")
    w = model.weights
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    positive, _ = numpy_rff_share(w, x, y, 1.0, 0.5, 8)
    negative, _ = numpy_rff_share(w, x, y, 0.0, 0.5, 8)
    h1, h2, zg = numpy_pff_explain(w, x)
    g2, q2, g1, q1, xp = numpy_pff_predictions(w, zg)
    want = {name: (positive[name] + negative[name]) / 16 for name in positive}
    want.update(Gy=(h2 - g2).T @ np.maximum(zg, 0) / 16, G2=(h1 - g1).T @ q2 / 16, G1=(x - xp).T @ q1 / 16)
    got = model.updates(x, y)
    assert set(got) == set(want)
    for name, value in want.items():
        assert np.abs(value).max() > 1e-4, name
        np.testing.assert_allclose(got[name], value, rtol=1e-9, atol=1e-13, err_msg=name)
    # the prior is fitted where schedule.encode leaves zg, and a sample is the top-down prediction of a draw
    prior = model.fit_prior()
    settled = numpy_pff_explain(w, model.data.x_train)[2]
    np.testing.assert_allclose(prior.means, GaussianMixture.fit(settled, 10, model._prior_rng(0)).means,
                               rtol=1e-8, atol=1e-10)
    draws = np.random.default_rng(5).normal(0.0, 0.5, (40, 20))
    np.testing.assert_allclose(model._generate(draws), numpy_pff_predictions(w, draws)[4], rtol=1e-12, atol=1e-15)


def test_pc_learned_error_synapses_close_on_the_forward_weights_by_one_minus_eta_gamma():
    # ΔE2 = phi(z1) ⊗ e2 − γE2 is ΔW2ᵀ with the same decay: with SGD, E2 − W2ᵀ ← (1 − ηγ)(E2 − W2ᵀ)
    lr, decay = 0.5, 0.02
    model = load("pc_learned_e_digits.yaml", "dtype=float64", f"train.optimizer={{sgd: {{lr: {lr}}}}}",
                 *(f"cables.{c}.rule.hebbian.decay={decay}" for c in ("W2", "E2")))
    w = model.weights
    for start in range(0, 96, 32):
        before = w["E2"] - w["W2"].T
        model.executor.train_batch(model.data.x_train[start:start + 32], model.data.y_train[start:start + 32])
        np.testing.assert_allclose(w["E2"] - w["W2"].T, (1 - lr * decay) * before, rtol=1e-9, atol=1e-14)


def test_pc_learned_error_synapses_come_to_carry_the_transposed_forward_weights():
    model = load("pc_learned_e_digits.yaml", "train.epochs=20")
    w = model.weights
    assert abs(cosine(w["E2"], w["W2"].T)) < 0.2     # random at the start
    model.fit()
    assert cosine(w["E2"], w["W2"].T) > 0.8          # 0.87–0.99 over seeds 0–2
