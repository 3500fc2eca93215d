"""Execution semantics a user relies on: order independence, clamps, divergence reports, interrupts, API."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

import ngdsl

from conftest import ROOT, load, run_cli, spec_path


def _reordered(path, tmp_path):
    with open(path) as f:
        spec = yaml.safe_load(f)
    for section in ("components", "cables"):
        spec[section] = dict(reversed(list(spec[section].items())))
    out = tmp_path / os.path.basename(path)
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(out)


@pytest.mark.parametrize("spec", ["pc_digits.yaml", "bp_digits.yaml", "eqprop_xor.yaml", "kwta_clusters.yaml"])
def test_results_do_not_depend_on_the_order_things_are_written(spec, tmp_path):
    a = ngdsl.load(spec_path(spec), set=["dtype=float64"])
    b = ngdsl.load(_reordered(spec_path(spec), tmp_path), set=["dtype=float64"])
    x, y = a.data.x_train[:8], a.data.y_train[:8]
    ua, ub = a.updates(x, y), b.updates(x, y)
    for name in ua:
        np.testing.assert_array_equal(ua[name], ub[name])


def test_graph_has_a_node_per_component_and_an_edge_per_cable():
    model = load("pc_digits.yaml")
    g = model.graph
    assert set(g.nodes) == {"x", "z1", "z2", "e1", "e2"}
    assert g.nodes["z1"]["kind"] == "state" and g.nodes["z1"]["size"] == 128 and g.nodes["z1"]["line"] == 10
    edges = {k: (u, v) for u, v, k in g.edges(keys=True)}
    assert edges["W2t"] == ("e2", "z1") and g.edges["e2", "z1", "W2t"]["tied"] == "W2"
    assert edges["e1.feedback"] == ("e1", "z1") and g.edges["e1", "z1", "e1.feedback"]["implied"]


def test_hard_clamp_holds_and_readout_is_a_copy():
    model = load("pc_digits.yaml", "dtype=float64")
    x = model.data.x_test[:3]
    out = model.predict(x)
    out[:] = 123.0
    assert not np.allclose(model.predict(x), 123.0)


DIVERGING = """ngdsl: 1
name: runaway
data: {dataset: xor, repeat: 8, test_fraction: 0.25, batch: 4}
components:
  x: {kind: input, size: 2}
  h: {kind: state, size: 3, dt: 0.5}
  o: {kind: error, size: 1, target: y}
  y: {kind: input, size: 1}
cables:
  W: {from: x, to: h, rule: none}
  R: {from: h, to: h, transform: fixed, init: {dist: constant, scale: 20.0}}   # runaway excitation
  V: {from: h, to: o.mu, rule: hebbian}
schedule:
  train:
    - {phase: settle, steps: STEPS, clamp: {x: data.x, y: data.y}}
    - {update: [V]}
  predict:
    - {phase: settle, steps: 5, clamp: {x: data.x}, read: o.mu}
