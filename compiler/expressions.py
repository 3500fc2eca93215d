"""Expressions over signals: what an update term reads, and what a spec's equations become.

An expression is a tree of frozen nodes. Per-example values (a signal, elementwise arithmetic and
functions of signals) are (batch × units); ``Mean`` averages one over the batch; ``OuterProduct``,
``MatProduct``, ``Tril``, ``Diag`` and ``Weight`` make (rows × cols) matrices; ``SquaredDistances`` and
``Centred`` make (batch × batch) matrices over pairs of examples, which ``PairsProduct`` and
``PairsRowsum`` bring back to per-example values (a kernel method's terms). Nodes hold no
numbers but ``Constant``s, which the code generator passes to kernels as arguments, and no text
from a spec but the identifiers of signals.
"""
from __future__ import annotations

from dataclasses import dataclass

#: elementwise functions of one argument an expression may call
FUNCTIONS = ("exp", "log", "tanh", "sigmoid", "relu", "abs", "sign", "sqrt", "step", "sin", "cos")
#: functions that change what an expression is over: name -> number of arguments
STRUCTURAL = {"outer": 2, "mean": 1, "total": 1, "rowsum": 1, "colsum": 1, "tril": 1, "diag": 1, "sqdist": 2,
              "centre": 1}
OPERATORS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}


class Node:
    """An expression node; every subclass lists its children in ``parts``."""

    parts = ()

    def children(self):
        return tuple(getattr(self, p) for p in self.parts)

    def signals(self):
        """The signals the expression reads, each once, in order of appearance."""
        seen = []
        for child in self.children():
            seen += [s for s in child.signals() if s not in seen]
        return tuple(seen)

    def map(self, fn):
        """The expression with ``fn`` applied to each of its signals."""
        return type(self)(**{**self.__dict__, **{p: getattr(self, p).map(fn) for p in self.parts}})

    def walk(self):
        """This node and every node below it, parents first."""
        yield self
        for child in self.children():
            if isinstance(child, Node):
                yield from child.walk()
            else:   # a signal
                yield child


@dataclass(frozen=True)
class Constant(Node):
    """A number; ``name`` is the spec's name for it, if it has one. A scheduled constant
    (``schedule`` = (shape, from, to)) changes from epoch to epoch: ``value`` is its first."""

    value: float
    name: str = ""
    schedule: tuple = ()

    def __str__(self):
        return self.name or f"{self.value:g}"


@dataclass(frozen=True)
class UnitConstant(Node):
    """One number per unit (a neuron's per-unit parameter): ``values`` in unit order."""

    values: tuple
    name: str = ""

    def __str__(self):
        return self.name or f"[{', '.join(f'{v:g}' for v in self.values)}]"


@dataclass(frozen=True)
class Weight(Node):
    """The weights of the cable the expression updates, or of the cable named ``cable``."""

    cable: str = ""

    def __str__(self):
        return self.cable or "W"


@dataclass(frozen=True)
class Function(Node):
    """An elementwise function of one argument (see FUNCTIONS), or 'neg'."""

    function: str
    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"-{self.arg}" if self.function == "neg" else f"{self.function}({self.arg})"


@dataclass(frozen=True)
class Binary(Node):
    """An elementwise combination: ``op`` is one of '+', '-', '*', '/', '**'."""

    op: str
    left: Node
    right: Node
    parts = ("left", "right")

    def __str__(self):
        return f"({self.left} {self.op} {self.right})"


@dataclass(frozen=True)
class Mean(Node):
    """The mean over the batch of a per-example value: one number per unit."""

    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"mean({self.arg})"


@dataclass(frozen=True)
class Total(Node):
    """The sum over the units of a per-example value: one number per example."""

    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"total({self.arg})"


@dataclass(frozen=True)
class Reduce(Node):
    """The sums of a matrix along ``axis``: 'rows' sums each row (one value per row), 'cols' each column."""

    axis: str
    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"{'rowsum' if self.axis == 'rows' else 'colsum'}({self.arg})"


