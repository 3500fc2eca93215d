"""Every shipped spec learns what it claims (slow: full training runs)."""
import numpy as np
import pytest

from conftest import load

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("spec, bar", [
    ("pc_digits.yaml", 0.95),
    ("bp_digits.yaml", 0.96),
    ("dfa_digits.yaml", 0.93),
    ("rfa_digits.yaml", 0.93),
    ("drtp_digits.yaml", 0.90),
    ("locsig_digits.yaml", 0.93),
    ("lra_digits.yaml", 0.93),
    ("pepita_digits.yaml", 0.93),
    ("dtp_digits.yaml", 0.95),
    ("kp_digits.yaml", 0.93),
    ("ifa_digits.yaml", 0.93),
    ("eqprop_digits.yaml", 0.90),
])
def test_digits_test_accuracy(spec, bar):
    model = load(spec)
    history = model.fit()
    assert len(history) <= 20
    assert history[-1]["test_accuracy"] >= bar
    assert history[-1]["test_accuracy"] > history[0]["test_accuracy"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("spec", ["eqprop_xor.yaml", "chl_xor.yaml"])
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


def test_pepitas_first_layer_learns_something_useful():
    # with few hidden units fixed random features are weak: PEPITA's W1 updates make the difference
    narrow = ["components.h.size=32", "components.h2.size=32", "components.dh.size=32"]
    learned = load("pepita_digits.yaml", *narrow).fit()[-1]["test_accuracy"]
    frozen = load("pepita_digits.yaml", *narrow, "cables.W1.rule=none",
                  "schedule.train[1].update=[W2]").fit()[-1]["test_accuracy"]
    assert learned >= frozen + 0.03


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kwta_layer_clusters_blobs(seed):
    model = load("kwta_clusters.yaml", f"seed={seed}")
    model.fit()
    assert model.history[-1]["test_purity"] >= 0.9
