"""Derived data streams: drawn every trial from the batch's x or y (a noisy copy, a masked copy,
wrong labels, hybrid images), or set for each candidate label in turn (every label). Each draw is keyed by (seed, trial, stream), like the kernels' random numbers, so a
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


def _hybrid(rng, source, params):
    """Forward-forward's negative images (Hinton 2022): each example mixed with another of the batch
    through a mask of large regions, so local features are real and their arrangement is not."""
    n = len(source)
    mask = (rng.random((n, *params["shape"])) < 0.5).astype(np.float64)
    for _ in range(params["blur"]):
        mask = _blur(_blur(mask, 1), 2)
    order = rng.permutation(n)
    other = np.empty(n, dtype=np.int64)
    other[order] = np.roll(order, -1)   # one cycle through the batch: never an example with itself
    return np.where(mask.reshape(n, -1) > 0.5, source, source[other])


def _blur(images, axis):
    """[1/4, 1/2, 1/4] along ``axis``, the edge pixel repeated beyond the border."""
    pad = [(1, 1) if a == axis else (0, 0) for a in range(images.ndim)]
    padded, n = np.pad(images, pad, mode="edge"), images.shape[axis]
    part = [np.take(padded, range(start, start + n), axis=axis) for start in range(3)]
    return 0.25 * part[0] + 0.5 * part[1] + 0.25 * part[2]


def _every_label(rng, source, params):
    out = np.zeros_like(source)
    out[:, params["candidate"]] = 1.0
    return out


#: stream kind -> (rng, source array, its parameters) -> the stream's values
DERIVE = {"noisy": _noisy, "masked": _masked, "wrong_label": _wrong_label, "hybrid": _hybrid,
          "every_label": _every_label}


def source(streams: dict, name: str) -> str:
    """Which of the batch's arrays ('x' or 'y') stream ``name`` is drawn from."""
    return stream_kind(streams[name])[1]


def candidates(streams: dict, names) -> list:
    """The streams among ``names`` that try every label."""
    return [n for n in names if stream_kind(streams[n])[0] == "every_label"]


def derive(streams: dict, name: str, seed: int, trial: int, x, y, out, candidate=0):
    """Fill ``out`` with stream ``name`` of the declared ``streams`` for this trial's batch (an every-label
    stream with the one-hot label of class ``candidate``)."""
    kind, source = stream_kind(streams[name])
    rng = np.random.default_rng([seed, trial, sorted(streams).index(name)])
    out[...] = DERIVE[kind](rng, x if source == "x" else y, {**streams[name], "candidate": candidate})
