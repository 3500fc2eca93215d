"""Metrics by name: each compares a readout with data.y (or, for a reconstruction, data.x) over a whole split."""
from __future__ import annotations

import numpy as np

from .mixture import log_sum_exp


def accuracy(pred, y):
    """Fraction of rows whose arg-max matches (one column: threshold at 0.5)."""
    if y.shape[1] == 1:
        return float(np.mean((pred[:, 0] > 0.5) == (y[:, 0] > 0.5)))
    return float(np.mean(np.argmax(pred, axis=1) == np.argmax(y, axis=1)))


def mse(pred, y):
    """Mean over examples of ½‖pred − y‖²: half the squared error summed over the outputs, the
    energy of a unit-precision error neuron (what the circuits minimise)."""
    return float(0.5 * np.mean(np.sum((pred - y) ** 2, axis=1)))


def mean_squared_error(pred, y):
    """Mean over every element of (pred − y)², as scikit-learn's ``mean_squared_error``."""
    return float(np.mean((pred - y) ** 2))


def purity(pred, y):
    """Clustering purity: each arg-max unit counts the rows of its most common label."""
    units, labels = np.argmax(pred, axis=1), np.argmax(y, axis=1)
    total = sum(np.bincount(labels[units == u]).max() for u in np.unique(units))
    return float(total / len(y))


def objective(pred, y):
    """The mean of the readout over examples and units, data.y unread: for a circuit whose readout is
    a value it minimises (an energy, a loss it measures itself), lower is better."""
    return float(np.mean(pred))


def bce(pred, x):
    """Binary cross-entropy of a reconstruction against the input it reconstructs, summed over the units
    and averaged over the examples (nats per example): −log p(x) with the readout as each unit's
    Bernoulli probability (clipped to [1e-7, 1 − 1e-7]) and x in [0, 1]."""
    p = np.clip(pred, 1e-7, 1 - 1e-7)
    return float(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)))


def energy(energies, y):
    """The mean over examples of the energy a trial of schedule.train settles to (Σ over the error
    neurons of ½·precision·‖target − mu‖², with data.y clamped where training clamps it): the quantity
    a predictive coding circuit descends."""
    return float(np.mean(energies))


def log_px(samples, x, rows=1024):
    """A Monte-Carlo estimate of log p(x) in nats per example, averaged over the examples: for each x,
    log (1/S) Σ_s p(x | z_s), p the Bernoulli likelihood of x under the s-th of S ``samples`` (what
    schedule.sample generated from draws z_s of the prior; clipped as in :func:`bce`). Higher is better."""
    p = np.clip(np.asarray(samples, dtype=np.float64), 1e-7, 1 - 1e-7)
    log_p, log_q = np.log(p).T, np.log(1 - p).T
    total = 0.0
    for start in range(0, len(x), rows):   # rows × S likelihoods at a time
        block = np.asarray(x[start:start + rows], dtype=np.float64)
        total += float(np.sum(log_sum_exp(block @ log_p + (1 - block) @ log_q)))
    return total / len(x) - float(np.log(len(p)))


METRICS = {"accuracy": accuracy, "mse": mse, "mean_squared_error": mean_squared_error, "purity": purity,
           "objective": objective, "bce": bce, "energy": energy, "log_px": log_px}
#: metric -> whether a larger value is better (the best epoch, the best point of a sweep)
HIGHER_IS_BETTER = {"accuracy": True, "mse": False, "mean_squared_error": False, "purity": True, "objective": False,
                    "bce": False, "energy": False, "log_px": True}


def measured_series(history) -> dict:
    """Each metric a run's history records, in order of first appearance -> (epochs, values) over the
    epochs that measured it (with train.evaluate_every, the epochs between measure nothing)."""
    keys = dict.fromkeys(k for h in history for k in h if k not in ("epoch", "seconds"))
    return {k: ([h["epoch"] for h in history if k in h], [h[k] for h in history if k in h]) for k in keys}


def best_epoch(history, key, higher=True):
    """(epoch, value) of the best ``key`` in a run's history, or None when it was not recorded."""
    values = [(h[key], h["epoch"]) for h in history if isinstance(h.get(key), (int, float)) and np.isfinite(h[key])]
    if not values:
        return None
    value, epoch = (max if higher else min)(values, key=lambda v: v[0])
    return epoch, value
