"""ngdsl: declarative brain-inspired neural circuits, compiled to numba.

    model = ngdsl.load("specs/pc_digits.yaml")
    model.fit()
    model.evaluate()
"""
import os as _os

# In the source tree compiler/ and runtime/ sit beside this package; installed, they sit inside it.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "compiler")) and _os.path.isfile(
        _os.path.join(_root, "compiler", "__init__.py")):
    __path__.append(_root)

__version__ = "0.1.0"
__all__ = ["DataError", "Divergence", "Model", "SpecError", "load"]

from .lazy import exports as _exports  # noqa: E402

# Imported on first use: the command line answers --help and --version without loading numba.
__getattr__ = _exports(__name__, {"SpecError": "compiler", "Model": "model", "load": "model", "DataError": "runtime",
                                 "Divergence": "runtime"})


def __dir__():
    return sorted(set(globals()) | set(__all__))
