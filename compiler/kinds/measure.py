"""Measures: instant components whose value is an expression of other components — a layer's
goodness ``total(h * h)``, a norm, a score for a readout — computed every sweep, after what they read.
"""
from __future__ import annotations

from .. import equations
from ..ops import Measure as MeasureOp
from ..schema_parts import CONSTANT, EXPRESSION, NAME
from . import Kind, register


@register
class Measure(Kind):
    name = "measure"
    about = "instant: phi = an expression of other components (e.g. a goodness 'total(h * h)'), every sweep"
    compartments = ("phi",)
    options = {
        "value": {**EXPRESSION, "description": "phi, per example, e.g. 'total(relu(h1.z) ** 2) / 64'; names are "
                                               "components (their output), component.compartment and constants"},
        "constants": {"type": "object", "propertyNames": NAME, "additionalProperties": CONSTANT,
                      "description": "names for numbers the value uses (kernel arguments), fixed or scheduled "
                                     "over the training epochs ({from, to, shape})"},
    }
    colour = "#fdd49e"

    def link(self, comp, resolver):
        """Parse the value once every component exists: it may read any of them."""
        path = ("components", comp.name)
        if "value" not in comp.opts:
            resolver.error(path, f"measure '{comp.name}' needs a value: an expression of other components, e.g. "
                                 "value: 'total(h * h)'")
            return

        def component(text):
            signal, problem = resolver.lookup(text, f"the value of '{comp.name}' reads")
            if problem:
                raise KeyError(problem)
            if signal.component == comp.name:
                raise KeyError(f"measure '{comp.name}' reads itself; its value is an expression of other components")
            return signal, resolver.components[signal.component].size

        numbers = {n: resolver.constant(path + ("constants", n), n, v) for n, v in comp.opts.get("constants", {}).items()}
        if None in numbers.values():
            return
        names = {n: (c, equations.SCALAR) for n, c in numbers.items()}
        try:
            value, shape, _ = equations.parse(comp.opts["value"], equations.Scope(names, component, pairs=True))
        except equations.ExpressionError as exc:
            resolver.error_inside(path + ("value",), exc.offset, exc.message)
            return
        if shape not in (equations.SCALAR, ("batch", 1), ("batch", comp.size)):
            resolver.error(path + ("value",), f"is {equations.describe(shape)}; a measure of {comp.size} unit"
                           f"{'s' if comp.size != 1 else ''} takes one value per example for each (or one for all)")
            return
        comp.value = value

    def edges(self, comp):
        return [(s.component, comp.name, f"{comp.name}.reads.{s.component}.{s.compartment}",
                 {"transform": "identity", "source": s.compartment, "target": "phi", "scale": 1.0})
                for s in (comp.value.signals() if getattr(comp, "value", None) is not None else ())]

    def sweep(self, planner, name):
        return [MeasureOp(name, planner.components[name].value.map(planner.sig))]
