"""Training on several cores by running a batch's examples in parts, one thread each.

Where a trial's examples do not meet before its updates (``Plan.examples_meet_in``: each settles on
its own, and each ΔW is affine in batch means), running the batch in parts and averaging the parts'
ΔW, weighted by their sizes, gives the batch's ΔW up to float rounding. The kernels release the GIL,
so the parts run on as many cores at once, each with BLAS on one thread. This uses a second core
where BLAS threads cannot: the products of a 784-256-256-10 PC are too small to split well inside
BLAS, and BLAS threads that wait for each other collapse when another process holds a core (see
:mod:`threads`); a part that shares its core only takes longer."""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class BatchParts:
    """Runs schedule.train's segments on ``count`` parts of each batch, on ``count`` threads."""

    def __init__(self, executor, count: int):
        self.executor = executor
        self.count = count
        self.views = [_part_view(executor) for _ in range(count)]
        self.pool = ThreadPoolExecutor(count - 1, thread_name_prefix="ngdsl-part")

    def run(self, x, y, apply):
        """One training trial on ``x``, ``y``: each segment on every part at once, then the parts'
        ΔW averaged into the executor's and ``apply`` called, as an undivided trial would."""
        bounds = np.linspace(0, len(x), min(self.count, len(x)) + 1).astype(int)
        parts = [(view, x[lo:hi], y[lo:hi], (hi - lo) / len(x)) for view, lo, hi in zip(self.views, bounds, bounds[1:])]
        grads = self.executor.grads
        for index, segment in enumerate(self.executor.plan.routines["train"].segments):
            kernel = self.executor.kernels[("train", index)]
            running = [self.pool.submit(view._segment, kernel, xp, yp) for view, xp, yp, _ in parts[1:]]
            view, xp, yp, _ = parts[0]
            view._segment(kernel, xp, yp)
            for done in running:
                done.result()
            if not segment.applied:
                continue
            for name in (n for up in segment.applied for n in (up.weight, up.bias) if n):
                np.multiply(parts[0][0].grads[name], parts[0][3], out=grads[name])
                for view, _, _, share in parts[1:]:
                    grads[name] += share * view.grads[name]
            if apply is not None:
                apply(segment)


def _part_view(executor):
    """A view of ``executor`` for one part of a batch: its parameters, constants and kernels, with
    buffers, scratch and ΔW of its own."""
    view = copy.copy(executor)
    view._buffers, view._temps, view._bound_args = {}, {}, {}
    view.grads = {n: executor.allocate.zeros(g.shape, g.dtype) for n, g in executor.grads.items()}
    return view
