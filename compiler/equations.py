"""The equation language: a spec's expression strings parsed (never evaluated), shape-checked
and turned into :mod:`expressions` trees.

The grammar is Python's expression syntax restricted to a whitelist: numbers, names, the
operators ``+ - * / ** @``, unary minus, parentheses and calls of the functions in
:data:`expressions.FUNCTIONS` and :data:`expressions.STRUCTURAL`. A name is a constant or signal
the caller binds, or a component (its output) and ``component.compartment``. Anything else (other
attributes, subscripts, keywords, comparisons, strings) is an error at its place in the string.

Shapes: ``scalar``; ``("batch", n)``, a per-example value of n units; ``("units", n)``, one value
per unit (a batch mean); ``("matrix", rows, cols)``; ``("diag", n)``, which only multiplies a matrix;
``("pairs",)``, a (batch × batch) matrix over pairs of examples (in a scope that allows them).
A per-unit vector of one unit is a number; a per-example value of one unit scales each example.
"""
from __future__ import annotations

import ast
import re
import warnings

from .diagnostics import did_you_mean
from .expressions import (FUNCTIONS, STRUCTURAL, Binary, Centred, Constant, Diag, Function, Mean, MatProduct,
                          OuterProduct, PairsProduct, PairsRowsum, Reduce, SquaredDistances, Total, Tril, constant_value)

MAX_LENGTH = 2000
SCALAR = ("scalar",)
PAIRS = ("pairs",)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_DESCRIBED = {ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Compare: "a comparison",
              ast.BoolOp: "'and'/'or'", ast.IfExp: "'if ... else'", ast.Lambda: "a lambda", ast.Tuple: "a tuple",
              ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set", ast.JoinedStr: "a string",
              ast.NamedExpr: "':='", ast.Starred: "'*'", ast.Await: "'await'", ast.Slice: "a slice"}


class ExpressionError(Exception):
    """A problem at character ``offset`` (0-based) of an expression string."""

    def __init__(self, offset, message):
        super().__init__(message)
        self.offset, self.message = offset, message


def describe(shape) -> str:
    """A shape in words, as an error message uses it."""
    kind = shape[0]
    if kind == "scalar":
        return "a number"
    if kind == "batch":
        return f"a per-example value of {shape[1]} unit(s)"
    if kind == "units":
        return f"a per-unit vector of {shape[1]}"
    if kind == "diag":
        return f"a diagonal matrix of {shape[1]}"
    if kind == "pairs":
        return "a (batch × batch) matrix over pairs of examples"
    return f"a ({shape[1]} × {shape[2]}) matrix"


class Scope:
    """What the names of an expression mean: ``names`` binds a name to (node, shape), and
    ``resolve(text)`` turns a component reference into (Signal, its width) or raises KeyError
    with the message to show."""

    def __init__(self, names, resolve, pairs=False):
        self.names, self.resolve, self.pairs = names, resolve, pairs


def parse(text, scope):
    """(expression, its shape, shapes of every node) of ``text``, or ExpressionError."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(0, f"the expression is longer than {MAX_LENGTH} characters")
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    try:
        with warnings.catch_warnings():   # Python's warnings about odd literals ('1if') are parse errors here
            warnings.simplefilter("error")
            tree = ast.parse(stripped.rstrip(), mode="eval")
    except SyntaxError as exc:
        column = _char_offset(stripped, (exc.offset or 1) - 1) if exc.lineno in (None, 1) else len(stripped)
        raise ExpressionError(lead + column, f"the expression does not parse: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(0, "the expression nests too deeply") from None
    builder = _Builder(stripped, lead, scope)
    try:
        node, shape = builder.build(tree.body)
    except RecursionError:
        raise ExpressionError(0, "the expression nests too deeply") from None
    return node, shape, builder.shapes


def _char_offset(text, byte_offset):
    """ast reports UTF-8 byte offsets; messages count characters."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


