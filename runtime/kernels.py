"""Loading generated source: written once per content hash, imported, and jitted with numba's
on-disk cache so a second process starts warm."""
from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import sys
import tempfile
import warnings

#: How kernels are jitted. Generated sources name these options, so a change recompiles.
# error_model numpy: x/0 gives inf without a branch, so loops with divisions vectorise;
# fastmath contract only: fused multiply-adds, no assumptions about NaN or Inf (divergence checks rely on them).
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"contract"}}

_loaded = {}


_fallback = []   # a private folder for this process, once the configured one proved unwritable


def cache_dir() -> str:
    """Where generated modules (and numba's cache beside them) live: $NGDSL_CACHE or
    ~/.cache/ngdsl/kernels; a temporary folder, with a warning, when that cannot be written."""
    if _fallback:
        return _fallback[0]
    path = os.environ.get("NGDSL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ngdsl", "kernels")
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK | os.X_OK):
            return path
    except OSError:
        pass
    _fallback.append(tempfile.mkdtemp(prefix="ngdsl-kernels-"))
    warnings.warn(f"the kernel cache '{path}' cannot be written; compiling into {_fallback[0]} for this run "
                  "(set NGDSL_CACHE to a writable folder to keep compiled kernels)", RuntimeWarning, stacklevel=2)
    return _fallback[0]


def digest(source: str) -> str:
    """The content hash that names a generated module."""
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def _holds(path: str, source: str) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() == source
    except (OSError, UnicodeDecodeError):
        return False


def source_path(source: str) -> str:
    """The cached module file of ``source``, written (again) unless it holds exactly that source:
    a truncated or altered file is replaced, and numba's cache of the old one dropped."""
    path = os.path.join(cache_dir(), f"ngdsl_{digest(source)}.py")
    if not _holds(path, source):
        forget_compiled(path)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    return path


def forget_compiled(path: str):
    """Remove numba's cached machine code for the module at ``path`` (its index and data files)."""
    stem = os.path.basename(path)[:-3]
    for cached in glob.glob(os.path.join(os.path.dirname(path), "__pycache__", f"{glob.escape(stem)}.*.nb[ic]")):
        try:
            os.remove(cached)
        except OSError:
            pass


def load(source: str, names, jit: bool = True):
    """Import generated ``source``; with ``jit`` every function in it becomes a cached numba dispatcher.

    Returns a dict name -> callable for ``names`` (the kernels)."""
    path = source_path(source)
    return _import(path, names, jit)


def load_file(path: str, names):
    """Import the generated module the cache holds at ``path``, every function jitted (see :func:`load`)."""
    return _import(path, names, True)


def reload(source: str, names, jit: bool = True):
    """Like :func:`load`, after dropping numba's cache of ``source`` and the imported module: for a
    cache that failed to load."""
    path = source_path(source)
    forget_compiled(path)
    _loaded.pop((path, jit), None)
    return _import(path, names, jit)


def _import(path, names, jit):
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

            from .products import product

            functions = [n for n, v in vars(module).items()
                         if callable(v) and getattr(v, "__module__", None) == module_name]
            for name in functions:  # helpers too: kernels resolve them as jitted globals
                setattr(module, name, numba.njit(**JIT_OPTIONS)(getattr(module, name)))
            module.matmul = product
        _loaded[key] = module
    module = _loaded[key]
    return {name: getattr(module, name) for name in names}
