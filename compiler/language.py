"""The vocabulary of the spec language: activations, optimizers, metrics and datasets (component
kinds are a registry of their own: compiler.kinds). The runtime implements each name declared here."""
from __future__ import annotations

import numpy as np

from . import datafiles

#: what a neuron's equations call its summed input (its 'in' compartment; 'in' is a Python keyword)
NEURON_INPUT = "I"

ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu", "hard_sigmoid", "step")
LOSSES = ("gaussian", "softmax")
#: how a neuron's ``s`` is drawn from its ``phi`` each time it is computed ('none': it has no ``s``)
SAMPLES = ("none", "bernoulli", "gaussian")
#: how long a state's values live: reset by each trial's phases, or carried from trial to trial
LIFETIMES = ("trial", "persistent")
INITS = ("normal", "uniform", "xavier", "constant", "samples", "lattice")
INIT_POLICIES = ("zero", "feedforward", "keep")
#: what a cable may carry instead of the weights it learns (or a tied cable instead of its owner's): a function
#: of them, re-derived after each update
DERIVED = ("sign", "precision")
#: how a scheduled constant goes from its first value to its last over the training epochs
SCHEDULE_SHAPES = ("geometric", "linear")
METRICS = ("accuracy", "mse", "mean_squared_error", "purity", "objective", "bce", "energy", "log_px")
#: metrics that compare the readout with the input, data.x (a reconstruction), rather than data.y
INPUT_METRICS = ("bce",)
#: metrics of the circuit itself once a trial of schedule.train has settled (its error neurons' energy), not
#: of the readout
SETTLED_METRICS = ("energy",)
#: metrics of what schedule.sample generates from the prior, held against data.x (a likelihood)
PRIOR_METRICS = ("log_px",)
#: the prior's settings when a spec leaves them out
PRIOR_DEFAULTS = {"components": 10, "draws": 1000}
DTYPES = ("float32", "float64")

#: Upper bounds on counts: far above any real circuit, low enough that no count alone exhausts memory
#: before the memory estimate (compiler.memory) is checked.
MAX_COUNT = 10 ** 7
MAX_STEPS = 10 ** 6

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


#: derived data stream -> (schema of its parameters, their defaults, what it is). A spec declares one
#: as ``data.streams.NAME: {KIND: x|y, ...}`` and clamps take it as ``data.NAME``; the runtime draws
#: it afresh every trial from the batch's x or y.
STREAMS = {
    "noisy": ({"noise": _pos}, {"noise": 0.1}, "the source plus Gaussian noise of standard deviation `noise`"),
    "masked": ({"p": _unit}, {"p": 0.25}, "the source with each element set to 0 with probability `p`"),
    "wrong_label": ({}, {}, "one-hot labels of a class other than the source's (negative labels); the source is y"),
    "hybrid": ({"blur": {"type": "integer", "minimum": 0, "maximum": 100},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
                          "minItems": 2, "maxItems": 2}},
               {"blur": 6},
               "each image mixed with another example of the batch through a mask of large regions (random bits "
               "blurred `blur` times with [1/4, 1/2, 1/4] along rows and columns, cut at 1/2): forward-forward's "
               "negative images; `shape` [rows, cols] of the image, default square"),
    "every_label": ({}, {}, "each class's one-hot label in turn, in schedule.predict only: the readout (one unit) "
                            "scores each candidate and the prediction is the scores, so accuracy takes the best; "
                            "the source is y"),
}

#: streams whose values are labels whatever their source says
LABEL_STREAMS = ("wrong_label", "every_label")


def stream_kind(spec: dict) -> tuple:
    """(kind, source) of a declared stream: the STREAMS key it holds names its source."""
    kind = next(k for k in STREAMS if k in spec)
    return kind, spec[kind]


class Dataset:
    """A built-in dataset as the compiler sees it: its parameters, and how many examples it holds
    and how wide data.x and data.y are (known without generating it)."""

    def __init__(self, name, params, defaults, shape, about, required=()):
        self.name, self.params, self.defaults, self._shape, self.about = name, params, defaults, shape, about
        self.required = required

    def shape(self, params, base_dir):
        """(examples, width of data.x, width of data.y) for these parameters."""
        return self._shape(params, base_dir)


def _shape_of(read):
    def shape(params, base_dir):
        x, y = read(params, base_dir)
        return len(x), int(np.prod(x.shape[1:])), y.shape[1]
    return shape


_int = {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}
_file = {"type": "string"}


