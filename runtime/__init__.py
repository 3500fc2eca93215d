"""The ngdsl runtime: generated kernels (numba or plain Python), optimizers, data and metrics.

It consumes plans from :mod:`ngdsl.compiler` and knows nothing of YAML.
"""
__all__ = ["DataError", "Dataset", "Divergence", "Executor", "METRICS"]

from ..lazy import exports as _exports

# Imported on first use, so that catching a DataError does not load numba.
__getattr__ = _exports(__name__, {"DataError": "data", "Dataset": "data", "Divergence": "executor",
                                 "Executor": "executor", "METRICS": "metrics"})
