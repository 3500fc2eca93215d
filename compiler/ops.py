"""The operators a plan is made of: plain data over named signals, no numerics.

A *signal* is one (batch, size) buffer: a compartment of a component, or its copy in a
named snapshot. Phase operators run per step; update terms say how a cable's ΔW is formed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union


@dataclass(frozen=True)
class Signal:
    """A compartment of a component, optionally as stored in a snapshot."""

    component: str
    compartment: str
    snapshot: Optional[str] = None

    def __str__(self):
        at = f"@{self.snapshot}" if self.snapshot else ""
        return f"{self.component}.{self.compartment}{at}"


@dataclass(frozen=True)
class Combine:
    """An elementwise combination of two factor expressions: ``op`` is 'sub' or 'mul'."""

    op: str
    left: "Factor"
    right: "Factor"

    def __str__(self):
        return f"({self.left} {'-' if self.op == 'sub' else '*'} {self.right})"


Factor = Union[Signal, Combine]


@dataclass(frozen=True)
class DataSource:
    """Where a clamp takes its value: a data stream ('x' or 'y') or a constant."""

    stream: Optional[str] = None
    constant: float = 0.0

    def __str__(self):
        return f"data.{self.stream}" if self.stream else repr(self.constant)


# ---- phase operators -------------------------------------------------------------------

@dataclass(frozen=True)
class Clear:
    """Set a summing compartment to zero before its cables add into it."""

    target: Signal

    def __str__(self):
        return f"{self.target} = 0   (a sum, cleared)"


@dataclass(frozen=True)
class MatMul:
    """``out = W·source`` (``Wᵀ·source`` when transposed; ``−‖source − w_i‖²`` for neg_sqdist)."""

    cable: str
    source: Signal
    weight: str             # parameter name holding the matrix
    transpose: bool
    response: str           # 'dot' | 'neg_sqdist'
    out: Signal

    def __str__(self):
        if self.response == "neg_sqdist":
            return f"{self.out} = −‖{self.source} − {self.weight}‖²"
        return f"{self.out} = {self.weight}{'ᵀ' if self.transpose else ''}·{self.source}"


@dataclass(frozen=True)
class Accumulate:
    """``target += gate ⊙ scale·(value + bias)``; the first cable into a cleared sum writes instead."""

    cable: str
    value: Signal
    target: Signal
    scale: float
    gate: Optional[Signal]
    bias: Optional[str]     # parameter name of the cable's bias

    def __str__(self):
        what = f"({self.value} + {self.bias})" if self.bias else str(self.value)
        if self.scale != 1:
            what = f"{self.scale:g}·{what}"
        if self.gate is not None:
            what += f" ⊙ {self.gate}"
        return f"{self.target} ⇐ {what}   [{self.cable}]"


@dataclass(frozen=True)
class Activate:
    """Recompute ``phi`` and ``dphi`` of a neuron from its ``z``."""

    component: str
    activation: str
    kwta: int  # 0: no competition; k > 0: phi is the k-winners mask

    def __str__(self):
        act = f"kwta(k={self.kwta})" if self.kwta else self.activation
        return f"{self.component}.phi = {act}({self.component}.z)"


@dataclass(frozen=True)
class ComputeError:
    """``e = precision·(target − mu)``, or ``target − softmax(mu)`` for the softmax loss.

    ``target`` is the error's own target compartment, or the signal it copies when nothing else
    reads that compartment (the copy is then not made)."""

    component: str
    loss: str
    precision: float
    target: Signal

    def __str__(self):
        if self.loss == "softmax":
            return f"{self.component}.e = {self.target} − softmax({self.component}.mu)"
        p = f"{self.precision:g}·" if self.precision != 1 else ""
        return f"{self.component}.e = {p}({self.target} − {self.component}.mu)"


@dataclass(frozen=True)
class Integrate:
    """One Euler step of a leaky state: ``z += rate·(in − leak·z [+ beta·(nudge − z)])``."""

    component: str
    rate: float
    leak: float
    nudge: Optional[DataSource] = None
    beta: float = 0.0

    def __str__(self):
        extra = f" − {self.leak:g}·z" if self.leak else ""
        if self.nudge is not None and self.beta:
            extra += f" + {self.beta:g}·({self.nudge} − z)"
        return f"{self.component}.z += {self.rate:g}·({self.component}.in{extra})"


@dataclass(frozen=True)
class Clamp:
    """Hold a register at a value from data (or a constant)."""

    component: str
    source: DataSource

    def __str__(self):
        return f"{self.component}.z = {self.source}   (clamp)"


@dataclass(frozen=True)
class Assign:
    """Set a register's ``z`` to a signal (feed-forward initialisation)."""

    component: str
    source: Signal

    def __str__(self):
        return f"{self.component}.z = {self.source}   (feed-forward init)"


@dataclass(frozen=True)
class Zero:
    """Reset a register's ``z`` to zero."""

    component: str

    def __str__(self):
        return f"{self.component}.z = 0"


@dataclass(frozen=True)
class Store:
    """Copy signals into a named snapshot."""

    snapshot: str
    signals: tuple

    def __str__(self):
        return f"snapshot '{self.snapshot}' ← {', '.join(map(str, self.signals))}"


# ---- update terms ----------------------------------------------------------------------

@dataclass(frozen=True)
class Outer:
    """``ΔW += coef · mean_batch(post ⊗ pre)``; a bias gets ``coef · mean_batch(post)``."""

    post: Factor
    pre: Factor
    coef: float = 1.0

    def __str__(self):
        return f"{self.coef:+g}·⟨{self.post} ⊗ {self.pre}⟩"


@dataclass(frozen=True)
class Decay:
    """``ΔW −= coef · W``."""

    coef: float

    def __str__(self):
        return f"−{self.coef:g}·W"


@dataclass(frozen=True)
class OjaDecay:
    """``ΔW −= coef · mean_batch(post ⊗ post) · W`` (Oja's subspace normalisation); with ``lower``
    only the lower triangle of ⟨post ⊗ post⟩ counts (Sanger's rule: unit i is normalised
    against units 1..i alone, so the units find the principal components in order)."""

    post: Factor
    coef: float = 1.0
    lower: bool = False

    def __str__(self):
        square = f"⟨{self.post} ⊗ {self.post}⟩"
        return f"−{self.coef:g}·{'LT' + square if self.lower else square}·W"


@dataclass(frozen=True)
class ActivityDecay:
    """``ΔW −= coef · diag(mean_batch(factor)) · W`` for ``side='post'`` (instar: each winner's row
    moves toward its input), ``ΔW −= coef · W · diag(mean_batch(factor))`` for ``side='pre'``
    (outstar: each active source's column moves toward the target)."""

    factor: Factor
    side: str               # 'post' (scales rows) | 'pre' (scales columns)
    coef: float = 1.0

    def __str__(self):
        diag = f"diag⟨{self.factor}⟩"
        return f"−{self.coef:g}·{diag}·W" if self.side == "post" else f"−{self.coef:g}·W·{diag}"


@dataclass(frozen=True)
class Update:
    """How one parameter's ΔW (and its bias's Δb) is formed from the circuit's signals."""

    cable: str
    weight: str
    bias: Optional[str]
    rule: str
    terms: tuple
    w_max: Optional[float] = None  # soft bound: Hebbian terms are scaled by (w_max − W)

    def __str__(self):
        bound = f" ⊙ ({self.w_max:g} − W)" if self.w_max is not None else ""
        return f"update {self.weight} [{self.rule}]: ΔW = {' '.join(map(str, self.terms))}{bound}"