train: {epochs: 3}
metrics: [mse]
"""


def _diverging(tmp_path, steps=400):
    path = tmp_path / "diverge.yaml"
    path.write_text(DIVERGING.replace("STEPS", str(steps)))
    return str(path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finiteness_check_finds_any_nan_or_inf(dtype):
    from ngdsl.runtime.inplace import all_finite
    a = np.random.default_rng(0).standard_normal((128, 64)).astype(dtype)
    assert all_finite(a) and all_finite(a[:0])
    for bad in (np.nan, np.inf, -np.inf):
        for where in ((0, 0), (77, 5), (127, 63)):
            b = a.copy()
            b[where] = bad
            assert not all_finite(b), (bad, where)
    b = a.copy()
    b[3, 3], b[4, 4] = np.inf, -np.inf    # inf − inf is not a way out
    assert not all_finite(b)


def test_divergence_names_component_phase_and_step(tmp_path):
    model = ngdsl.load(_diverging(tmp_path))
    with pytest.raises(ngdsl.Divergence) as info:
        model.fit()
    # h grows about tenfold per step, so float32 overflows within a few dozen of the 400 steps
    match = re.fullmatch(r"cable 'R' became NaN or Inf in phase 'settle' of schedule.train at step (\d+)", str(info.value))
    assert match and 10 < int(match.group(1)) < 60


def test_cli_run_stops_on_divergence_and_keeps_last_good_weights(tmp_path):
    result = run_cli("run", _diverging(tmp_path), "--out", str(tmp_path / "runs"), "--quiet")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert re.search(r"error: cable 'R' became NaN or Inf in phase 'settle' of schedule.train at step \d+ \(epoch 1\)",
                     result.stderr)
    (run,) = os.listdir(tmp_path / "runs")
    manifest = json.loads((tmp_path / "runs" / run / "manifest.json").read_text())
    assert manifest["status"] == "diverged"
    with np.load(tmp_path / "runs" / run / "weights.npz") as w:
        completed = int(w["epoch"])
        assert all(np.all(np.isfinite(w[k])) for k in w.files)
    assert completed == manifest["epochs_completed"]


def test_plots_after_a_divergence_show_the_last_completed_epoch(tmp_path):
    # the samples and reconstructions run the circuit: on the weights that became NaN they would fail
    result = run_cli("run", spec_path("gncn_t1_digits.yaml"), "--set", "train.optimizer.sgd.lr=1e4", "--epochs", "1",
                     "--out", str(tmp_path), "--quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "became NaN or Inf in phase 'settle' of schedule.train" in result.stderr
    (run,) = os.listdir(tmp_path)
    assert {"reconstructions.png", "samples.png"} <= set(os.listdir(tmp_path / run / "plots"))


def test_a_divergence_whose_checkpoint_is_damaged_draws_no_plots(tmp_path):
    from ngdsl.runs import RunDirectory, train
    model = load("gncn_t1_digits.yaml", "train.optimizer.sgd.lr=1e4")
    run = RunDirectory(str(tmp_path), model, spec_path("gncn_t1_digits.yaml"))

    def damage(epoch):
        with open(os.path.join(run.path, "weights.npz"), "r+b") as f:
            f.truncate(40)
    status, message = train(model, run, 1, before_epoch=damage)
    assert status == "diverged"
    assert message.endswith(f"(epoch 1); {run.path}/weights.npz cannot be read back, so no plots are drawn")
    assert run.plot() == [] and not os.listdir(os.path.join(run.path, "plots"))
    run.close()


def test_interrupted_run_keeps_completed_epochs(tmp_path):
    out = tmp_path / "runs"
    # Ctrl-C at a terminal: the run starts with SIGINT's default action, even where this process ignores
    # it (an ignored SIGINT is inherited, and Python keeps it ignored)
    proc = subprocess.Popen([sys.executable, "-m", "ngdsl", "run", spec_path("eqprop_digits.yaml"), "--epochs",
                             "1000", "--out", str(out), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            runs = os.listdir(out) if out.exists() else []
            if runs and (out / runs[0] / "metrics.jsonl").exists() and (out / runs[0] / "metrics.jsonl").read_text():
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:   # whatever happened above, the child does not outlive the test
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1 and "Traceback" not in stderr
    assert "interrupted during epoch" in stderr
    run = out / os.listdir(out)[0]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["epochs_completed"] >= 1
    # Ctrl-C tends to land while epoch 1 is being recorded: metrics, weights and manifest still agree
    with np.load(run / "weights.npz") as w:
        assert int(w["epoch"]) == manifest["epochs_completed"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == manifest["epochs_completed"]


def test_python_api_fit_predict_evaluate():
    model = load("bp_digits.yaml", "train.epochs=2")
    history = model.fit()
    assert [h["epoch"] for h in history] == [1, 2]
    scores = model.evaluate()
    assert set(scores) == {"train_accuracy", "test_accuracy"}
    assert model.predict(model.data.x_test[:5]).shape == (5, 10)


def test_a_model_that_has_not_changed_is_measured_once():
    # a frozen control's metrics cannot change from epoch to epoch: the predictions run once
    model = load("bp_digits.yaml", "cables.W1.frozen=true", "cables.W2.frozen=true", "train.epochs=3")
    calls = []
    predict_batch = model.executor.predict_batch
    model.executor.predict_batch = lambda *a, **k: calls.append(1) or predict_batch(*a, **k)
    model.fit()
    once = len(calls)
    assert once == len(range(0, len(model.data.x_train), 32)) + len(range(0, len(model.data.x_test), 32))
    assert model.history[0]["test_accuracy"] == model.history[2]["test_accuracy"]
    # any change to a weight is measured afresh, and the result is what a fresh measurement gives
    model.weights["W2"][...] = 0.0
    changed = model.evaluate()
    assert len(calls) == 2 * once and changed["test_accuracy"] != model.history[2]["test_accuracy"]
    assert changed == model._measure()


def test_a_circuit_that_predicts_from_fresh_random_numbers_is_measured_afresh():
    # denoise_digits predicts from a newly masked copy of each image: the same weights, new draws
    model = load("denoise_digits.yaml", "train.epochs=0", "metrics=[bce]")
    first, second = model.evaluate(), model.evaluate()
    assert first["test_bce"] != second["test_bce"]


def test_a_frozen_cable_keeps_its_weights_while_the_updates_that_list_it_skip_it():
    frozen = load("bp_digits.yaml", "cables.W1.frozen=true", "train.epochs=2")
    start = frozen.weights["W1"].copy()
    frozen.fit()
    np.testing.assert_array_equal(frozen.weights["W1"], start)
    # the rest learns exactly as in the spec whose update does not list W1 at all
    unlisted = load("bp_digits.yaml", "cables.W1.rule=none", "schedule.train[1].update=[W2]", "train.epochs=2")
    unlisted.fit()
    for name in ("W2", "W2.bias"):
        np.testing.assert_array_equal(frozen.weights[name], unlisted.weights[name])


def test_a_rule_named_in_short_form_takes_parameter_overrides():
    model = load("bp_digits.yaml", "dtype=float64", "cables.W2.rule.hebbian.scale=0.5")
    x, y = model.data.x_train[:8], model.data.y_train[:8]
    assert model.compiled.resolved["cables"]["W2"]["rule"] == {"hebbian": {"scale": 0.5, "decay": 0.0}}
    np.testing.assert_allclose(model.updates(x, y)["W2"], 0.5 * load("bp_digits.yaml", "dtype=float64").updates(x, y)["W2"],
                               rtol=1e-12)


def test_scale_zero_leaves_the_decay_and_frozen_stops_everything():
    """As the README says: `scale` multiplies the learning term only, so KP's decay still acts."""
    model = load("kp_digits.yaml", "dtype=float64", "cables.B3.rule.hebbian.scale=0")
    x, y = model.data.x_train[:8], model.data.y_train[:8]
    np.testing.assert_allclose(model.updates(x, y)["B3"], -0.001 * model.weights["B3"], rtol=1e-12)
    frozen = load("kp_digits.yaml", "cables.B3.frozen=true", "train.epochs=1")
    start = frozen.weights["B3"].copy()
    frozen.fit()
    np.testing.assert_array_equal(frozen.weights["B3"], start)


