"""The operators a plan is made of: plain data over named signals, no numerics.

A *signal* is one (batch, size) buffer: a compartment of a component, or its copy in a
named snapshot. Phase operators run per step; update terms say how a cable's ΔW is formed.

Every operator declares its own data flow (Nengo's operator pattern): a phase operator the
signals it ``reads`` and ``writes`` and whether it is ``pure``, an update term the ``factors`` it
reads. Hoisting, sharing, liveness and the code generator use these declarations and nothing else.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Optional


@dataclass(frozen=True)
class Signal:
    """A compartment of a component, optionally as stored in a snapshot."""

    component: str
    compartment: str
    snapshot: Optional[str] = None

    def __str__(self):
        at = f"@{self.snapshot}" if self.snapshot else ""
        return f"{self.component}.{self.compartment}{at}"

    def signals(self):
        """The signals a factor expression reads: this one."""
        return (self,)

    def map(self, fn):
        """The factor expression with ``fn`` applied to each of its signals."""
        return fn(self)


#: what an update term reads: a signal, or an expression over signals (compiler.expressions)
Factor = object


@dataclass(frozen=True)
class DataSource:
    """Where a clamp takes its value: a data stream ('x' or 'y'), a constant, (``hold``) the value
    the phases before left: the component keeps it, still, through the phase, or (``prior``) draws of
    the prior schedule.sample generates from, which the runtime passes to that routine as its data.x."""

    stream: Optional[str] = None
    constant: float = 0.0
    hold: bool = False
    prior: bool = False

    def __str__(self):
        return ("hold" if self.hold else "prior" if self.prior else f"data.{self.stream}" if self.stream
                else repr(self.constant))


# ---- phase operators -------------------------------------------------------------------

class PhaseOp(ABC):
    """An operator of a phase step. ``pure``: its result depends on what it reads alone, so it may
    be hoisted out of a loop or shared (an operator that draws random numbers is not)."""

    pure = True

    @abstractmethod
    def reads(self) -> frozenset:
        """The signals it reads."""

    @abstractmethod
    def writes(self) -> frozenset:
        """The signals it writes."""

    def products(self, width, shape, batch) -> tuple:
        """The matrix products it performs, as (a shape, b shape, b transposed) in the layout the
        code generator uses; ``width(signal)`` and ``shape(parameter)`` give sizes."""
        return ()


@dataclass(frozen=True)
class Clear(PhaseOp):
    """Set a summing compartment to zero before its cables add into it."""

    target: Signal

    def reads(self):
        return frozenset()

    def writes(self):
        return frozenset({self.target})

    def __str__(self):
        return f"{self.target} = 0   (a sum, cleared)"


@dataclass(frozen=True)
class MatMul(PhaseOp):
    """``out = W·source`` (``Wᵀ·source`` when transposed; ``−‖source − w_i‖²`` for neg_sqdist)."""

    cable: str
    source: Signal
    weight: str             # parameter name holding the matrix
    transpose: bool
    response: str           # 'dot' | 'neg_sqdist'
    out: Signal
    plastic: bool = False   # the weights change every step (a phase's learn): never hoisted or shared

    @property
    def pure(self):
        return not self.plastic

    def reads(self):
        return frozenset({self.source})

    def writes(self):
        return frozenset({self.out})

    def products(self, width, shape, batch):
        if self.response != "dot":   # the distance response is elementwise work, not a BLAS product
            return ()
        return (((batch, width(self.source)), shape(self.weight), not self.transpose),)

    def __str__(self):
        if self.response == "neg_sqdist":
            return f"{self.out} = −‖{self.source} − {self.weight}‖²"
        return f"{self.out} = {self.weight}{'ᵀ' if self.transpose else ''}·{self.source}"


@dataclass(frozen=True)
class Accumulate(PhaseOp):
    """``target += gate ⊙ scale·(value + bias)``; the first cable into a cleared sum writes instead."""

    cable: str
    value: Signal
    target: Signal
    scale: float
    gate: Optional[Signal]
    bias: Optional[str]     # parameter name of the cable's bias

    def reads(self):
        return frozenset({self.value} | ({self.gate} if self.gate else set()))

    def writes(self):
        return frozenset({self.target})

    def __str__(self):
        what = f"({self.value} + {self.bias})" if self.bias else str(self.value)
        if self.scale != 1:
            what = f"{self.scale:g}·{what}"
        if self.gate is not None:
            what += f" ⊙ {self.gate}"
        return f"{self.target} ⇐ {what}   [{self.cable}]"


@dataclass(frozen=True)
class CustomActivation:
    """An activation the spec writes: ``phi`` and ``dphi`` are expressions of the neuron's ``z``."""

    phi: object
    dphi: object

    def __str__(self):
        return str(self.phi)


