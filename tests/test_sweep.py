"""ngdsl sweep: a grid × seeds on a local Dask cluster, results.csv and summary.csv that agree with
the runs, the best points printed, a second sweep into the same folder that skips finished runs and
continues unfinished ones bit-identically, sweep files, and mistakes reported before any run."""
import csv
import json
import os

import numpy as np

from conftest import run_cli, spec_path


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _sweep(tmp_path, *args):
    return run_cli("sweep", *args, "--out", str(tmp_path), "--workers", "2", "--quiet")


def test_a_grid_over_seeds_writes_results_and_a_summary_that_agree(tmp_path):
    result = _sweep(tmp_path, spec_path("bp_digits.yaml"), "--grid", "train.optimizer.sgd.lr=0.03,0.3",
                    "--seeds", "2", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "bp_digits-sweep"
    rows, summary = _csv(root / "results.csv"), _csv(root / "summary.csv")
    assert [(r["train.optimizer.sgd.lr"], r["seed"], r["status"], r["epochs"]) for r in rows] == [
        ("0.03", "0", "completed", "2"), ("0.03", "1", "completed", "2"),
        ("0.3", "0", "completed", "2"), ("0.3", "1", "completed", "2")]
    for point in summary:
        mine = [float(r["final_test_accuracy"]) for r in rows if r["train.optimizer.sgd.lr"] == point["train.optimizer.sgd.lr"]]
        assert np.isclose(float(point["final_test_accuracy_mean"]), np.mean(mine))
        assert np.isclose(float(point["final_test_accuracy_std"]), np.std(mine))
    for row in rows:   # each row is what its run directory recorded
        history = [json.loads(line) for line in open(os.path.join(row["run_dir"], "metrics.jsonl"))]
        assert float(row["final_test_accuracy"]) == history[-1]["test_accuracy"]
        assert float(row["best_test_accuracy"]) == max(h["test_accuracy"] for h in history)
    best = max(summary, key=lambda p: float(p["final_test_accuracy_mean"]))
    assert f"train.optimizer.sgd.lr={best['train.optimizer.sgd.lr']}:" in result.stdout.splitlines()[1]
    # the split is held fixed over seeds: the seed varies the initial weights alone
    resolved = [open(os.path.join(r["run_dir"], "spec.resolved.yaml")).read() for r in rows[:2]]
    assert all("  seed: 0\n" in text for text in resolved)
    compared = run_cli("compare", str(root))          # the sweep, compared: the summary's numbers and its plots
    assert compared.returncode == 0, compared.stderr
    for line, point in zip(compared.stdout.splitlines()[1:], summary):
        assert line.split()[:4] == [f"lr={point['train.optimizer.sgd.lr']}", "2",
                                    f"{float(point['final_test_accuracy_mean']):.4f}", "±"]
    assert sorted(os.listdir(root / "plots")) == ["final.png", "learning_curves.png"]


def test_a_second_sweep_skips_finished_runs_and_continues_the_rest(tmp_path):
    args = (spec_path("pc_digits.yaml"), "--grid", "train.optimizer.adam.lr=0.001,0.003", "--name", "s")
    assert _sweep(tmp_path, *args, "--epochs", "1").returncode == 0
    first = _csv(tmp_path / "s" / "results.csv")
    weights = {r["run_dir"]: os.path.getmtime(os.path.join(r["run_dir"], "weights.npz")) for r in first}
    assert _sweep(tmp_path, *args, "--epochs", "1").returncode == 0    # nothing left to do
    assert {d: os.path.getmtime(os.path.join(d, "weights.npz")) for d in weights} == weights
    assert _sweep(tmp_path, *args, "--epochs", "3").returncode == 0    # each run continues to epoch 3
    continued = _csv(tmp_path / "s" / "results.csv")
    assert [r["run_dir"] for r in continued] == [r["run_dir"] for r in first]
    straight = run_cli("run", spec_path("pc_digits.yaml"), "--set", "train.optimizer.adam.lr=0.001", "--set",
                       "seed=0", "--set", "data.seed=0", "--epochs", "3", "--out", str(tmp_path / "straight"),
                       "--quiet", "--no-plots")
    assert straight.returncode == 0, straight.stderr
    (run,) = os.listdir(tmp_path / "straight")
    with np.load(tmp_path / "straight" / run / "weights.npz") as a, \
            np.load(os.path.join(continued[0]["run_dir"], "weights.npz")) as b:
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_a_sweep_file_compares_specs_on_one_harness(tmp_path):
    sweep = tmp_path / "fa.yaml"
    sweep.write_text(f"specs: [{spec_path('rfa_digits.yaml')}, {spec_path('dfa_digits.yaml')}]\n"
                     "set: [components.h1.size=16, components.h2.size=16, components.d1.size=16, components.d2.size=16]\n"
                     "log: {train.optimizer.sgd.lr: [0.01, 0.1, 2]}\n"
                     "epochs: 1\n")
    result = _sweep(tmp_path, str(sweep))
    assert result.returncode == 0, result.stderr
    rows = _csv(tmp_path / "fa-sweep" / "results.csv")
    assert [(os.path.basename(r["spec"]), r["train.optimizer.sgd.lr"]) for r in rows] == [
        ("rfa_digits.yaml", "0.01"), ("rfa_digits.yaml", "0.1"), ("dfa_digits.yaml", "0.01"), ("dfa_digits.yaml", "0.1")]
    assert "rfa_digits.yaml: train.optimizer.sgd.lr=" in result.stdout


def test_mistakes_are_reported_before_any_run(tmp_path):
    bad_value = _sweep(tmp_path, spec_path("bp_digits.yaml"), "--grid", "train.optimizer.sgd.lr=0.1,-1")
    assert bad_value.returncode == 2
    assert "train/optimizer/sgd/lr must be > 0, not -1" in bad_value.stderr
    assert not os.path.exists(tmp_path / "bp_digits-sweep" / "runs")
    no_draws = _sweep(tmp_path, spec_path("bp_digits.yaml"), "--loguniform", "train.optimizer.sgd.lr=0.01:1")
    assert no_draws.returncode == 2 and "say how many points with --draws N" in no_draws.stderr
    malformed = _sweep(tmp_path, spec_path("bp_digits.yaml"), "--log", "train.optimizer.sgd.lr=0.01:1")
    assert malformed.returncode == 2 and "'0.01:1' is not LOW:HIGH:N" in malformed.stderr


def test_ranges_and_random_draws_make_their_points(tmp_path):
    result = _sweep(tmp_path, spec_path("oja_pca.yaml"), "--range", "train.epochs=1:3:2",
                    "--loguniform", "cables.W.rule.oja.scale=0.1:1", "--draws", "2")
    assert result.returncode == 0, result.stderr
    rows = _csv(tmp_path / "oja_pca-sweep" / "results.csv")
    assert [r["train.epochs"] for r in rows] == ["1", "1", "3", "3"]
    drawn = [float(r["cables.W.rule.oja.scale"]) for r in rows]
    assert drawn[:2] == drawn[2:] and drawn[0] != drawn[1] and all(0.1 <= v <= 1 for v in drawn)
    assert [r["epochs"] for r in rows] == ["1", "1", "3", "3"]
