"""The matrix product generated kernels call, compiled once per machine rather than per kernel.

numba lowers ``np.dot`` afresh for each argument layout in every process that compiles a kernel
(0.1–0.4 s each, most of a small kernel's compile); a kernel calling :func:`product` finds it in
numba's on-disk cache instead, shared by every spec. A kernel carries the copy of this function it
was compiled with, so generated sources name this file's content hash (``codegen.products_hash``):
a change here recompiles them."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def product(a, b, out):
    """``out = a @ b`` through BLAS, into a preallocated array."""
    np.dot(a, b, out)