@dataclass(frozen=True)
class CustomLoss:
    """An error the spec writes: ``e`` is an expression of the error's ``target`` and ``mu``."""

    e: object

    def __str__(self):
        return str(self.e)


@dataclass(frozen=True)
class Activate(PhaseOp):
    """Recompute ``phi`` and ``dphi`` of a neuron from its ``z``."""

    component: str
    activation: object      # a library activation's name, or a CustomActivation
    kwta: int  # 0: no competition; k > 0: phi is the k-winners mask

    def reads(self):
        return frozenset({Signal(self.component, "z")})

    def writes(self):
        return frozenset({Signal(self.component, "phi"), Signal(self.component, "dphi")})

    def __str__(self):
        act = f"kwta(k={self.kwta})" if self.kwta else self.activation
        return f"{self.component}.phi = {act}({self.component}.z)"


@dataclass(frozen=True)
class Sample(PhaseOp):
    """Draw a neuron's ``s`` from its ``phi``: Bernoulli(phi), or phi + noise·N(0, 1). Impure: every
    execution draws afresh (keyed by trial, step and element), so it is never hoisted or shared."""

    component: str
    kind: str               # 'bernoulli' | 'gaussian'
    noise: float = 1.0

    pure = False

    def reads(self):
        return frozenset({Signal(self.component, "phi")})

    def writes(self):
        return frozenset({Signal(self.component, "s")})

    def __str__(self):
        if self.kind == "bernoulli":
            return f"{self.component}.s ~ Bernoulli({self.component}.phi)"
        return f"{self.component}.s = {self.component}.phi + {self.noise:g}·N(0, 1)"


@dataclass(frozen=True)
class ComputeError(PhaseOp):
    """``e = precision·(target − mu)``, ``target − softmax(mu)`` for the softmax loss, or a
    CustomLoss's expression (written over Signal(component, 'target'), read from ``target``).

    ``target`` is the error's own target compartment, or the signal it copies when nothing else
    reads that compartment (the copy is then not made)."""

    component: str
    loss: object            # 'gaussian', 'softmax' or a CustomLoss
    precision: float
    target: Signal

    def reads(self):
        return frozenset({Signal(self.component, "mu"), self.target})

    def writes(self):
        return frozenset({Signal(self.component, "e")})

    def __str__(self):
        if self.loss == "softmax":
            return f"{self.component}.e = {self.target} − softmax({self.component}.mu)"
        if isinstance(self.loss, CustomLoss):
            return f"{self.component}.e = {self.loss}"
        p = f"{self.precision:g}·" if self.precision != 1 else ""
        return f"{self.component}.e = {p}({self.target} − {self.component}.mu)"


@dataclass(frozen=True)
class Integrate(PhaseOp):
    """One Euler step of a leaky state: ``z += rate·(in − leak·z [+ beta·(nudge − z)])``."""

    component: str
    rate: float
    leak: float
    nudge: Optional[DataSource] = None
    beta: float = 0.0

    def reads(self):
        return frozenset({Signal(self.component, "in"), Signal(self.component, "z")})

    def writes(self):
        return frozenset({Signal(self.component, "z")})

    def __str__(self):
        extra = f" − {self.leak:g}·z" if self.leak else ""
        if self.nudge is not None and self.beta:
            extra += f" + {self.beta:g}·({self.nudge} − z)"
        return f"{self.component}.z += {self.rate:g}·({self.component}.in{extra})"


