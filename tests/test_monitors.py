"""Monitors: what a spec asks a run to record every epoch lands in monitors.npz, equals what the
model computes, continues across a resume, changes nothing the run computes, and a monitor the
model cannot serve is a located error before any folder is made."""
import json
import os

import numpy as np

import ngdsl

from conftest import run_cli, spec_path

MONITORS = "monitors={record: [h, vc.s], weights: [W], examples: 3}"


def _run(tmp_path, *args):
    result = run_cli("run", spec_path("pcd_digits.yaml"), "--quiet", "--no-plots", "--set", MONITORS, *args)
    assert result.returncode == 0, result.stderr
    return result


def _arrays(folder):
    (run,) = os.listdir(folder)
    with np.load(os.path.join(folder, run, "monitors.npz")) as a:
        return {k: a[k] for k in a.files}, os.path.join(folder, run)


def test_monitors_record_what_the_model_computes_every_epoch(tmp_path):
    _run(tmp_path, "--epochs", "2", "--out", str(tmp_path / "a"))
    recorded, run = _arrays(tmp_path / "a")
    assert list(recorded["epoch"]) == [0, 1, 2]
    assert recorded["activity/h"].shape == (3, 3, 100) and recorded["activity/vc.s"].shape == (3, 3, 64)
    model = ngdsl.load(spec_path("pcd_digits.yaml"), set=[MONITORS])
    with np.load(os.path.join(run, "weights.npz")) as saved:
        model.executor.load_state({k.replace(":", "/"): saved[k] for k in saved.files if k not in ("epoch", "digest")})
    x = model.data.x_test[:3]
    np.testing.assert_array_equal(recorded["activity/h"][-1], model.activity(x, "h")["h"])
    np.testing.assert_array_equal(recorded["weights/W"][-1], np.percentile(model.weights["W"], recorded["percentiles"]))


def test_monitoring_changes_nothing_and_continues_across_a_resume(tmp_path):
    _run(tmp_path, "--epochs", "3", "--out", str(tmp_path / "straight"))
    _run(tmp_path, "--epochs", "1", "--out", str(tmp_path / "resumed"))
    (first,) = os.listdir(tmp_path / "resumed")
    _run(tmp_path, "--resume", str(tmp_path / "resumed" / first), "--epochs", "3")
    straight, straight_dir = _arrays(tmp_path / "straight")
    resumed, resumed_dir = _arrays(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)
    plain = run_cli("run", spec_path("pcd_digits.yaml"), "--quiet", "--no-plots", "--epochs", "3",
                    "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr
    (unmonitored,) = os.listdir(tmp_path / "plain")
    with np.load(os.path.join(straight_dir, "weights.npz")) as a, \
            np.load(tmp_path / "plain" / unmonitored / "weights.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in b.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    metrics = [[{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in open(path)]
               for path in (os.path.join(straight_dir, "metrics.jsonl"), tmp_path / "plain" / unmonitored / "metrics.jsonl")]
    assert metrics[0] == metrics[1]


def test_a_monitor_the_model_cannot_serve_is_an_error_before_anything_is_written(tmp_path):
    unknown = run_cli("check", spec_path("pcd_digits.yaml"), "--set", "monitors={record: [hh], weights: [Wv]}")
    assert unknown.returncode == 2
    assert "--set monitors={record: [hh], weights: [Wv]}: error: there is no component 'hh' to record" in unknown.stderr
    assert "error: 'Wv' is not a cable with weights of its own" in unknown.stderr
    uncomputed = run_cli("run", spec_path("pcd_digits.yaml"), "--set", "monitors={record: [h.foo]}", "--out",
                         str(tmp_path / "runs"))
    assert uncomputed.returncode == 2
    assert "error: monitors: 'h.foo' is not a compartment this model computes; it has" in uncomputed.stderr
    assert not os.path.exists(tmp_path / "runs")


def test_monitors_record_every_step_and_draw_spikes_as_a_raster(tmp_path):
    settings = "monitors={record: [b, b.y], examples: 1, steps: true}"
    result = run_cli("run", spec_path("stdp_pairs.yaml"), "--quiet", "--set", settings, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    recorded, run = _arrays(tmp_path)
    spikes, trace = recorded["steps/b"], recorded["steps/b.y"]
    assert spikes.shape == (201, 1, 25) and trace.shape == (201, 1, 25)   # before the first step, then 200
    model = ngdsl.load(spec_path("stdp_pairs.yaml"))
    fires = np.floor(model.data.y_train[0]).astype(int) + 1   # unit j fires on the step its count passes t_j
    np.testing.assert_array_equal(np.argmax(spikes[:, 0, :], axis=0), fires)
    assert spikes.sum() == 25 and np.all(trace[fires, 0, np.arange(25)] == 1.0)
    assert os.path.exists(os.path.join(run, "plots", "monitor_b_steps.png"))


def test_a_compartment_the_optimiser_never_stores_is_named_unless_a_monitor_keeps_it():
    model = ngdsl.load(spec_path("stdp_pairs.yaml"))   # b's spikes are consumed within each step
    x = model.data.x_train[:1]
    try:
        model.activity(x, "b")
        raise AssertionError("b was read")
    except ValueError as exc:
        assert "'b' lives within a step of schedule.predict and is never stored" in str(exc)
    kept = ngdsl.load(spec_path("stdp_pairs.yaml"), set=["monitors={record: [b]}"])
    assert kept.activity(x, "b")["b"].shape == (1, 25)


def test_samples_are_the_models_own_dreams_drawn_after_training(tmp_path):
    # ws_bars asks for monitors.samples: vf.s — images its generative side draws from the prior
    result = run_cli("run", spec_path("ws_bars.yaml"), "--quiet", "--epochs", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (run,) = os.listdir(tmp_path)
    assert os.path.getsize(os.path.join(tmp_path, run, "plots", "samples.png")) > 1000
    model = ngdsl.load(spec_path("ws_bars.yaml"))
    dreams = model.activity(model.data.x_test[:16], "vf.s")["vf.s"]
    assert dreams.shape == (16, 16) and set(np.unique(dreams)) <= {0.0, 1.0}   # Bernoulli samples, not means
    unknown = run_cli("check", spec_path("ws_bars.yaml"), "--set", "monitors={samples: vff.s}")
    assert unknown.returncode == 2
    assert "--set monitors={samples: vff.s}: error: there is no component 'vff' to sample (did you mean 'vf'?)" \
        in unknown.stderr
