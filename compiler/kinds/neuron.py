"""Neurons whose dynamics the spec writes: ``kind: neuron`` with ``equations`` (d(variable)/dt),
an optional spike ``threshold`` and ``reset``, ``constants`` (a number, or one per unit), named
subexpressions (``let``) and values at rest (``initial``).

The equations see the neuron's own variables, ``I`` (the sum of the cables into it) and its
constants; each is elementwise over its units, so one fused loop steps the whole population.
"""
from __future__ import annotations

from .. import equations, language
from ..expressions import UnitConstant
from ..ops import Dynamics, Evolve, Rest, Signal
from ..schema_parts import EXPRESSION, NAME, NUMBER, POSITIVE, SCHEDULE
from . import Kind, register

RESERVED = {"phi", "in", language.NEURON_INPUT}


@register
class Neuron(Kind):
    name = "neuron"
    about = "a register whose equations the spec writes: phi is its spike (0/1), or the variable named by output"
    compartments = ("phi", "in")    # and its variables
    driven = "in"
    drivable = ("in",)
    register = True
    advances = True
    options = {
        "dt": POSITIVE,
        "equations": {"type": "object", "minProperties": 1, "propertyNames": NAME,
                      "additionalProperties": {**EXPRESSION, "description": "d(variable)/dt"},
                      "description": "a neuron's variables and d(variable)/dt of each, e.g. {v: '(I - v) / tau'}"},
        "let": {"type": "object", "propertyNames": NAME, "additionalProperties": EXPRESSION,
                "description": "named subexpressions of a neuron's equations, in order, e.g. {I_syn: 'g * (E - v)'}"},
        "threshold": {**EXPRESSION, "description": "a neuron spikes on a step where this is > 0, e.g. 'v - 1'"},
        "reset": {"type": "object", "propertyNames": NAME, "additionalProperties": EXPRESSION,
                  "description": "new values of variables where the neuron spiked, e.g. {v: '0', a: 'a + 0.1'}"},
        "constants": {"type": "object", "propertyNames": NAME,
                      "additionalProperties": {"anyOf": [NUMBER, {"type": "array", "items": NUMBER, "minItems": 1,
                                                                  "maxItems": language.MAX_COUNT}, SCHEDULE]},
                      "description": "names for numbers the equations use, one or one per unit (kernel arguments: "
                                     "a sweep reuses the kernel), or one scheduled over the training epochs "
                                     "({from, to, shape})"},
        "initial": {"type": "object", "propertyNames": NAME, "additionalProperties": NUMBER,
                    "description": "variables' values at rest, where a phase starts them (default 0)"},
        "output": {**NAME, "description": "the variable a neuron without a threshold sends as phi"},
    }
    defaults = {"dt": 0.1}
    colour = "#cbb3e6"

    def compartments_of(self, comp):
        return self.compartments + tuple(comp.opts.get("equations", ()))

    def check(self, comp, path, resolver):
        comp.dynamics = dynamics(comp, path, resolver)

    def step(self, planner, name, clamp):
        return [Evolve(name, planner.components[name].dynamics)]

    def rest(self, planner, name):
        return [Rest(name, planner.components[name].dynamics)]


def dynamics(comp, path, resolver):
    """The Dynamics of neuron ``comp`` (spec at ``path``), or None after reporting what is wrong."""
    spec = comp.opts
    variables = tuple(spec.get("equations", ()))
    constants = spec.get("constants", {})
    ok = True
    if not variables:
        resolver.error(path, f"neuron '{comp.name}' needs equations: d(variable)/dt for each of its variables, "
                             "e.g. equations: {v: '(I - v) / 10'}")
        return None
    for name in variables:
        if name in RESERVED or name in constants:
            resolver.error(path + ("equations", name), f"'{name}' is {'taken' if name in RESERVED else 'a constant'}"
                           f"; name the variable otherwise", key=True)
            ok = False
    for key in ("reset", "initial"):
        for name in spec.get(key, {}):
            if name not in variables:
                resolver.error(path + (key, name), f"{key} names '{name}', which is not a variable of neuron "
                               f"'{comp.name}'; it has {', '.join(variables)}", key=True)
                ok = False
    output = spec.get("output")
    if output is not None and output not in variables:
        resolver.error(path + ("output",), f"output '{output}' is not a variable of neuron '{comp.name}'; it has "
                       f"{', '.join(variables)}")
        ok = False
    if output is None and "threshold" not in spec:
        resolver.error(path, f"neuron '{comp.name}' has no threshold, so it does not spike: name the variable it "
                             "sends on, e.g. output: v")
        ok = False
    if "reset" in spec and "threshold" not in spec:
        resolver.error(path + ("reset",), f"neuron '{comp.name}' resets where it spikes, but it has no threshold",
                       key=True)
        ok = False

    if not ok:   # the equations would only repeat what is wrong with the names
        return None
    names = {v: (Signal(comp.name, v), ("batch", comp.size)) for v in variables}
    names[language.NEURON_INPUT] = (Signal(comp.name, "in"), ("batch", comp.size))
    for name, value in constants.items():
        if isinstance(value, list):   # a parameter per unit
            if len(value) != comp.size:
                units = f"{comp.size} unit{'s' if comp.size != 1 else ''}"
                resolver.error(path + ("constants", name), f"'{name}' has {len(value)} values; neuron "
                                                           f"'{comp.name}' has {units}")
                return None
            names[name] = (UnitConstant(tuple(float(v) for v in value), name), ("units", comp.size))
        else:
            constant = resolver.constant(path + ("constants", name), name, value)
            if constant is None:
                return None
            names[name] = (constant, equations.SCALAR)

    def unknown(text):
        raise KeyError(f"neuron '{comp.name}' reads its variables ({', '.join(variables)}), "
                       f"{language.NEURON_INPUT} (its input), its constants and its let names; '{text}' is none "
                       "of them")

    scope = equations.Scope(names, unknown)

    def parse(where, text):
        """(expression, shape) of one of the neuron's strings, or (None, None) after reporting it."""
        nonlocal ok
        try:
            node, shape, _ = equations.parse(text, scope)
        except equations.ExpressionError as exc:
            resolver.error_inside(path + where, exc.offset, exc.message)
            ok = False
            return None, None
        if shape not in (equations.SCALAR, ("batch", comp.size), ("units", comp.size)):
            resolver.error(path + where, f"is {equations.describe(shape)}; a neuron's equations are elementwise over "
                                         "its units")
            ok = False
        return node, shape

    for name, text in spec.get("let", {}).items():   # in order: each may use the ones before it
        if name in names or name in RESERVED:
            resolver.error(path + ("let", name), f"'{name}' is already a name of neuron '{comp.name}'", key=True)
            return None
        node, shape = parse(("let", name), text)
        if node is None:
            return None
        names[name] = (node, shape)
    derivatives = tuple(parse(("equations", v), spec["equations"][v])[0] for v in variables)
    threshold = parse(("threshold",), spec["threshold"])[0] if "threshold" in spec else None
    resets = tuple((v, parse(("reset", v), text)[0]) for v, text in spec.get("reset", {}).items())
    if not ok:
        return None
    initial = tuple(float(spec.get("initial", {}).get(v, 0.0)) for v in variables)
    return Dynamics(variables, derivatives, threshold, resets, initial, output, float(spec["dt"]))
