"""Names a package hands out on first use, so that importing the package itself stays cheap."""
from __future__ import annotations

import importlib
import sys


def exports(package: str, homes: dict):
    """A module ``__getattr__`` for ``package``: each name of ``homes`` (name → submodule) is imported
    from its submodule the first time it is asked for, then kept on the package."""
    def __getattr__(name):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{homes[name]}", package), name)
        setattr(sys.modules[package], name, value)
        return value
    return __getattr__
