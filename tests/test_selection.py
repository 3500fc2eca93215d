"""Choosing the epoch on a validation split: data.validation_fraction, train.keep_best, train.stop_after."""
import json
import os

import numpy as np
import pytest

import ngdsl
from ngdsl.compiler import SpecError, compile_file

from conftest import run_cli, spec_path

SELECT = ["data.validation_fraction=0.2", "train.keep_best=accuracy"]


def _load(*overrides):
    return ngdsl.load(spec_path("bp_digits.yaml"), set=list(overrides))


def test_the_validation_split_is_held_out_of_training_and_apart_from_the_test_set():
    plain, held = _load(), _load("data.validation_fraction=0.2")
    d = held.data
    assert len(d.x_validation) == round(0.2 * len(plain.data.x_train))
    assert len(d.x_train) + len(d.x_validation) == len(plain.data.x_train)
    np.testing.assert_array_equal(d.x_test, plain.data.x_test)   # the test set is the same examples
    rows = {row.tobytes(): name for name, part in (("train", d.x_train), ("test", d.x_test)) for row in part}
    assert not any(row.tobytes() in rows for row in d.x_validation)
    assert {"validation_accuracy", "train_accuracy", "test_accuracy"} <= set(held.evaluate())


def test_keep_best_ends_with_the_weights_of_the_best_validation_epoch():
    model = _load(*SELECT, "train.epochs=12")
    seen = {}
    model.fit(on_epoch=lambda record: seen.update({record["epoch"]: {n: w.copy() for n, w in model.weights.items()}}))
    values = [h["validation_accuracy"] for h in model.history]
    best = int(np.argmax(values)) + 1
    assert best != len(values), "the harness must have a best epoch before the last"
    assert model.best[0] == best
    for name, w in model.weights.items():
        np.testing.assert_array_equal(w, seen[best][name], err_msg=name)
    assert model.evaluate()["validation_accuracy"] == pytest.approx(values[best - 1], abs=1e-12)
    last = _load("data.validation_fraction=0.2", "train.epochs=12")   # without keep_best: the last epoch's
    last.fit()
    for name, w in last.weights.items():
        np.testing.assert_array_equal(w, seen[12][name], err_msg=name)


def test_stop_after_ends_training_once_the_validation_value_stops_improving():
    model = _load(*SELECT, "train.stop_after=2", "train.epochs=60")
    model.fit()
    values = [h["validation_accuracy"] for h in model.history]
    best = model.best[0]
    assert model.stopped and len(values) == best + 2 < 60
    assert max(values[best:]) <= values[best - 1]          # nothing after the best was better
    assert values[best - 1] > max(values[:best - 1])       # the first epoch to reach it


