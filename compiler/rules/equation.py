"""A rule written in the spec: ΔW (and Δb) as expressions of the equation language.

Names: ``pre`` and ``post`` (the cable's source and destination output, or the signals the
parameters of those names give), ``W``, each key of ``signals`` (a signal, snapshots allowed) and
of ``constants`` (a number: a kernel argument, so a sweep over it reuses the compiled kernel), and
any component as ``name`` or ``name.compartment``. See the README's "Equations".
"""
from ..schema_parts import CONSTANT
from . import REF, Rule, register

EXPRESSION = {"type": "string", "minLength": 1, "maxLength": 2000}
NAME = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}


@register
class Equation(Rule):
    name = "equation"
    about = ("ΔW written as an expression: outer(post, pre), mean(x), W, @, diag, tril, + - * / ** and "
             "elementwise functions; db: the bias's Δb")
    params = {"dW": {**EXPRESSION, "description": "ΔW, a (post × pre) expression, e.g. 'outer(post, pre) - 0.1 * W'"},
              "db": {**EXPRESSION, "description": "Δb, a per-unit expression of the post units, e.g. 'mean(post)'"},
              "pre": REF, "post": REF,
              "signals": {"type": "object", "propertyNames": NAME, "additionalProperties": REF,
                          "description": "names for signals the expressions read, e.g. {free: 'h@free'}"},
              "constants": {"type": "object", "propertyNames": NAME, "additionalProperties": CONSTANT,
                            "description": "names for numbers the expressions use, e.g. {eta: 0.1}, or "
                                           "scheduled over the training epochs, e.g. {sigma: {from: 3, to: 0.5}}"}}
    required = ("dW",)

    def lower(self, params, factors):
        names = {"post": factors.post(params.get("post")), "pre": factors.pre(params.get("pre"))}
        for name, text in params.get("signals", {}).items():
            names[name] = factors.ref(text, name, path=factors.path + ("signals", name))
        names.update(params.get("constants", {}))
        return factors.equation(params["dW"], names, params.get("db"), where={"dW": "dW", "db": "db"})