@dataclass(frozen=True)
class Dynamics:
    """A neuron's equations: d(variable)/dt for each variable, in order; an optional spike
    ``threshold`` (a unit spikes on a step where it is > 0) and ``resets`` applied to the units
    that spiked; the variables' values at rest; ``output``: the variable phi copies (None: phi is
    the spike, 0 or 1). Expressions read the neuron's own signals and named constants."""

    variables: tuple
    derivatives: tuple
    threshold: object
    resets: tuple           # (variable, expression)
    initial: tuple          # one number per variable
    output: Optional[str]
    dt: float


@dataclass(frozen=True)
class Evolve(PhaseOp):
    """One Euler step of a neuron's equations, then its spikes and resets, then its phi."""

    component: str
    dynamics: Dynamics

    def reads(self):
        return frozenset(Signal(self.component, v) for v in self.dynamics.variables + ("in",))

    def writes(self):
        return frozenset(Signal(self.component, v) for v in self.dynamics.variables + ("phi",))

    def __str__(self):
        d = self.dynamics
        lines = [f"d{v}/dt = {e}" for v, e in zip(d.variables, d.derivatives)]
        if d.threshold is not None:
            lines.append(f"spike where {d.threshold} > 0" + "".join(f"; {v} ← {e}" for v, e in d.resets))
        return f"{self.component}: " + ", ".join(lines) + f"   (dt {d.dt:g})"


@dataclass(frozen=True)
class Measure(PhaseOp):
    """phi of a measure: an expression of other components' compartments, per example."""

    component: str
    value: object   # an expression (compiler.expressions) over signals

    def reads(self):
        return frozenset(self.value.signals())

    def writes(self):
        return frozenset({Signal(self.component, "phi")})

    def __str__(self):
        return f"{self.component}.phi = {self.value}"


@dataclass(frozen=True)
class Rest(PhaseOp):
    """Set a neuron's variables to their values at rest, and its phi to match."""

    component: str
    dynamics: Dynamics

    def reads(self):
        return frozenset()

    def writes(self):
        return frozenset(Signal(self.component, v) for v in self.dynamics.variables + ("phi",))

    def __str__(self):
        values = ", ".join(f"{v} = {x:g}" for v, x in zip(self.dynamics.variables, self.dynamics.initial))
        return f"{self.component}: {values}   (at rest)"


@dataclass(frozen=True)
class Clamp(PhaseOp):
    """Hold a register at a value from data (or a constant)."""

    component: str
    source: DataSource

    def reads(self):
        return frozenset()

    def writes(self):
        return frozenset({Signal(self.component, "z")})

    def __str__(self):
        return f"{self.component}.z = {self.source}   (clamp)"


@dataclass(frozen=True)
class Assign(PhaseOp):
    """Set a register's ``z`` to a signal (feed-forward initialisation)."""

    component: str
    source: Signal

    def reads(self):
        return frozenset({self.source})

    def writes(self):
        return frozenset({Signal(self.component, "z")})

    def __str__(self):
        return f"{self.component}.z = {self.source}   (feed-forward init)"


@dataclass(frozen=True)
class Zero(PhaseOp):
    """Reset a register's ``z`` to zero."""

    component: str

    def reads(self):
        return frozenset()

    def writes(self):
        return frozenset({Signal(self.component, "z")})

    def __str__(self):
        return f"{self.component}.z = 0"


@dataclass(frozen=True)
class Store(PhaseOp):
    """Copy signals into a named snapshot."""

    snapshot: str
    signals: tuple

    def reads(self):
        return frozenset(self.signals)

    def writes(self):
        return frozenset(Signal(s.component, s.compartment, self.snapshot) for s in self.signals)

    def __str__(self):
        return f"snapshot '{self.snapshot}' ← {', '.join(map(str, self.signals))}"


# ---- update terms ----------------------------------------------------------------------

class Term(ABC):
    """One term of a cable's ΔW."""

    @abstractmethod
    def factors(self) -> tuple:
        """The factor expressions (signals and their combinations) it reads."""

    @abstractmethod
    def with_factors(self, fn) -> "Term":
        """The same term with ``fn`` applied to each of its factor expressions."""

    def products(self, rows, cols, batch) -> tuple:
        """The matrix products it performs for a rows × cols ΔW (see :meth:`PhaseOp.products`)."""
        return ()