def test_data_seed_holds_the_split_while_the_seed_varies_the_initial_weights():
    a, b = load("bp_digits.yaml", "seed=1", "data.seed=7"), load("bp_digits.yaml", "seed=2", "data.seed=7")
    np.testing.assert_array_equal(a.data.x_test, b.data.x_test)
    assert not np.array_equal(a.weights["W1"], b.weights["W1"])
    c = load("bp_digits.yaml", "seed=1")
    assert c.compiled.resolved["data"]["seed"] == 1 and not np.array_equal(a.data.x_test, c.data.x_test)


@pytest.mark.parametrize("inputs", [64, 40])
def test_fan_sizes_a_uniform_draw_from_the_layer_width(inputs):
    """PEPITA's F is drawn in ±0.05·√(6/input width) (fan: out, the width F drives), so a port to
    another input size keeps the paper's scale without editing the constant."""
    model = load("pepita_digits.yaml", f"components.x.size={inputs}", f"components.x2.size={inputs}",
                 "data={dataset: classification, features: 40, n: 400}" if inputs == 40 else "seed=0")
    limit = 0.05 * np.sqrt(6 / inputs)
    f = model.weights["F"]
    assert f.shape == (inputs, 10) and np.abs(f).max() <= limit and np.abs(f).max() > 0.95 * limit


def test_an_offset_moves_a_draw_and_a_mask_still_cuts_it():
    # positive weights as spiking specs start them: uniform ±0.015 around 0.015
    model = load("stdp_digits.yaml")
    w = model.weights["W"]
    assert w.min() >= 0 and w.max() <= 0.03 and abs(w.mean() - 0.015) < 0.001
    lateral = load("stdp_digits.yaml", "cables.inh.init={dist: normal, scale: 0.1, offset: -2.0}").weights["inh"]
    assert not np.diag(lateral).any() and abs(lateral[~np.eye(100, dtype=bool)].mean() + 2.0) < 0.01


