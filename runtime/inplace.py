"""Memory for kernels, and small compiled helpers for the executor's per-batch work (no
temporaries, one pass)."""
from __future__ import annotations

import numba
import numpy as np

#: Arrays kernels read start on a cache line, so that no vector load or store straddles two.
ALIGNMENT = 64


def aligned_zeros(shape, dtype):
    """A zeroed C-contiguous array whose data starts at a multiple of :data:`ALIGNMENT` bytes."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.zeros(size + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + size].view(dtype).reshape(shape)


def aligned_copy(a, dtype=None):
    """An aligned copy of ``a`` (converted to ``dtype``)."""
    out = aligned_zeros(np.shape(a), dtype or np.asarray(a).dtype)
    out[...] = a
    return out


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def all_finite(a):
    """Whether every element of the contiguous array ``a`` is finite."""
    flat = a.reshape(-1)
    if flat.size == 0:
        return True
    # v − v is 0 for a finite v and NaN otherwise, and a NaN survives any order of summation:
    # reassociation lets the sum vectorise, with no early exit to stop it.
    total = flat[0] - flat[0]
    for i in range(1, flat.size):
        total += flat[i] - flat[i]
    return total == 0.0


@numba.njit(cache=True, nogil=True)
def add_scaled(w, delta, scale):
    """``w += scale·delta`` in place."""
    wf, df = w.ravel(), delta.ravel()
    for i in range(wf.size):
        wf[i] += scale * df[i]
