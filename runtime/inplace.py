"""Small compiled helpers for the executor's per-batch work: no temporaries, one pass."""
from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def all_finite(a):
    """Whether every element of ``a`` is finite (stops at the first that is not)."""
    for v in a.ravel():
        if not (v - v == 0.0):  # NaN - NaN and inf - inf are NaN
            return False
    return True


@numba.njit(cache=True, nogil=True)
def add_scaled(w, delta, scale):
    """``w += scale·delta`` in place."""
    wf, df = w.ravel(), delta.ravel()
    for i in range(wf.size):
        wf[i] += scale * df[i]
