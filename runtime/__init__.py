"""The ngdsl runtime: generated kernels (numba or plain Python), optimizers, data and metrics.

It consumes plans from :mod:`ngdsl.compiler` and knows nothing of YAML.
"""
from .data import DataError, Dataset
from .executor import Divergence, Executor
from .metrics import METRICS

__all__ = ["DataError", "Dataset", "Divergence", "Executor", "METRICS"]
