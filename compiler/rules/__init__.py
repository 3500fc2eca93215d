"""Learning rules: each turns a cable's rule parameters into update terms over signals.

A rule is one module in this package that subclasses :class:`Rule` and is decorated with
:func:`register`; the spec names it in a cable's ``rule:``.
"""
from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod

REF = {"type": "string", "description": "a signal: 'comp', 'comp.compartment', optionally '@snapshot'"}
NUMBER = {"type": "number"}
POSITIVE = {"type": "number", "exclusiveMinimum": 0}

REGISTRY: dict = {}


class Rule(ABC):
    """A learning rule. ``params`` is the JSON Schema of its parameters, ``defaults`` their defaults."""

    name = ""
    about = ""
    params: dict = {}
    defaults: dict = {}
    required: tuple = ()
    learns = True  # False for 'none': the cable is trainable storage that this rule leaves alone

    def missing(self, params: dict) -> list:
        """The required parameters ``params`` lacks."""
        return [p for p in self.required if p not in params]

    @abstractmethod
    def lower(self, params: dict, factors) -> dict:
        """Return the keyword arguments of an :class:`~ngdsl.compiler.ops.Update`
        (``terms`` and optionally ``w_max``); ``factors`` resolves factor references."""


def register(cls):
    """Class decorator adding a rule to the registry under ``cls.name``."""
    REGISTRY[cls.name] = cls()
    return cls


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
