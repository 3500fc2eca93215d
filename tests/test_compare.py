"""ngdsl compare: the table's statistics over seeds, the plots it writes, and what it says about
paths and metrics it cannot use. The sweeps here are written by hand (a real sweep is compared in
test_sweep.py), so every number is known."""
import csv
import json
import os

import numpy as np

from conftest import run_cli


def _run_dir(path, accuracies, name="bp-digits", extra_lines=()):
    os.makedirs(path)
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        for epoch, acc in enumerate(accuracies, 1):
            f.write(json.dumps({"epoch": epoch, "seconds": 0.1, "train_accuracy": acc + 0.01,
                                "test_accuracy": acc}) + "\n")
        for line in extra_lines:
            f.write(line + "\n")
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump({"name": name}, f)


def _sweep(root, curves):
    """A sweep folder over lr × batch: curves maps (lr, batch) -> [per-seed accuracy lists]."""
    rows = []
    for (lr, batch), seeds in curves.items():
        for seed, accuracies in enumerate(seeds):
            name = f"bp-digits-{lr}-{batch}-{seed}"
            _run_dir(os.path.join(root, "runs", name), accuracies)
            rows.append({"spec": "specs/bp_digits.yaml", "train.optimizer.sgd.lr": lr, "data.batch": batch,
                         "seed": seed, "status": "completed", "run_dir": f"elsewhere/runs/{name}"})
    with open(os.path.join(root, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


CURVES = {("0.1", "16"): [[0.5, 0.8, 0.7], [0.6, 0.9, 0.8]],
          ("0.1", "64"): [[0.4, 0.5, 0.6], [0.4, 0.6, 0.7]],
          ("0.3", "16"): [[0.7, 0.9, 0.95], [0.8, 0.9, 0.85]],
          ("0.3", "64"): [[0.6, 0.7, 0.8], [0.5, 0.7, 0.9]]}


def test_a_sweep_compares_its_points_over_seeds_and_draws_a_heat_map_of_two_axes(tmp_path):
    _sweep(tmp_path / "sweep", CURVES)
    result = run_cli("compare", str(tmp_path / "sweep"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["runs", "final", "test_accuracy", "best", "test_accuracy", "best", "epoch"]
    for line, ((lr, batch), seeds) in zip(lines[1:5], CURVES.items()):
        finals = [s[-1] for s in seeds]
        bests = [max(s) for s in seeds]
        epochs = [int(np.argmax(s)) + 1 for s in seeds]
        assert line.split() == [f"lr={lr}", f"batch={batch}", "2", f"{np.mean(finals):.4f}", "±", f"{np.std(finals):.4f}",
                                f"{np.mean(bests):.4f}", "±", f"{np.std(bests):.4f}", f"{np.mean(epochs):.1f}"]
    plots = tmp_path / "sweep" / "plots"
    assert sorted(os.listdir(plots)) == ["final.png", "heatmap.png", "learning_curves.png"]
    assert all((plots / p).read_bytes().startswith(b"\x89PNG") for p in os.listdir(plots))


def test_run_directories_compare_as_groups_of_one_on_any_metric_they_share(tmp_path):
    _run_dir(tmp_path / "a", [0.5, 0.7], name="pc-digits")
    _run_dir(tmp_path / "b", [0.6, 0.65], name="pc-digits", extra_lines=["{not json", "[1, 2]"])
    result = run_cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--metric", "train_accuracy",
                     "--out", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:3]]
    assert rows[0][:4] == ["pc-digits", "1", "0.7100", "±"] and rows[1][:5] == ["pc-digits", "(2)", "1", "0.6600", "±"]
    assert "left out: 2 failed run(s) or unreadable record(s)" in result.stderr
    assert sorted(os.listdir(tmp_path / "cmp")) == ["final.png", "learning_curves.png"]


def test_paths_and_metrics_it_cannot_use_are_named(tmp_path):
    _run_dir(tmp_path / "a", [0.5, 0.7])
    missing = run_cli("compare", str(tmp_path / "a"), str(tmp_path))
    assert missing.returncode == 2
    assert f"error: '{tmp_path}' is neither a run directory (metrics.jsonl) nor a sweep folder (results.csv)" in missing.stderr
    unknown = run_cli("compare", str(tmp_path / "a"), "--metric", "test_mse", "--no-plots")
    assert unknown.returncode == 2
    assert "error: not every run recorded 'test_mse'; they all have: train_accuracy, test_accuracy" in unknown.stderr

