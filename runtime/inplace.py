"""Memory for kernels, and the compiled finiteness check of the executor's per-batch work."""
from __future__ import annotations

import numba
import numpy as np

#: Arrays kernels read start on a cache line, so that no vector load or store straddles two.
ALIGNMENT = 64
PAGE = 4096
#: Successive arrays start this many bytes further into a page (7 lines: 64 distinct offsets).
STAGGER = 7 * ALIGNMENT


class Allocator:
    """Zeroed C-contiguous arrays for kernels: each starts on a cache line, and successive ones
    at different offsets within a page. Arrays a loop reads at the same index then do not map to
    the same cache set, nor look alike to the processor's 4 KiB store-to-load check; left to
    chance, such collisions made a small workload up to 30% slower in some processes."""

    def __init__(self):
        self.count = 0

    def zeros(self, shape, dtype):
        dtype = np.dtype(dtype)
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        offset = self.count * STAGGER % PAGE
        self.count += 1
        raw = np.zeros(size + 2 * PAGE, np.uint8)
        start = -raw.ctypes.data % PAGE + offset
        return raw[start:start + size].view(dtype).reshape(shape)

    def copy(self, a, dtype=None):
        """A placed copy of ``a`` (converted to ``dtype``)."""
        out = self.zeros(np.shape(a), dtype or np.asarray(a).dtype)
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
