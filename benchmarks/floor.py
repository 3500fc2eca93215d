"""The BLAS floor of a plan: the matrix products one training trial executes, run back to back
in numpy with preallocated outputs, in the same layouts as the generated kernels."""
from __future__ import annotations

import numpy as np


def trial_products(plan, batch):
    """(a_shape, b_shape, b_transposed, times) of every product in one trial of schedule.train, as
    its operators and update terms declare them."""
    products = []
    width, shape = plan.signals.__getitem__, lambda name: plan.parameters[name].shape
    for segment in plan.routines["train"].segments:
        for phase in segment.phases:
            for ops, times in ((phase.setup, 1), (phase.hoisted, 1), (phase.step, phase.steps), (phase.settle, 1)):
                products += [(*product, times) for op in ops for product in op.products(width, shape, batch) if times]
            formed = [(up, phase.steps) for up, _ in phase.learn] + [(up, 1) for up, _ in phase.accumulate]
            products += _update_products(plan, formed, batch)
        products += _update_products(plan, [(up, 1) for up in segment.updates], batch)
    return products


def _update_products(plan, updates, batch):
    """The matrix products forming each (Update, times) of ``updates``."""
    products = []
    for up, times in updates:
        rows, cols = plan.parameters[up.weight].shape
        products += [(*product, times) for term in up.terms for product in term.products(rows, cols, batch)]
    return products


class Floor:
    """Callable running a plan's products once (one trial's worth)."""

    def __init__(self, plan, batch, dtype):
        rng = np.random.default_rng(0)
        self.calls = []
        for a_shape, b_shape, transposed, times in trial_products(plan, batch):
            a = rng.standard_normal(a_shape).astype(dtype)
            b = rng.standard_normal(b_shape).astype(dtype)
            b = b.T if transposed else b
            out = np.empty((a.shape[0], b.shape[1]), dtype=dtype)
            self.calls.append((a, b, out, times))
        self.multiply_adds = sum(a.shape[0] * a.shape[1] * b.shape[1] * t for a, b, _, t in self.calls)

    def __call__(self):
        for a, b, out, times in self.calls:
            for _ in range(times):
                np.dot(a, b, out)
