"""Loading generated source: written once per content hash, imported, and jitted with numba's
on-disk cache so a second process starts warm."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

#: How kernels are jitted. Generated sources name these options, so a change recompiles.
# error_model numpy: x/0 gives inf without a branch, so loops with divisions vectorise;
# fastmath contract only: fused multiply-adds, no assumptions about NaN or Inf (divergence checks rely on them).
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"contract"}}

_loaded = {}


def cache_dir() -> str:
    """Where generated modules (and numba's cache beside them) live: $NGDSL_CACHE or ~/.cache/ngdsl."""
    path = os.environ.get("NGDSL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ngdsl", "kernels")
    os.makedirs(path, exist_ok=True)
    return path


def digest(source: str) -> str:
    """The content hash that names a generated module."""
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def is_cached(source: str) -> bool:
    """Whether this source was generated (and so compiled) before: the next load starts warm."""
    return os.path.exists(os.path.join(cache_dir(), f"ngdsl_{digest(source)}.py"))


def source_path(source: str) -> str:
    path = os.path.join(cache_dir(), f"ngdsl_{digest(source)}.py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    return path


def load(source: str, names, jit: bool = True):
    """Import generated ``source``; with ``jit`` every function in it becomes a cached numba dispatcher.

    Returns a dict name -> callable for ``names`` (the kernels)."""
    path = source_path(source)
    key = (path, jit)
    if key not in _loaded:
        module_name = os.path.basename(path)[:-3] + ("" if jit else "_reference")
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        # numba's cache finds a function's globals by importing its module by name.
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        if jit:
            import numba

            functions = [n for n, v in vars(module).items()
                         if callable(v) and getattr(v, "__module__", None) == module_name]
            for name in functions:  # helpers too: kernels resolve them as jitted globals
                setattr(module, name, numba.njit(**JIT_OPTIONS)(getattr(module, name)))
        _loaded[key] = module
    module = _loaded[key]
    return {name: getattr(module, name) for name in names}
