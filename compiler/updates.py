"""From a ΔW expression to update terms.

The expression is split into signed summands (constant factors folded into coefficients). A
summand with the form of a library term becomes that term, so a rule written as an equation
compiles to the same kernel as the hand-lowered rule did:

    k·outer(a, b)               Outer(a, b, k)            one product into ΔW
    k·W                         Decay(−k)
    k·outer(a, a) @ W           OjaDecay(a, −k)           (tril(outer(a, a)) @ W: lower=True)
    k·diag(mean(a)) @ W         ActivityDecay(a, post)    (W @ diag(mean(a)): pre)
    (c − W) * (Σ k·outer(a, b)) the outer terms, with the soft bound w_max = c

Anything else becomes one :class:`~ngdsl.compiler.ops.Expression`, computed elementwise over
(rows × cols). Summands whose coefficient is 0 are dropped.
"""
from __future__ import annotations

from .expressions import Binary, Constant, Diag, Function, Mean, MatProduct, OuterProduct, Tril, Weight, constant_value
from .ops import ActivityDecay, Decay, Expression, OjaDecay, Outer


def summands(node, coef=1.0):
    """[(coefficient, expression)] whose sum is ``node``."""
    if isinstance(node, Binary) and node.op in ("+", "-"):
        return summands(node.left, coef) + summands(node.right, coef if node.op == "+" else -coef)
    if isinstance(node, Function) and node.function == "neg":
        return summands(node.arg, -coef)
    if isinstance(node, Binary) and node.op in ("*", "/"):
        left, right = constant_value(node.left), constant_value(node.right)
        if right is not None and right != 0:
            return summands(node.left, coef * right if node.op == "*" else coef / right)
        if left is not None and node.op == "*":
            return summands(node.right, coef * left)
    return [(coef, node)]


def lower(expression, shapes):
    """Keyword arguments of an Update (``terms`` and ``w_max``) for ΔW = ``expression``;
    ``shapes`` gives each node's shape, as the parser found it."""
    terms, w_max, rest = [], None, []
    parts = [(k, n) for k, n in summands(expression) if k != 0]
    bounded = [(k, n) for k, n in parts if _bound(n) is not None]
    others_outer = any(isinstance(n, OuterProduct) for k, n in parts if (k, n) not in bounded)
    if len(bounded) == 1 and not others_outer:
        k, node = bounded[0]
        w_max, inner = _bound(node)
        terms += [Outer(n.post, n.pre, k * c) for c, n in summands(inner) if c != 0]
        parts.remove(bounded[0])
    for k, node in parts:
        term = _library_term(k, node)
        if term is not None:
            terms.append(term)
        else:
            rest.append(node if k == 1 else Binary("*", Constant(k), node))
    if rest:
        total = rest[0]
        for node in rest[1:]:
            total = Binary("+", total, node)
        terms.append(Expression(total, _products(total, shapes)))
    return {"terms": tuple(terms), "w_max": w_max}


def _bound(node):
    """(c, inner) when ``node`` is (c − W) * inner and inner is a sum of outer products, else None."""
    if not (isinstance(node, Binary) and node.op == "*"):
        return None
    bound, inner = node.left, node.right
    if not (isinstance(bound, Binary) and bound.op == "-" and isinstance(bound.right, Weight)):
        return None
    c = constant_value(bound.left)
    if c is None or not all(isinstance(n, OuterProduct) for _, n in summands(inner)):
        return None
    return c, inner


def _library_term(k, node):
    if isinstance(node, OuterProduct):
        return Outer(node.post, node.pre, k)
    if isinstance(node, Weight):
        return Decay(-k)
    if isinstance(node, MatProduct):
        left, right = node.left, node.right
        if isinstance(right, Weight):
            square = left.arg if isinstance(left, Tril) else left
            if isinstance(square, OuterProduct) and square.post == square.pre:
                return OjaDecay(square.post, -k, lower=isinstance(left, Tril))
            if isinstance(left, Diag) and isinstance(left.arg, Mean):
                return ActivityDecay(left.arg.arg, "post", -k)
        if isinstance(left, Weight) and isinstance(right, Diag) and isinstance(right.arg, Mean):
            return ActivityDecay(right.arg.arg, "pre", -k)
    return None


def _products(node, shapes):
    """The matrix products an Expression term computes (for the BLAS-floor count)."""
    out = []
    for n in node.walk():
        if isinstance(n, OuterProduct):
            out.append(("outer", shapes[n.post][1], shapes[n.pre][1]))
        elif isinstance(n, MatProduct) and not isinstance(n.left, Diag) and not isinstance(n.right, Diag):
            left, right = shapes[n.left], shapes[n.right]
            out.append(("matmul", left[1], left[2], right[2]))
    return tuple(out)
