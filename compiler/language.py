"""The vocabulary of the spec language: component kinds, compartments, activations, optimizers,
metrics and datasets. The runtime implements each name declared here."""
from __future__ import annotations

import os

#: kind -> compartments a reference may name; the first is the component's output.
COMPARTMENTS = {
    "input": ("z", "phi"),
    "state": ("phi", "z", "dphi", "in"),
    "rate": ("phi", "z", "dphi"),
    "error": ("e", "mu", "target"),
}
#: kind -> the compartment a cable drives when ``to:`` names only the component.
DRIVEN = {"state": "in", "rate": "z", "error": "mu"}
#: kind -> compartments a cable may drive.
DRIVABLE = {"input": (), "state": ("in",), "rate": ("z",), "error": ("mu", "target")}
#: Registers keep their value between steps; the other kinds are recomputed every step.
STATEFUL = {"input", "state"}

ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu", "hard_sigmoid")
LOSSES = ("gaussian", "softmax")
INITS = ("normal", "uniform", "xavier", "constant")
INIT_POLICIES = ("zero", "feedforward", "keep")
METRICS = ("accuracy", "mse", "purity")
DTYPES = ("float32", "float64")

_num = {"type": "number"}
_pos = {"type": "number", "exclusiveMinimum": 0}
_unit = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}

#: optimizer -> JSON Schema of its parameters (defaults applied by the resolver).
OPTIMIZERS = {
    "sgd": ({"lr": _pos}, {"lr": 0.01}),
    "momentum": ({"lr": _pos, "momentum": _unit}, {"lr": 0.01, "momentum": 0.9}),
    "adam": ({"lr": _pos, "beta1": _unit, "beta2": _unit, "eps": _pos},
             {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    "rmsprop": ({"lr": _pos, "rho": _unit, "eps": _pos}, {"lr": 0.001, "rho": 0.9, "eps": 1e-8}),
}


class Dataset:
    """A built-in dataset as the compiler sees it: its parameters and the widths of x and y."""

    def __init__(self, name, params, defaults, widths, about):
        self.name, self.params, self.defaults, self._widths, self.about = name, params, defaults, widths, about

    def widths(self, params, base_dir):
        """(width of data.x, width of data.y) for these parameters."""
        return self._widths(params, base_dir)


def read_npz(params, base_dir):
    """(x, y) of an npz dataset as 2-D float arrays; integer labels become one-hot. No pickles."""
    import numpy as np

    with np.load(os.path.join(base_dir, params["path"]), allow_pickle=False) as arrays:
        for key in (params["x"], params["y"]):
            if key not in arrays.files:
                raise KeyError(f"'{params['path']}' has no array '{key}' (it has {', '.join(arrays.files)})")
        x, y = arrays[params["x"]], arrays[params["y"]]
    if len(x) != len(y):
        raise ValueError(f"'{params['path']}': x has {len(x)} rows but y has {len(y)}")
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        y = np.eye(int(y.max()) + 1 if y.size else 0)[y]
    return x.reshape(len(x), -1).astype(float), y.reshape(len(y), -1).astype(float)


def _npz_widths(params, base_dir):
    x, y = read_npz(params, base_dir)
    return x.shape[1], y.shape[1]


_int = {"type": "integer", "minimum": 1}
DATASETS = {d.name: d for d in [
    Dataset("digits", {}, {}, lambda p, b: (64, 10),
            "scikit-learn's 8x8 handwritten digits, pixels scaled to [0, 1], one-hot labels"),
    Dataset("xor", {"repeat": _int}, {"repeat": 1}, lambda p, b: (2, 1),
            "the four XOR points (0/1 inputs, 0/1 target), repeated"),
    Dataset("blobs", {"n": _int, "centers": _int, "features": _int, "spread": _pos},
            {"n": 600, "centers": 3, "features": 2, "spread": 0.5},
            lambda p, b: (p["features"], p["centers"]),
            "isotropic Gaussian clusters with centres drawn in [-5, 5]; one-hot cluster labels"),
    Dataset("gaussian", {"n": _int, "dim": _int, "spectrum": {"type": "array", "items": _pos}},
            {"n": 2000, "dim": 8},
            lambda p, b: (p["dim"], 1),
            "zero-mean correlated Gaussian data with eigenvalues `spectrum` (default 1/k); y is zero"),
    Dataset("npz", {"path": {"type": "string"}, "x": {"type": "string"}, "y": {"type": "string"}},
            {"x": "x", "y": "y"}, _npz_widths,
            "arrays from a .npz file (no pickles), path relative to the spec; integer y becomes one-hot"),
]}
