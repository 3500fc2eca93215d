"""Symbolic derivatives of elementwise expressions: how a custom activation gets its ``dphi``.

The rules are the textbook ones for the equation language's functions; constant subexpressions
are folded and multiplications by 0 or 1 dropped as the result is built, so the derivative of
``log(1 + exp(z))`` is ``exp(z) / (1 + exp(z))``, not a tree of zeros.
"""
from __future__ import annotations

from .expressions import Binary, Constant, Function, constant_value

ZERO, ONE = Constant(0.0), Constant(1.0)


class NotDifferentiable(ValueError):
    """An expression whose elementwise derivative the rules below do not give (a sum over units or
    over the batch couples elements: its derivative is not one number per element)."""


def derivative(node, variable):
    """d node / d variable, for an expression of elementwise operations on ``variable`` (a Signal)."""
    if node == variable:
        return ONE
    if isinstance(node, Constant) or not node.signals():
        return ZERO
    if isinstance(node, Function):
        inner = derivative(node.arg, variable)
        return mul(_outer(node.function, node.arg), inner)
    if isinstance(node, Binary):
        a, b = node.left, node.right
        da, db = derivative(a, variable), derivative(b, variable)
        if node.op == "+":
            return add(da, db)
        if node.op == "-":
            return sub(da, db)
        if node.op == "*":
            return add(mul(da, b), mul(a, db))
        if node.op == "/":
            return sub(div(da, b), div(mul(a, db), mul(b, b)))
        if node.op == "**":   # the exponent is a number (the parser holds it to that)
            k = constant_value(b)
            return mul(mul(Constant(k), power(a, k - 1)), da)
    raise NotDifferentiable(f"{type(node).__name__.lower()}() couples elements")


def _outer(function, x):
    """The derivative of ``function`` at ``x``."""
    if function == "neg":
        return Constant(-1.0)
    if function == "exp":
        return Function("exp", x)
    if function == "log":
        return div(ONE, x)
    if function == "tanh":
        return sub(ONE, power(Function("tanh", x), 2))
    if function == "sigmoid":
        s = Function("sigmoid", x)
        return mul(s, sub(ONE, s))
    if function == "relu":
        return Function("step", x)
    if function == "abs":
        return Function("sign", x)
    if function == "sqrt":
        return div(Constant(0.5), Function("sqrt", x))
    if function == "sin":
        return Function("cos", x)
    if function == "cos":
        return Function("neg", Function("sin", x))
    if function in ("sign", "step"):   # piecewise constant: 0 wherever it is differentiable
        return ZERO
    raise NotDifferentiable(f"no derivative rule for {function}")


def _fold(op, a, b):
    value = constant_value(Binary(op, a, b))
    return None if value is None else Constant(value)


def add(a, b):
    if a == ZERO:
        return b
    if b == ZERO:
        return a
    return _fold("+", a, b) or Binary("+", a, b)


def sub(a, b):
    if b == ZERO:
        return a
    if a == ZERO:
        return neg(b)
    return _fold("-", a, b) or Binary("-", a, b)


def mul(a, b):
    if ZERO in (a, b):
        return ZERO
    if a == ONE:
        return b
    if b == ONE:
        return a
    return _fold("*", a, b) or Binary("*", a, b)


def div(a, b):
    if a == ZERO:
        return ZERO
    if b == ONE:
        return a
    return _fold("/", a, b) or Binary("/", a, b)


def neg(a):
    value = constant_value(a)
    return Constant(-value) if value is not None else Function("neg", a)


def power(a, k):
    if k == 0:
        return ONE
    if k == 1:
        return a
    return Binary("**", a, Constant(float(k)))
