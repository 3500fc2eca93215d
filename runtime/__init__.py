"""The ngdsl runtime: generated kernels (numba or plain Python), optimizers, data and metrics.

It consumes plans from :mod:`ngdsl.compiler` and knows nothing of YAML.
"""
__all__ = ["DataError", "Dataset", "Divergence", "Executor", "METRICS"]

# Imported on first use, so that catching a DataError does not load numba.
_HOMES = {"DataError": "data", "Dataset": "data", "Divergence": "executor", "Executor": "executor",
          "METRICS": "metrics"}


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value
