"""How many BLAS threads ngdsl's work uses: one unless asked for more.

OpenBLAS threads spin-wait for each other; when another process holds a core they collapse —
measured here with a busy neighbour on 2 cores: the 784-256-256-10 PC step 11.6 ms on one thread
against 755 ms on two, a DFA digits step 0.22 against 31 ms. One thread per process cannot
collapse; ``threads`` (``--threads``, ``$NGDSL_THREADS``) opts in to more on an idle machine."""
from __future__ import annotations

import os

_controller = []   # one ThreadpoolController, made once the kernels have loaded their BLAS


def default_threads() -> int:
    """$NGDSL_THREADS, or 1."""
    text = os.environ.get("NGDSL_THREADS", "1")
    return int(text) if text.isdigit() and int(text) >= 1 else 1


def blas_threads(count: int):
    """A context in which every loaded BLAS library uses ``count`` threads (then restored)."""
    if not _controller:
        from threadpoolctl import ThreadpoolController
        _controller.append(ThreadpoolController())
    return _controller[0].limit(limits=count, user_api="blas")
