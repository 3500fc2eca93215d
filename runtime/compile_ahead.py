"""Compiling kernels in a second process: on a cold cache with a core to spare, the kernels a run
needs after its first training trial (schedule.predict's, .sample's, .encode's) compile there into
numba's on-disk cache while this process compiles schedule.train's, then load from the cache here.

numba compiles one function at a time in a process (a global lock), so a second process is how a
second core helps; the on-disk cache is the way back. The helper is told only a module path the
cache already holds and each kernel's argument types, never anything from a spec; if it fails,
this process compiles those kernels itself, as it would without it.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

from .threads import usable_cores


def compiled(path: str, name: str) -> bool:
    """Whether numba's cache beside the module at ``path`` holds an index for its function ``name``
    (numba names it MODULE.FUNCTION-LINE.pyXY.nbi; were that to change, a warm start would only start a
    helper that finds everything cached)."""
    stem = glob.escape(os.path.basename(path)[:-3])
    return bool(glob.glob(os.path.join(os.path.dirname(path), "__pycache__", f"{stem}.{glob.escape(name)}-*.nbi")))


def argument_types(values) -> list | None:
    """Each argument's numba type as JSON (dtype, ndim, layout, readonly), or None when one is not an array."""
    import numba
    from numba.core import types

    described = []
    for value in values:
        t = numba.typeof(value)
        if not isinstance(t, types.Array):
            return None
        described.append([str(t.dtype), t.ndim, t.layout, not t.mutable])
    return described


def start(path: str, kernels: dict):
    """Start compiling ``kernels`` ({function name: argument types}) of the module at ``path`` in a second
    process; None when there is no second core or nothing to compile. Wait for it with :func:`finish`."""
    if not kernels or usable_cores() < 2 or os.environ.get("NGDSL_SERIAL_COMPILE"):
        return None
    env = {**os.environ, "NGDSL_CACHE": os.path.dirname(path), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        helper = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        helper.stdin.write(json.dumps({"path": path, "kernels": kernels}).encode())
        helper.stdin.close()
    except OSError:
        return None
    return helper


def finish(helper):
    """Wait for a helper to end; whatever it did not compile, this process compiles when it runs the kernel."""
    if helper is not None:
        helper.wait()


def _compile(request: dict):
    import numba
    import numpy as np
    from numba.core import types

    from . import kernels

    functions = kernels.load_file(request["path"], list(request["kernels"]))
    for name, described in request["kernels"].items():
        functions[name].compile(tuple(types.Array(numba.from_dtype(np.dtype(dtype)), ndim, layout, readonly=readonly)
                                      for dtype, ndim, layout, readonly in described))


if __name__ == "__main__":
    _compile(json.loads(sys.stdin.read()))