@dataclass(frozen=True)
class Outer(Term):
    """``ΔW += coef · mean_batch(post ⊗ pre)``; a bias gets ``coef · mean_batch(post)``."""

    post: Factor
    pre: Factor
    coef: float = 1.0

    def factors(self):
        return (self.post, self.pre)

    def with_factors(self, fn):
        return replace(self, post=fn(self.post), pre=fn(self.pre))

    def products(self, rows, cols, batch):
        return (((rows, batch), (batch, cols), False),)

    def __str__(self):
        return f"{self.coef:+g}·⟨{self.post} ⊗ {self.pre}⟩"


@dataclass(frozen=True)
class Decay(Term):
    """``ΔW −= coef · W``."""

    coef: float

    def factors(self):
        return ()

    def with_factors(self, fn):
        return self

    def __str__(self):
        return f"−{self.coef:g}·W"


@dataclass(frozen=True)
class OjaDecay(Term):
    """``ΔW −= coef · mean_batch(post ⊗ post) · W`` (Oja's subspace normalisation); with ``lower``
    only the lower triangle of ⟨post ⊗ post⟩ counts (Sanger's rule: unit i is normalised
    against units 1..i alone, so the units find the principal components in order)."""

    post: Factor
    coef: float = 1.0
    lower: bool = False

    def factors(self):
        return (self.post,)

    def with_factors(self, fn):
        return replace(self, post=fn(self.post))

    def products(self, rows, cols, batch):
        return (((rows, batch), (batch, rows), False), ((rows, rows), (rows, cols), False))

    def __str__(self):
        square = f"⟨{self.post} ⊗ {self.post}⟩"
        return f"−{self.coef:g}·{'LT' + square if self.lower else square}·W"


@dataclass(frozen=True)
class ActivityDecay(Term):
    """``ΔW −= coef · diag(mean_batch(factor)) · W`` for ``side='post'`` (instar: each winner's row
    moves toward its input), ``ΔW −= coef · W · diag(mean_batch(factor))`` for ``side='pre'``
    (outstar: each active source's column moves toward the target)."""

    factor: Factor
    side: str               # 'post' (scales rows) | 'pre' (scales columns)
    coef: float = 1.0

    def factors(self):
        return (self.factor,)

    def with_factors(self, fn):
        return replace(self, factor=fn(self.factor))

    def __str__(self):
        diag = f"diag⟨{self.factor}⟩"
        return f"−{self.coef:g}·{diag}·W" if self.side == "post" else f"−{self.coef:g}·W·{diag}"


@dataclass(frozen=True)
class Expression(Term):
    """``ΔW += expression``: a (rows × cols) expression over W, outer products and signals that
    no other term has the form of (see compiler.updates). ``products``: its matrix products as
    ('outer', post width, pre width) or ('matmul', rows, inner, cols)."""

    expression: object
    products_: tuple = ()

    def factors(self):
        return (self.expression,)

    def with_factors(self, fn):
        return replace(self, expression=fn(self.expression))

    def products(self, rows, cols, batch):
        out = []
        for kind, *sizes in self.products_:
            if kind == "outer":
                post, pre = sizes
                out.append(((post, batch), (batch, pre), False))
            else:
                left, inner, right = sizes
                out.append(((left, inner), (inner, right), False))
        return tuple(out)

    def __str__(self):
        return f"+ {self.expression}"


@dataclass(frozen=True)
class Update:
    """How one parameter's ΔW (and its bias's Δb) is formed from the circuit's signals."""

    cable: str
    weight: str
    bias: Optional[str]
    rule: str
    terms: tuple
    w_max: Optional[float] = None  # soft bound: Hebbian terms are scaled by (w_max − W)
    db: Factor = None              # the bias's Δb as a per-unit expression; None: from the outer terms

    def factors(self):
        """Every factor expression the update reads."""
        return tuple(f for t in self.terms for f in t.factors()) + ((self.db,) if self.db is not None else ())

    def __str__(self):
        bound = f" ⊙ ({self.w_max:g} − W)" if self.w_max is not None else ""
        return f"update {self.weight} [{self.rule}]: ΔW = {' '.join(map(str, self.terms))}{bound}"