def test_the_energy_metric_is_the_settled_energy_of_training_and_changes_nothing():
    model = load("pc_digits.yaml", "dtype=float64", "metrics=[accuracy, energy]", "train.epochs=3")
    x, y = model.data.x_train[:32], model.data.y_train[:32]
    settled = model.executor.error_energy(x, y)[-1]           # the last of the settling steps, from traces
    assert model.executor.energies(x, y).mean() == pytest.approx(settled, rel=1e-12)
    model.fit()
    energies = [h["test_energy"] for h in model.history]
    assert energies[-1] < energies[0] and "train_energy" in model.history[0]
    # measuring it draws no number and moves no weight of training: the same run without it is identical
    plain = load("ws_bars.yaml", "train.epochs=2", "metrics=[]")
    measured = load("ws_bars.yaml", "train.epochs=2", "metrics=[energy]")
    for m in (plain, measured):
        m.fit()
    assert "test_energy" in measured.history[-1]
    for name, w in plain.weights.items():
        np.testing.assert_array_equal(measured.weights[name], w, err_msg=name)


def test_a_phase_with_a_tolerance_stops_once_settled_and_equals_that_many_fixed_steps():
    settled = load("eqprop_digits.yaml", "dtype=float64", "schedule.train[0].tolerance=0.002", "schedule.train[0].steps=200")
    x, y = settled.data.x_train[:16], settled.data.y_train[:16]
    got = settled.updates(x, y)
    taken = int(settled.executor.taken[("train", 0)][0])
    assert 0 < taken < 200
    fixed = load("eqprop_digits.yaml", "dtype=float64", f"schedule.train[0].steps={taken}")
    for name, delta in fixed.updates(x, y).items():   # equal but for the rounding of differently fused loops
        np.testing.assert_allclose(got[name], delta, rtol=1e-11, atol=1e-15, err_msg=name)
    reference = ngdsl.load(spec_path("eqprop_digits.yaml"), set=["dtype=float64", "schedule.train[0].tolerance=0.002",
                                                                 "schedule.train[0].steps=200"], jit=False)
    np.testing.assert_allclose(reference.updates(x, y)["W1"], got["W1"], rtol=1e-9, atol=1e-12)
    assert int(reference.executor.taken[("train", 0)][0]) == taken


def test_the_steps_a_settling_phase_took_are_in_the_history():
    model = load("pc_digits.yaml", "schedule.train[0].tolerance=1e-4", "train.epochs=2")
    history = model.fit()
    assert all(0 < h["steps_settle"] < 20 for h in history)
    never = load("pc_digits.yaml", "schedule.train[0].tolerance=1e-30", "train.epochs=1").fit()
    assert never[0]["steps_settle"] == 20


def test_the_prior_takes_the_specs_settings():
    model = load("gncn_t1_digits.yaml", "prior={components: 3, draws: 50}")
    prior = model.fit_prior()
    assert len(prior.weights) == 3 and prior.means.shape == (3, 32)
    assert model._samples_for_metrics().shape == (50, 64)
    default = load("gncn_t1_digits.yaml").fit_prior()
    assert len(default.weights) == 10
    with pytest.raises(ValueError, match="count must be at least 1, not 0"):
        model.sample(0)


def test_a_sample_routine_may_draw_and_draws_afresh_each_time():
    # binary samples: each pixel of schedule.sample's read drawn ~ Bernoulli(x̄) from the same prior draws
    binary = load("gncn_t1_digits.yaml", "components.b={kind: rate, size: 64, sample: bernoulli}",
                  "cables.Xb={from: xp, to: b, transform: identity}", "schedule.sample[0].read=b.s", "train.epochs=1",
                  "metrics=[bce]")
    grey = load("gncn_t1_digits.yaml", "train.epochs=1", "metrics=[bce]")
    binary.fit()
    grey.fit()
    drawn, probabilities = binary.sample(200), grey.sample(200)
    assert set(np.unique(drawn)) == {0.0, 1.0}
    assert abs(drawn.mean() - probabilities.mean()) < 0.02
    assert not np.array_equal(binary.sample(200), drawn)   # the pixels are drawn again; the prior's draws are not