@dataclass(frozen=True)
class SquaredDistances(Node):
    """The (batch × batch) squared distances ‖a_i − b_j‖² between example i's a and example j's b."""

    left: Node
    right: Node
    parts = ("left", "right")

    def __str__(self):
        return f"sqdist({self.left}, {self.right})"


@dataclass(frozen=True)
class Centred(Node):
    """H P H for a (batch × batch) P, H = I − 11ᵀ/m: P less its row and column means, plus its mean."""

    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"centre({self.arg})"


@dataclass(frozen=True)
class PairsProduct(Node):
    """P @ a for a (batch × batch) P: each example's sum over the batch of P[i, j] times example j's a."""

    pairs: Node
    arg: Node
    parts = ("pairs", "arg")

    def __str__(self):
        return f"({self.pairs} @ {self.arg})"


@dataclass(frozen=True)
class PairsRowsum(Node):
    """Each example's row of a (batch × batch) matrix, summed: one value per example."""

    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"rowsum({self.arg})"


#: nodes whose value is a (batch × batch) matrix over pairs of examples
PAIR_NODES = (SquaredDistances, Centred)


@dataclass(frozen=True)
class OuterProduct(Node):
    """``⟨post ⊗ pre⟩``: the batch mean of the outer product of two per-example values."""

    post: Node
    pre: Node
    parts = ("post", "pre")

    def __str__(self):
        return f"outer({self.post}, {self.pre})"


@dataclass(frozen=True)
class MatProduct(Node):
    """The matrix product ``left @ right``; either side may be a ``Diag``."""

    left: Node
    right: Node
    parts = ("left", "right")

    def __str__(self):
        return f"{self.left} @ {self.right}"


@dataclass(frozen=True)
class Tril(Node):
    """The lower triangle (diagonal included) of a square matrix."""

    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"tril({self.arg})"


@dataclass(frozen=True)
class Diag(Node):
    """The diagonal matrix of a per-unit vector; it only multiplies a matrix."""

    arg: Node
    parts = ("arg",)

    def __str__(self):
        return f"diag({self.arg})"


def named_constant(name, value):
    """The Constant a spec's named number is: a number, or ``{from, to, shape}``, scheduled over
    the training epochs. A ValueError says what is wrong with a schedule."""
    if not isinstance(value, dict):
        return Constant(float(value), name)
    shape, start, end = value.get("shape", "geometric"), float(value["from"]), float(value["to"])
    if shape == "geometric" and not start * end > 0:
        raise ValueError(f"'{name}' goes geometrically from {start:g} to {end:g}: both must be non-zero with "
                         "the same sign (or write shape: linear)")
    return Constant(start, name, (shape, start, end))


def scheduled_value(schedule, epoch, epochs):
    """A scheduled constant's value while epoch ``epoch`` (from 0) of ``epochs`` trains: its first value
    in the first epoch, its last in the last and after it, geometric or linear between."""
    shape, start, end = schedule
    t = min(epoch / (epochs - 1), 1.0) if epochs > 1 else 1.0 if epoch else 0.0
    return start * (end / start) ** t if shape == "geometric" else start + (end - start) * t


def constant_value(node):
    """The value of an expression made of fixed constants alone, else None (a scheduled constant
    changes: no expression holding one is folded)."""
    if isinstance(node, Constant):
        return None if node.schedule else node.value
    if isinstance(node, Function) and node.function == "neg":
        inner = constant_value(node.arg)
        return None if inner is None else -inner
    if isinstance(node, Binary):
        left, right = constant_value(node.left), constant_value(node.right)
        if left is None or right is None:
            return None
        try:
            return {"+": left + right, "-": left - right, "*": left * right, "/": left / right,
                    "**": left ** right}[node.op]
        except (ZeroDivisionError, OverflowError, ValueError):
            return None
    return None