def test_a_resumed_run_keeps_the_same_best_as_an_uninterrupted_one(tmp_path):
    args = [f"--set={s}" for s in SELECT] + ["--quiet", "--no-plots"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run_cli("run", spec_path("bp_digits.yaml"), "--epochs", "12", "--out", str(straight), *args).returncode == 0
    assert run_cli("run", spec_path("bp_digits.yaml"), "--epochs", "6", "--out", str(split), *args).returncode == 0
    (first,), (second,) = os.listdir(straight), os.listdir(split)
    result = run_cli("run", spec_path("bp_digits.yaml"), "--epochs", "12", "--resume", str(split / second), *args)
    assert result.returncode == 0, result.stderr
    with np.load(straight / first / "best.npz") as a, np.load(split / second / "best.npz") as b:
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert "weights kept" in result.stdout


@pytest.mark.parametrize("overrides, message", [
    (["train.keep_best=accuracy"], "error: keep_best chooses the best epoch on a validation split: set "
     "data.validation_fraction (e.g. 0.1); choosing on the test set would overstate its score"),
    (["data.validation_fraction=0.1", "train.keep_best=mse"], "error: keep_best chooses by 'mse', which the spec "
     "does not measure (metrics: accuracy); add it to metrics"),
    (["data.validation_fraction=0.1", "train.stop_after=3"], "error: stop_after watches the metric keep_best "
     "names: add keep_best, e.g. keep_best: accuracy"),
])
def test_choosing_without_a_validation_split_or_a_metric_is_refused(overrides, message):
    with pytest.raises(SpecError) as err:
        compile_file(spec_path("bp_digits.yaml"), overrides=overrides)
    assert any(str(d).endswith(message) for d in err.value.diagnostics), str(err.value)


def test_lr_decay_scales_the_optimizers_steps_after_the_listed_epochs():
    # one batch per epoch, in a fixed order: epoch 2's SGD step is W + factor·lr·ΔW(W)
    common = ["dtype=float64", "data.batch=2000", "data.shuffle=false", "train.optimizer={sgd: {lr: 0.1}}"]
    decayed = _load(*common, "train.lr_decay={factor: 0.5, at: [1]}", "train.epochs=2")
    plain = _load(*common, "train.epochs=1")
    decayed.fit()
    plain.fit()
    x, y = plain.data.x_train, plain.data.y_train
    delta = plain.updates(x, y)
    for name, w in decayed.weights.items():
        np.testing.assert_allclose(w, plain.weights[name] + 0.5 * 0.1 * delta[name], rtol=0, atol=1e-12)
    assert [decayed.lr_scale(e) for e in range(4)] == [1.0, 0.5, 0.5, 0.5]
    every = _load("train.lr_decay={factor: 0.1, every: 30}")
    assert every.lr_scale(29) == 1.0 and every.lr_scale(30) == pytest.approx(0.1) and every.lr_scale(60) == \
        pytest.approx(0.01)


def test_a_damaged_best_checkpoint_is_refused_on_resume(tmp_path):
    # best.npz is read back like weights.npz: untrusted, named when it is damaged or not a file
    args = [f"--set={s}" for s in SELECT] + ["--quiet", "--no-plots"]
    assert run_cli("run", spec_path("bp_digits.yaml"), "--epochs", "12", "--out", str(tmp_path), *args).returncode == 0
    (run,) = os.listdir(tmp_path)
    best = tmp_path / run / "best.npz"
    values = [json.loads(line)["validation_accuracy"] for line in open(tmp_path / run / "metrics.jsonl") if line.strip()]
    assert int(np.argmax(values)) + 1 != len(values), "the harness must have a best epoch before the last"
    for damage in ("truncated", "fifo"):
        best.unlink()
        if damage == "truncated":
            best.write_bytes(b"PK\x03\x04 not a whole zip")
        else:
            os.mkfifo(best)
        result = run_cli("run", spec_path("bp_digits.yaml"), "--epochs", "14", "--resume", str(tmp_path / run), *args)
        assert result.returncode != 0
        assert f"cannot resume from '{tmp_path / run}': best.npz is missing or damaged" in result.stderr, result.stderr


def test_evaluate_every_measures_every_nth_epoch_and_the_last_and_trains_the_same(tmp_path):
    from ngdsl.sweep import _metrics
    sparse, dense = _load("train.epochs=5", "train.evaluate_every=2"), _load("train.epochs=5")
    sparse.fit()
    dense.fit()
    assert [h["epoch"] for h in sparse.history] == [1, 2, 3, 4, 5]
    assert [h["epoch"] for h in sparse.history if "test_accuracy" in h] == [2, 4, 5]
    for h in sparse.history:
        if "test_accuracy" in h:   # measuring draws nothing the training uses: the same numbers as measuring always
            assert {k: v for k, v in h.items() if k != "seconds"} == \
                   {k: v for k, v in dense.history[h["epoch"] - 1].items() if k != "seconds"}
    for name, w in sparse.weights.items():
        np.testing.assert_array_equal(w, dense.weights[name], err_msg=name)
    summary = _metrics(sparse.history)   # a sweep's results.csv: the best among the measured epochs
    assert summary["final_test_accuracy"] == sparse.history[-1]["test_accuracy"]
    assert summary["best_epoch_test_accuracy"] in (2, 4, 5)
    chosen = _load(*SELECT, "train.epochs=6", "train.evaluate_every=3")
    chosen.fit()
    assert chosen.best[0] in (3, 6)
    run = run_cli("run", spec_path("bp_digits.yaml"), "--epochs", "3", "--set", "train.evaluate_every=2",
                  "--out", str(tmp_path), "--quiet")
    assert run.returncode == 0, run.stderr
    (folder,) = os.listdir(tmp_path)
    with open(tmp_path / folder / "metrics.jsonl") as f:
        records = [json.loads(line) for line in f]
    assert [r["epoch"] for r in records if "test_accuracy" in r] == [2, 3]
    assert os.path.exists(tmp_path / folder / "plots" / "learning_curve.png")