class _Builder:
    def __init__(self, text, lead, scope):
        self.text, self.lead, self.scope = text, lead, scope
        self.shapes = {}

    def at(self, node):
        return self.lead + _char_offset(self.text, node.col_offset)

    def fail(self, node, message):
        raise ExpressionError(self.at(node), message)

    def build(self, node):
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            what = _DESCRIBED.get(type(node), f"'{type(node).__name__}'")
            self.fail(node, f"{what} is not part of the expression language (numbers, names, + - * / ** @, "
                            f"and the functions {', '.join(FUNCTIONS + tuple(STRUCTURAL))})")
        out, shape = method(node)
        self.shapes[out] = shape
        return out, shape

    # ---- leaves -------------------------------------------------------------------------
    def _Constant(self, node):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            self.fail(node, f"{node.value!r} is not a number; an expression holds numbers and names")
        return Constant(float(node.value)), SCALAR

    def _Name(self, node):
        if node.id in self.scope.names:
            return self.scope.names[node.id]
        return self.reference(node, node.id)

    def _Attribute(self, node):
        if not isinstance(node.value, ast.Name) or node.value.id in self.scope.names:
            self.fail(node, "attribute access is not part of the expression language; a signal is written "
                            "component or component.compartment")
        return self.reference(node, f"{node.value.id}.{node.attr}")

    def reference(self, node, text):
        if not all(_IDENTIFIER.match(part) for part in text.split(".")):
            self.fail(node, f"'{text}' is not a name made of letters, digits and '_'")
        try:
            signal, width = self.scope.resolve(text)
        except KeyError as exc:
            message = exc.args[0]
            if "." not in text and "did you mean" not in message:
                message += did_you_mean(text, list(self.scope.names))
            self.fail(node, message)
        return signal, ("batch", width)

    # ---- operators ----------------------------------------------------------------------
    def _UnaryOp(self, node):
        arg, shape = self.build(node.operand)
        if isinstance(node.op, ast.UAdd):
            return arg, shape
        if not isinstance(node.op, ast.USub):
            self.fail(node, "only unary '-' and '+' are part of the expression language")
        self.elementwise(node.operand, shape, "-")
        return Function("neg", arg), shape

    def _BinOp(self, node):
        left, lshape = self.build(node.left)
        right, rshape = self.build(node.right)
        if isinstance(node.op, ast.MatMult):
            shape = self.product(node, lshape, rshape)
            return (PairsProduct if lshape == PAIRS else MatProduct)(left, right), shape
        op = _BINARY.get(type(node.op))
        if op is None:
            self.fail(node, "only + - * / ** and @ are part of the expression language")
        self.elementwise(node.left, lshape, op)
        self.elementwise(node.right, rshape, op)
        if op == "**":
            if rshape != SCALAR or constant_value(right) is None:
                self.fail(node.right, "an exponent is a fixed number (not a signal, nor a scheduled constant)")
            return Binary(op, left, right), lshape
        return Binary(op, left, right), self.broadcast(node, lshape, rshape, op)

    def elementwise(self, node, shape, op):
        if shape[0] == "diag":
            self.fail(node, f"diag(...) only multiplies a matrix with '@'; it cannot take '{op}'")

    def broadcast(self, node, left, right, op):
        if left == SCALAR:
            return right
        if right == SCALAR or left == right:
            return left
        kinds = {left[0], right[0]}
        if kinds == {"batch", "units"} and left[1] == right[1]:
            return left if left[0] == "batch" else right
        for one, other in ((left, right), (right, left)):
            if one == ("units", 1) and other[0] != "diag":   # one number (a mean of one unit): a scalar
                return other
            if one == ("batch", 1) and other[0] in ("batch", "pairs"):   # one number per example: its values, its row
                return other
        self.fail(node.right, f"'{op}' combines {describe(left)} with {describe(right)}; their shapes must agree "
                              "(or one side be a number)")

    def product(self, node, left, right):
        if left == PAIRS:
            if right[0] != "batch":
                self.fail(node.right, f"a matrix over pairs of examples multiplies a per-example value; this is "
                                      f"{describe(right)}")
            return right
        if left[0] not in ("matrix", "diag") or right[0] not in ("matrix", "diag"):
            side, shape = (node.left, left) if left[0] not in ("matrix", "diag") else (node.right, right)
            self.fail(side, f"'@' multiplies matrices; this is {describe(shape)}"
                            + ("; outer(a, b) makes a matrix of two per-example values" if shape[0] == "batch" else ""))
        if left[0] == right[0] == "diag":
            self.fail(node, "diag(a) @ diag(b) is diag(a * b); write that")
        inner_left, inner_right = left[-1], right[1]
        if inner_left != inner_right:
            self.fail(node.right, f"'@' multiplies {describe(left)} by {describe(right)}: {inner_left} columns "
                                  f"against {inner_right} rows")
        rows = left[1]
        cols = right[-1]
        return ("matrix", rows, cols)

    # ---- calls --------------------------------------------------------------------------
    def _Call(self, node):
        if not isinstance(node.func, ast.Name):
            self.fail(node, "only the expression language's functions may be called: "
                            f"{', '.join(FUNCTIONS + tuple(STRUCTURAL))}")
        name = node.func.id
        if name not in FUNCTIONS and name not in STRUCTURAL:
            self.fail(node, f"'{name}' is not a function of the expression language"
                            f"{did_you_mean(name, FUNCTIONS + tuple(STRUCTURAL))}; it has "
                            f"{', '.join(FUNCTIONS + tuple(STRUCTURAL))}")
        if node.keywords:
            self.fail(node.keywords[0].value, f"{name}() takes no keyword arguments")
        want = STRUCTURAL.get(name, 1)
        if len(node.args) != want:
            self.fail(node, f"{name}() takes {want} argument{'s' if want > 1 else ''}, not {len(node.args)}")
        args = [self.build(a) for a in node.args]
        if name in FUNCTIONS:
            (arg, shape), = args
            self.elementwise(node.args[0], shape, name)
            return Function(name, arg), shape
        return getattr(self, "call_" + name)(node, *args)

    def call_outer(self, node, post, pre):
        for arg, (_, shape) in zip(node.args, (post, pre)):
            if shape[0] != "batch":
                self.fail(arg, f"outer(post, pre) takes two per-example values; this is {describe(shape)}")
        return OuterProduct(post[0], pre[0]), ("matrix", post[1][1], pre[1][1])

    def call_mean(self, node, arg):
        if arg[1][0] != "batch":
            self.fail(node.args[0], f"mean() averages a per-example value over the batch; this is {describe(arg[1])}")
        return Mean(arg[0]), ("units", arg[1][1])

    def call_total(self, node, arg):
        if arg[1][0] != "batch":
            self.fail(node.args[0], f"total() sums a per-example value over its units; this is {describe(arg[1])}")
        return Total(arg[0]), ("batch", 1)

    def call_rowsum(self, node, arg):
        return self.reduce(node, arg, "rows")

    def call_colsum(self, node, arg):
        return self.reduce(node, arg, "cols")

    def reduce(self, node, arg, axis):
        if arg[1] == PAIRS and axis == "rows":
            return PairsRowsum(arg[0]), ("batch", 1)
        if arg[1][0] != "matrix":
            self.fail(node.args[0], f"{'rowsum' if axis == 'rows' else 'colsum'}() sums a matrix; this is "
                                    f"{describe(arg[1])}")
        return Reduce(axis, arg[0]), ("units", arg[1][1] if axis == "rows" else arg[1][2])

    def call_tril(self, node, arg):
        shape = arg[1]
        if shape[0] != "matrix" or shape[1] != shape[2]:
            self.fail(node.args[0], f"tril() takes a square matrix; this is {describe(shape)}")
        return Tril(arg[0]), shape

    def call_sqdist(self, node, left, right):
        self.pairs_allowed(node)
        for arg, (_, shape) in zip(node.args, (left, right)):
            if shape[0] != "batch":
                self.fail(arg, f"sqdist(a, b) takes two per-example values; this is {describe(shape)}")
        if left[1] != right[1]:
            self.fail(node.args[1], f"sqdist(a, b) compares values of the same units: {left[1][1]} against "
                                    f"{right[1][1]}")
        return SquaredDistances(left[0], right[0]), PAIRS

    def call_centre(self, node, arg):
        self.pairs_allowed(node)
        if arg[1] != PAIRS:
            self.fail(node.args[0], f"centre() takes a matrix over pairs of examples, e.g. centre(exp(-sqdist(x, x))); "
                                    f"this is {describe(arg[1])}")
        return Centred(arg[0]), PAIRS

    def pairs_allowed(self, node):
        if not self.scope.pairs:
            self.fail(node, "terms over pairs of examples (sqdist, centre) belong in a measure's value; a rule "
                            "reads the measure")

    def call_diag(self, node, arg):
        if arg[1][0] != "units":
            hint = "; write diag(mean(...))" if arg[1][0] == "batch" else ""
            self.fail(node.args[0], f"diag() takes a per-unit vector; this is {describe(arg[1])}{hint}")
        return Diag(arg[0]), ("diag", arg[1][1])
