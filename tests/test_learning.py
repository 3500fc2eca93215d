"""Every shipped algorithm learns what it claims, and beats its ablated control (slow: training runs)."""
import os

import numpy as np
import pytest

import museum
from conftest import load

pytestmark = pytest.mark.slow
ROWS = museum.index()
CI_SEED = 0   # the bars come from the seed study in docs/museum.md; CI trains one seed of each row


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row['spec'][:-5]}-{row['measure']}")
def test_learns_and_beats_its_control(row):
    # The row's harness, bar and margin come from docs/museum.yaml (bars from a 5-seed study); the
    # control is the same spec and seed with the credit-assignment path switched off.
    ours = museum.run(row, CI_SEED)
    control = museum.run(row, CI_SEED, "control")
    assert museum.meets_bar(row, ours), f"{row['measure']} {ours:.4f}, bar {row['bar']}"
    assert museum.beats(row, ours, control, row["margin"]), \
        f"{row['measure']} {ours:.4f} against the control's {control:.4f}: the margin is {row['margin']}"


@pytest.mark.parametrize("row", [row for row in museum.harder_rows() if row.get("claim")],
                         ids=lambda row: row["spec"][:-5])
def test_holds_its_claim_on_a_harder_task(row):
    # docs/museum.yaml's fidelity study: PC within a point of its matched backprop, the local and
    # forward-only schemes clearly above random features; the claim held on every studied seed.
    baseline = row["claim"].get("within") or row["claim"]["above"]
    measured = {"ours": [museum.run(row, CI_SEED)], baseline: [museum.run(row, CI_SEED, baseline)]}
    assert museum.claim_holds(row, measured, 0), \
        f"{measured['ours'][0]:.4f} against {baseline} {measured[baseline][0]:.4f}: {museum.claim_text(row['claim'])}"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("spec", ["eqprop_xor.yaml", "chl_xor.yaml", "generec_xor.yaml"])
