"""Data sources: files a user brings (.npy, CSV, MNIST IDX, gzip) and the built-in generators."""
import gzip
import itertools

import numpy as np
import pytest
from sklearn.datasets import load_digits

import ngdsl
from ngdsl.compiler import SpecError

from conftest import run_cli, spec_path

DIGITS_DATA = "data: {dataset: digits, test_fraction: 0.2, batch: 32}"


def _idx(array):
    """MNIST's IDX encoding of a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _bp_spec(tmp_path, data):
    text = open(spec_path("bp_digits.yaml")).read()
    assert DIGITS_DATA in text
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace(DIGITS_DATA, data))
    return str(path)


def test_npz_dataset_relative_to_the_spec(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5))
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    np.savez(tmp_path / "toy.npz", inputs=x, labels=labels)
    path = _bp_spec(tmp_path, "data: {dataset: npz, path: toy.npz, x: inputs, y: labels, batch: 20}")
    model = ngdsl.load(path, set=["train.epochs=30", "components.x.size=5", "components.y.size=2"])
    model.fit()
    assert model.history[-1]["test_accuracy"] >= 0.9


def test_npz_with_nan_is_a_clean_data_error(tmp_path):
    x = np.ones((10, 64))
    x[3, 7] = np.nan
    np.savez(tmp_path / "bad.npz", x=x, y=np.arange(10) % 10)
    result = run_cli("run", _bp_spec(tmp_path, "data: {dataset: npz, path: bad.npz}"), "--out", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: data: data.x has a NaN or Inf (first at row 3, column 7)" in result.stderr


def test_missing_npz_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError) as info:
        ngdsl.load(_bp_spec(tmp_path, "data: {dataset: npz, path: missing.npz}"))
    (d,) = info.value.diagnostics
    assert d.line == 8 and "cannot read the data" in d.message and "missing.npz" in d.message


def test_npz_with_unequal_rows_is_a_spec_error(tmp_path):
    np.savez(tmp_path / "short.npz", x=np.ones((10, 64)), y=np.arange(9) % 10)
    with pytest.raises(SpecError) as info:
        ngdsl.load(_bp_spec(tmp_path, "data: {dataset: npz, path: short.npz}"))
    (d,) = info.value.diagnostics
    assert d.message == "cannot read the data: 'short.npz:x' has 10 examples but 'short.npz:y' has 9"


@pytest.mark.slow
def test_mnist_style_idx_files_train_a_model(tmp_path):
    # the digits as MNIST ships them: 8x8 uint8 images (gzip) and a label file
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    (tmp_path / "images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
    (tmp_path / "labels-idx1-ubyte").write_bytes(_idx(digits.target))
    path = _bp_spec(tmp_path, "data: {dataset: files, x: images-idx3-ubyte.gz, y: labels-idx1-ubyte, batch: 32}")
    model = ngdsl.load(path)
    x = np.concatenate([model.data.x_train, model.data.x_test])
    assert x.shape == (len(images), 64) and x.min() == 0.0 and x.max() == 1.0   # pixels scaled to [0, 1]
    assert model.data.y_train.shape[1] == 10 and set(np.unique(model.data.y_train)) == {0.0, 1.0}
    model.fit()
    assert model.history[-1]["test_accuracy"] >= 0.95


def test_npy_inputs_and_csv_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 64))
    labels = np.arange(50) % 10
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "y.csv").write_text("label\n" + "\n".join(map(str, labels)) + "\n")
    model = ngdsl.load(_bp_spec(tmp_path, "data: {dataset: files, x: x.npy, y: y.csv, test_fraction: 0.0}"))
    order = np.argsort(np.argmax(model.data.y_train, axis=1), kind="stable")
    assert model.data.x_train.shape == (50, 64) and model.data.y_train.shape == (50, 10)
    np.testing.assert_allclose(np.sort(model.data.x_train[:, 0]), np.sort(x[:, 0]), rtol=1e-6)
    assert np.array_equal(np.argmax(model.data.y_train, axis=1)[order], np.sort(labels))


def test_csv_table_with_a_label_column(tmp_path):
    rows = [[i % 10] + [float(i + j) for j in range(64)] for i in range(30)]
    header = "label," + ",".join(f"p{j}" for j in range(64))
    (tmp_path / "t.csv").write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows))
    model = ngdsl.load(_bp_spec(tmp_path, "data: {dataset: csv, path: t.csv, label: 0, test_fraction: 0.0}"))
    x, y = model.data.x_train, model.data.y_train
    assert x.shape == (30, 64) and y.shape == (30, 10)
    for xi, yi in zip(x, y):      # the label column is i % 10 where the first pixel is i (of 255)
        assert np.argmax(yi) == int(round(xi[0] * 255)) % 10


def test_a_truncated_idx_file_is_a_spec_error_at_its_key(tmp_path):
    (tmp_path / "cut-idx3-ubyte").write_bytes(_idx(np.zeros((10, 8, 8), np.uint8))[:-5])
    np.save(tmp_path / "y.npy", np.arange(10))
    path = _bp_spec(tmp_path, "data: {dataset: files, x: cut-idx3-ubyte, y: y.npy}")
    result = run_cli("check", path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (f"{path}:8:27: error: cannot read the data: 'cut-idx3-ubyte' is an IDX file of shape (10, 8, 8) "
            "but holds 635 bytes of data instead of 640") in result.stderr


def test_a_file_of_no_known_format_is_named(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(SpecError) as info:
        ngdsl.load(_bp_spec(tmp_path, "data: {dataset: files, x: x.png}"))
    (d,) = info.value.diagnostics
    assert d.message == "cannot read the data: 'x.png' is not a .npy, MNIST IDX or CSV file"


def test_pickled_arrays_are_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    with pytest.raises(SpecError) as info:
        ngdsl.load(_bp_spec(tmp_path, "data: {dataset: files, x: x.npy}"))
    (d,) = info.value.diagnostics
    assert d.message.startswith("cannot read the data:") and "pickle" in d.message


def test_widths_come_from_the_files(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 5, 5)))
    np.save(tmp_path / "y.npy", np.arange(20) % 3)
    with pytest.raises(SpecError) as info:
        ngdsl.load(_bp_spec(tmp_path, "data: {dataset: files, x: x.npy, y: y.npy}"))
    messages = {d.message for d in info.value.diagnostics}
    assert "clamp of 'x' (size 64) to data.x (width 25): the widths differ" in messages   # 5x5 images
    assert "clamp of 'y' (size 10) to data.y (width 3): the widths differ" in messages    # labels 0..2


def _generated(tmp_path, data, *overrides):
    return ngdsl.load(_bp_spec(tmp_path, data), set=list(overrides)).data


def test_parity_holds_every_pattern_with_its_parity(tmp_path):
    data = _generated(tmp_path, "data: {dataset: parity, bits: 4, repeat: 2, test_fraction: 0.0}",
                      "components.x.size=4", "components.y.size=1")
    x, y = data.x_train, data.y_train
    assert x.shape == (32, 4)
    assert {tuple(r) for r in x} == set(itertools.product([0.0, 1.0], repeat=4))
    np.testing.assert_array_equal(y[:, 0], x.sum(axis=1) % 2)


def test_onehot_patterns_are_their_own_targets(tmp_path):
    data = _generated(tmp_path, "data: {dataset: onehot, n: 5, repeat: 3, test_fraction: 0.0}",
                      "components.x.size=5", "components.y.size=5")
    np.testing.assert_array_equal(data.x_train, data.y_train)
    np.testing.assert_array_equal(np.sort(np.argmax(data.x_train, axis=1)), np.repeat(np.arange(5), 3))
    assert data.x_train.sum() == 15


def test_bars_are_the_union_of_the_bars_that_are_on(tmp_path):
    data = _generated(tmp_path, "data: {dataset: bars, n: 200, size: 4, p: 0.25, test_fraction: 0.0}",
                      "components.x.size=16", "components.y.size=8")
    for image, on in zip(data.x_train, data.y_train):
        rows, cols = on[:4].astype(bool), on[4:].astype(bool)
        expected = rows[:, None] | cols[None, :]
        np.testing.assert_array_equal(image.reshape(4, 4), expected.astype(float))
    assert 0.15 < data.y_train.mean() < 0.35


def test_moons_are_two_noisy_half_circles(tmp_path):
    data = _generated(tmp_path, "data: {dataset: moons, n: 400, noise: 0.0, test_fraction: 0.0}",
                      "components.x.size=2", "components.y.size=2")
    x, label = data.x_train, np.argmax(data.y_train, axis=1)
    upper, lower = x[label == 0], x[label == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6


def test_receptive_fields_are_the_first_layer_weights_as_images(tmp_path):
    model = ngdsl.load(spec_path("pc_digits.yaml"))
    fields = model.receptive_fields()
    assert list(fields) == ["W1"] and fields["W1"].shape == (128, 8, 8)
    np.testing.assert_array_equal(fields["W1"][5], model.weights["W1"][5].reshape(8, 8))
    # pixel (row 2, column 3) of the image is input 2·8 + 3
    np.testing.assert_array_equal(fields["W1"][:, 2, 3], model.weights["W1"][:, 19])
    blobs = ngdsl.load(spec_path("kwta_clusters.yaml"))
    assert blobs.data.image_shape is None and blobs.receptive_fields() == {}
    # a layer that sees the pixels' spike trains (an identity cable from the image) has fields too
    spiking = ngdsl.load(spec_path("stdp_digits.yaml"))
    assert list(spiking.receptive_fields()) == ["W"] and spiking.receptive_fields()["W"].shape == (100, 8, 8)


@pytest.mark.slow
def test_classification_generator_is_harder_than_a_linear_model_can_solve(tmp_path):
    from sklearn.linear_model import LogisticRegression
    data = "data: {dataset: classification, n: 5000, features: 40, classes: 10, batch: 32}"
    model = ngdsl.load(_bp_spec(tmp_path, data), set=["components.x.size=40", "components.h1.size=256",
                                                      "components.d1.size=256", "train.epochs=60"])
    d = model.data
    assert d.x_train.shape[1] == 40 and d.y_train.shape[1] == 10 and len(d.x_train) + len(d.x_test) == 5000
    linear = LogisticRegression(max_iter=2000).fit(d.x_train, d.y_train.argmax(1)).score(d.x_test, d.y_test.argmax(1))
    mlp = model.fit()[-1]["test_accuracy"]
    assert linear < 0.45 and mlp > linear + 0.1


def test_classification_needs_enough_informative_features(tmp_path):
    path = _bp_spec(tmp_path, "data: {dataset: classification, classes: 10, clusters: 4, informative: 4}")
    with pytest.raises(SpecError) as info:
        ngdsl.load(path)
    assert info.value.diagnostics[0].message == ("10 classes of 4 cluster(s) each need at least 6 informative "
                                                 "features (the clusters sit at corners of a hypercube)")
