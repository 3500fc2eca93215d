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

from .compiler import SpecError  # noqa: E402
from .model import Model, load  # noqa: E402
from .runtime import DataError, Divergence  # noqa: E402

__version__ = "0.1.0"
__all__ = ["DataError", "Divergence", "Model", "SpecError", "load"]
