"""Datasets by name: each loader returns (x, y) as float64 arrays with an example per row (an
image example keeps its 2-D shape); splitting, flattening and batching."""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from ..compiler import datafiles


class DataError(Exception):
    """The data cannot be used as the spec says (unreadable file, wrong shapes, NaNs)."""


def _digits(params, rng, base_dir):
    pixels, target = _digits_file()
    images, labels = pixels.reshape(-1, 8, 8) / 16.0, _one_hot(target)
    if params.get("nudge"):
        images = np.concatenate([images] + [_shifted(images, dr, dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))])
        labels = np.concatenate([labels] * 5)
    return images, labels


def _digits_file():
    """scikit-learn's 8x8 digits (pixels 0–16, labels), read from the file it ships: importing
    scikit-learn to load them took 1.9 s of a 2.1 s start; reading the file takes 0.02 s."""
    found = importlib.util.find_spec("sklearn")
    path = os.path.join(found.submodule_search_locations[0], "datasets", "data", "digits.csv.gz") if found else ""
    if not os.path.isfile(path):            # a scikit-learn that keeps them elsewhere
        from sklearn.datasets import load_digits
        digits = load_digits()
        return digits.data, digits.target
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def _shifted(images, rows, cols):
    """Every image moved ``rows`` down and ``cols`` right by one pixel, the edge filled with 0."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    out[:, max(rows, 0):h + min(rows, 0), max(cols, 0):w + min(cols, 0)] = \
        images[:, max(-rows, 0):h + min(-rows, 0), max(-cols, 0):w + min(-cols, 0)]
    return out


def _xor(params, rng, base_dir):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    return np.tile(x, (params["repeat"], 1)), np.tile(y, (params["repeat"], 1))


def _blobs(params, rng, base_dir):
    centers = rng.uniform(-5, 5, size=(params["centers"], params["features"]))
    labels = rng.integers(0, params["centers"], size=params["n"])
    x = centers[labels] + params["spread"] * rng.standard_normal((params["n"], params["features"]))
    return x, _one_hot(labels, params["centers"])


def _gaussian(params, rng, base_dir):
    dim = params["dim"]
    spectrum = np.asarray(params.get("spectrum") or [1.0 / (k + 1) for k in range(dim)], dtype=float)
    if spectrum.size != dim:
        raise DataError(f"'spectrum' has {spectrum.size} values but dim is {dim}")
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    x = (rng.standard_normal((params["n"], dim)) * np.sqrt(spectrum)) @ basis.T
    return x + params["mean"], np.zeros((params["n"], 1))


def _parity(params, rng, base_dir):
    bits = params["bits"]   # row k holds the binary digits of k, most significant first
    x = ((np.arange(2 ** bits)[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(float)
    y = x.sum(axis=1, keepdims=True) % 2
    return np.tile(x, (params["repeat"], 1)), np.tile(y, (params["repeat"], 1))


def _onehot(params, rng, base_dir):
    x = np.tile(np.eye(params["n"]), (params["repeat"], 1))
    return x, x.copy()


def _moons(params, rng, base_dir):
    n = params["n"]
    labels = rng.integers(0, 2, size=n)
    angle = rng.uniform(0, np.pi, size=n)
    x = np.where(labels[:, None] == 0,
                 np.stack([np.cos(angle), np.sin(angle)], axis=1),
                 np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], axis=1))
    return x + params["noise"] * rng.standard_normal((n, 2)), _one_hot(labels, 2)


def _bars(params, rng, base_dir):
    n, size = params["n"], params["size"]
    on = rng.random((n, 2 * size)) < params["p"]
    rows, cols = on[:, :size], on[:, size:]
    images = rows[:, :, None] | cols[:, None, :]
    return images.astype(float), on.astype(float)


def _from_files(read):
    def load(params, rng, base_dir):
        try:
            return read(params, base_dir)
        except datafiles.UnreadableData as exc:
            raise DataError(str(exc)) from None
    return load


def _one_hot(labels, n=None):
    labels = np.asarray(labels, dtype=int)
    out = np.zeros((labels.size, n or labels.max() + 1))
    out[np.arange(labels.size), labels] = 1.0
    return out


def _classification(params, rng, base_dir):
    from sklearn.datasets import make_classification

    x, labels = make_classification(
        n_samples=params["n"], n_features=params["features"], n_informative=params["informative"], n_redundant=0,
        n_classes=params["classes"], n_clusters_per_class=params["clusters"], class_sep=params["separation"],
        random_state=int(rng.integers(2 ** 31)))
    return x, _one_hot(labels, params["classes"])


LOADERS = {"digits": _digits, "classification": _classification, "xor": _xor, "parity": _parity, "onehot": _onehot, "blobs": _blobs, "moons": _moons, "bars": _bars,
           "gaussian": _gaussian, "npz": _from_files(datafiles.read_npz),
           "files": _from_files(datafiles.read_files), "csv": _from_files(datafiles.read_csv)}


class Dataset:
    """Train, validation and test arrays of a spec's data section, generated and split with ``data.seed``
    (by default the spec's seed)."""

    def __init__(self, params, seed, base_dir, dtype):
        rng = np.random.default_rng(params.get("seed", seed))
        x, y = LOADERS[params["dataset"]](params, rng, base_dir)
        #: (height, width) when every example is an image, else None
        self.image_shape = x.shape[1:] if x.ndim == 3 else None
        x = x.reshape(len(x), -1)
        for name, a in (("x", x), ("y", y)):
            if not np.all(np.isfinite(a)):
                bad = np.argwhere(~np.isfinite(a))[0]
                raise DataError(f"data.{name} has a NaN or Inf (first at row {bad[0]}, column {bad[1]})")
        order = rng.permutation(len(x))
        n_test = int(round(params["test_fraction"] * len(x)))
        test, train = order[:n_test], order[n_test:]
        n_validation = int(round(params.get("validation_fraction", 0.0) * len(train)))
        validation, train = train[:n_validation], train[n_validation:]
        x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)   # before the split: one copy, not two
        self.x_train, self.y_train = x[train], y[train]
        self.x_validation, self.y_validation = x[validation], y[validation]   # chooses epochs (train.keep_best)
        self.x_test, self.y_test = x[test], y[test]
        self.batch = params["batch"]
        self.shuffle = params["shuffle"]

    def batches(self, rng, x=None, y=None, shuffle=None):
        """Yield (x, y) mini-batches of the training set (or of the given arrays), C-contiguous."""
        x = self.x_train if x is None else x
        y = self.y_train if y is None else y
        order = rng.permutation(len(x)) if (self.shuffle if shuffle is None else shuffle) else np.arange(len(x))
        for start in range(0, len(x), self.batch):
            idx = order[start:start + self.batch]
            yield np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])