def test_xor_is_solved(spec, seed):
    model = load(spec, f"seed={seed}")
    model.fit()
    out = model.predict(model.data.x_train)[:, 0]
    np.testing.assert_array_equal(out > 0.5, model.data.y_train[:, 0] > 0.5)
    assert model.history[-1]["train_mse"] < model.history[0]["train_mse"] / 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recirculation_learns_the_encoder_and_aligns_its_decoder(seed):
    model = load("recirc_encoder.yaml", f"seed={seed}")
    w = model.weights
    alignment = lambda: float(np.sum(w["V"] * w["W"].T) / np.linalg.norm(w["V"]) / np.linalg.norm(w["W"]))  # noqa: E731
    before = alignment()
    model.fit()
    x = np.eye(8)
    np.testing.assert_array_equal(np.argmax(model.predict(x), axis=1), np.arange(8))   # every pattern comes back
    assert model.history[-1]["train_mse"] < model.history[0]["train_mse"] / 50
    assert alignment() > max(0.85, before)           # V comes to mirror Wᵀ without being told


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_gradients_point_where_the_true_ones_do(seed):
    """NS-SLU: on held-out examples the synthesiser's ĝ = K h + C y + b, which starts at 0, ends with a
    mean cosine above 0.5 against the true −∂L/∂h (0.64–0.75 over 5 seeds) while the net learns."""
    model = load("dni_digits.yaml", f"seed={seed}")
    model.fit()
    x, y, w = model.data.x_test, model.data.y_test, model.weights
    h = np.tanh(x @ w["W1"].T + w["W1.bias"])
    out = h @ w["W2"].T + w["W2.bias"]
    p = np.exp(out - out.max(axis=1, keepdims=True))
    true = (y - p / p.sum(axis=1, keepdims=True)) @ w["W2"]
    synthetic = h @ w["K"].T + w["K.bias"] + y @ w["C"].T
    cosines = np.sum(true * synthetic, axis=1) / np.linalg.norm(true, axis=1) / np.linalg.norm(synthetic, axis=1)
    assert np.mean(cosines) > 0.5
    assert model.history[-1]["test_accuracy"] > 0.94


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mirrored_feedback_tracks_the_forward_weights_while_they_learn(seed):
    """EG-WM: B starts unrelated to Wᵀ (|cos| < 0.1) and ends aligned with it (0.95 on 3 seeds) while W
    itself keeps changing; the network learns as backprop does (museum: 96.1% against 95.1% at 16 units)."""
    model = load("wm_digits.yaml", f"seed={seed}")
    w = model.weights
    cos = lambda a, b: float(np.sum(a * b) / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert abs(cos(w["B2"], w["W2"].T)) < 0.1
    model.fit()
    assert cos(w["B2"], w["W2"].T) > 0.9 and cos(w["B3"], w["W3"].T) > 0.9
    assert model.history[-1]["test_accuracy"] > 0.94


def _bar_unions(images, size=4):
    """The fraction of binary images that are exactly a union of whole rows and columns."""
    grids = images.reshape(-1, size, size) > 0.5
    return float(np.mean([np.array_equal(g.all(axis=1)[:, None] | g.all(axis=0)[None, :], g) for g in grids]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_helmholtz_machine_dreams_bars_after_wake_sleep(seed):
    """EB-WS: the generative side's own samples (dreams: causes from the learned prior, pixels from G)
    are unions of whole bars (58–80% on 3 seeds; 0–1% before training), and recognition followed by
    generation reconstructs held-out images."""
    model = load("ws_bars.yaml", f"seed={seed}")
    probe = np.repeat(model.data.x_test[:1], 500, axis=0)     # the dreams do not depend on the image
    before = _bar_unions(model.activity(probe, "vf.s")["vf.s"])
    model.fit()
    after = _bar_unions(model.activity(probe, "vf.s")["vf.s"])
    assert before < 0.05 and after > 0.4
    x = model.data.x_test
    assert np.mean((model.predict(x) - x) ** 2) < 0.03


def digits_as_mnist_files(folder):
    """The 8x8 digits written as an MNIST-format file: each pixel 3x3, centred in 28x28 (as MNIST
    centres its 20x20 digits), 8-bit, gzip IDX; returns the overrides that read them."""
    import sys

    from conftest import ROOT
    sys.path.insert(0, ROOT)
    from benchmarks.mnist_scale import write_idx
    from ngdsl.runtime.data import _digits_file
    pixels, labels = _digits_file()
    images = np.pad(np.kron(pixels.reshape(-1, 8, 8), np.ones((3, 3))), ((0, 0), (2, 2), (2, 2)))
    write_idx(os.path.join(folder, "images-idx3-ubyte.gz"), np.round(images * 255 / 16))
    write_idx(os.path.join(folder, "labels-idx1-ubyte.gz"), labels)
    return [f"data={{dataset: files, x: {folder}/images-idx3-ubyte.gz, y: {folder}/labels-idx1-ubyte.gz, "
            "test_fraction: 0.2, batch: 1}", *(f"components.{c}.size=784" for c in ("x", "inp", "tin")),
            "cables.W.init.scale=0.0015", "cables.W.init.offset=0.0015", "train.epochs=1"]


def test_stdp_learns_digits_from_an_mnist_format_file(tmp_path):
    """stdp_digits at 784 inputs on digits read from a 28x28 MNIST-format file, one epoch: 87.5 ± 2.1%
    over seeds 0–4 (worst 85.5) against 55–61% with STDP off (the smallest gap 0.24); two epochs give
    89.8 ± 2.1%."""
    overrides = digits_as_mnist_files(str(tmp_path))
    ours, control = load("stdp_digits.yaml", *overrides), load("stdp_digits.yaml", *overrides, "cables.W.frozen=true")
    for model in (ours, control):
        model.fit()
    assert ours.data.x_train.shape[1] == 784
    assert ours.history[-1]["test_accuracy"] >= 0.83
    assert ours.history[-1]["test_accuracy"] - control.history[-1]["test_accuracy"] >= 0.2