def _classification_shape(p, base_dir):
    if p["classes"] * p["clusters"] > 2 ** p["informative"]:
        raise datafiles.UnreadableData("informative", f"{p['classes']} classes of {p['clusters']} cluster(s) each need "
                                       f"at least {(p['classes'] * p['clusters'] - 1).bit_length()} informative "
                                       f"features (the clusters sit at corners of a hypercube)")
    if p["informative"] > p["features"]:
        raise datafiles.UnreadableData("informative", f"{p['informative']} informative features do not fit in "
                                       f"{p['features']}")
    return p["n"], p["features"], p["classes"]
DATASETS = {d.name: d for d in [
    Dataset("digits", {"nudge": {"type": "boolean"}}, {"nudge": False}, lambda p, b: (1797 * (5 if p["nudge"] else 1), 64, 10),
            "scikit-learn's 8x8 handwritten digits, pixels scaled to [0, 1], one-hot labels; `nudge`: each image "
            "also moved one pixel up, down, left and right (5x the examples, as scikit-learn's RBM example)"),
    Dataset("xor", {"repeat": _int}, {"repeat": 1}, lambda p, b: (4 * p["repeat"], 2, 1),
            "the four XOR points (0/1 inputs, 0/1 target), repeated"),
    Dataset("parity", {"bits": {**_int, "maximum": 24}, "repeat": _int}, {"bits": 4, "repeat": 1}, lambda p, b: (2 ** p["bits"] * p["repeat"], p["bits"], 1),
            "every pattern of `bits` 0/1 inputs, target 1 where an odd number are on; repeated"),
    Dataset("onehot", {"n": _int, "repeat": _int}, {"n": 8, "repeat": 1}, lambda p, b: (p["n"] * p["repeat"], p["n"], p["n"]),
            "the n one-hot patterns, each its own target (the n-k-n encoder problem); repeated"),
    Dataset("blobs", {"n": _int, "centers": _int, "features": _int, "spread": _pos},
            {"n": 600, "centers": 3, "features": 2, "spread": 0.5},
            lambda p, b: (p["n"], p["features"], p["centers"]),
            "isotropic Gaussian clusters with centres drawn in [-5, 5]; one-hot cluster labels"),
    Dataset("classification",
            {"n": _int, "features": _int, "classes": _int, "informative": _int, "clusters": _int,
             "separation": _pos},
            {"n": 5000, "features": 40, "classes": 10, "informative": 10, "clusters": 2, "separation": 1.0},
            _classification_shape,
            "scikit-learn's make_classification: Gaussian clusters at the corners of a hypercube in the "
            "`informative` dimensions, the other features noise; harder than digits for the same budget"),
    Dataset("moons", {"n": _int, "noise": {"type": "number", "minimum": 0}}, {"n": 600, "noise": 0.1},
            lambda p, b: (p["n"], 2, 2), "two interleaving half circles with Gaussian noise; one-hot labels"),
    Dataset("bars", {"n": _int, "size": _int, "p": _unit}, {"n": 1000, "size": 8, "p": 0.125},
            lambda p, b: (p["n"], p["size"] ** 2, 2 * p["size"]),
            "size x size images of horizontal and vertical bars, each on with probability p; "
            "y says which bars are on (rows, then columns)"),
    Dataset("gaussian", {"n": _int, "dim": _int, "spectrum": {"type": "array", "items": _pos}, "mean": _num},
            {"n": 2000, "dim": 8, "mean": 0.0},
            lambda p, b: (p["n"], p["dim"], 1),
            "correlated Gaussian data with covariance eigenvalues `spectrum` (default 1/k), every coordinate's "
            "mean `mean` (default 0); y is zero"),
    Dataset("npz", {"path": _file, "x": _file, "y": {"type": ["string", "null"]}},
            {"x": "x", "y": "y"}, _shape_of(datafiles.read_npz),
            "arrays `x` and `y` of a .npz file (no pickles); y null: no targets", required=("path",)),
    Dataset("files", {"x": _file, "y": {"type": ["string", "null"]}}, {"y": None}, _shape_of(datafiles.read_files),
            "x and y from .npy, CSV or MNIST IDX files, gzip allowed (uint8 pixels scaled to [0, 1]); "
            "y null: no targets", required=("x",)),
    Dataset("csv", {"path": _file, "label": {"type": ["integer", "null"]}}, {"label": -1},
            _shape_of(datafiles.read_csv),
            "a CSV table (header optional); column `label` (default the last; null: none) holds the targets",
            required=("path",)),
]}
