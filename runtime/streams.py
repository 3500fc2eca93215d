"""Derived data streams: drawn every trial from the batch's x or y (a noisy copy, a masked copy,
wrong labels). Each draw is keyed by (seed, trial, stream), like the kernels' random numbers, so a
run, its reference and its resume see the same values."""
from __future__ import annotations

import numpy as np

from ..compiler.language import stream_kind
from .data import DataError


def _noisy(rng, source, params):
    return source + params["noise"] * rng.standard_normal(source.shape)


def _masked(rng, source, params):
    return source * (rng.random(source.shape) >= params["p"])


def _wrong_label(rng, source, params):
    classes = source.shape[1]
    if classes < 2:
        raise DataError("a wrong_label stream needs labels of at least two classes (data.y has one column)")
    offset = rng.integers(1, classes, size=len(source))   # never 0: always another class
    return np.eye(classes)[(source.argmax(axis=1) + offset) % classes]


#: stream kind -> (rng, source array, its parameters) -> the stream's values
DERIVE = {"noisy": _noisy, "masked": _masked, "wrong_label": _wrong_label}


def source(streams: dict, name: str) -> str:
    """Which of the batch's arrays ('x' or 'y') stream ``name`` is drawn from."""
    return stream_kind(streams[name])[1]


def derive(streams: dict, name: str, seed: int, trial: int, x, y, out):
    """Fill ``out`` with stream ``name`` of the declared ``streams`` for this trial's batch."""
    kind, source = stream_kind(streams[name])
    rng = np.random.default_rng([seed, trial, sorted(streams).index(name)])
    out[...] = DERIVE[kind](rng, x if source == "x" else y, streams[name])
