"""Code generation: one Python function per plan segment (all its phases, their settling loops
and the ΔW of its updates).

Elementwise work is written as explicit loops over (row, column), consecutive loops of the same
shape fused into one nest, matrix products as ``np.dot`` into preallocated buffers. numba compiles
such code quickly and runs it without allocating; the interpreter runs the very same text as the
reference executor.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import os
from dataclasses import dataclass

from ..compiler.expressions import (PAIR_NODES, Binary, Centred, Constant, Diag, Function, Mean, MatProduct,
                                   OuterProduct, PairsProduct, PairsRowsum, Reduce, SquaredDistances, Total, Tril,
                                   UnitConstant, Weight)
from ..compiler.ops import (Accumulate, Activate, ActivityDecay, Assign, Clamp, Clear, ComputeError, Decay, Evolve,
                            CustomLoss, Expression, Integrate, MatMul, Measure, OjaDecay, Outer, Rest, Sample, Signal,
                            Store, Zero)
from . import library, loops
from .kernels import JIT_OPTIONS


@dataclass(frozen=True)
class Kernel:
    """A generated function: its name and what each positional argument is.

    Argument kinds: ('data', 'x'|'y'), ('steps', None), ('taken', None), ('consts', None), ('draw', None), ('stream', name),
    ('signal', Signal),
    ('param', name), ('grad', name), ('partial', name) (a phase's own ΔW of a parameter), ('temp', (name, rows, cols))
    with rows 0 meaning the batch size.
    ``consts`` holds the values of the named scalars (rates, scales, coefficients) in order; they
    are passed in the plan's precision; ``schedules`` pairs the index of each scheduled one with its
    schedule (the executor sets its value epoch by epoch). ``draw`` is the int64 pair (seed, trial) that keys the random
    numbers of the trial."""

    name: str
    args: tuple
    routine: str
    segment: int
    consts: tuple = ()
    schedules: tuple = ()


def signal_name(s: Signal) -> str:
    base = f"s_{s.component}__{s.compartment}"
    return f"snap_{s.snapshot}__{base}" if s.snapshot else base


def param_name(name: str) -> str:
    return "p_" + name.replace(".", "__")


def grad_name(name: str) -> str:
    return "g_" + name.replace(".", "__")


def partial_name(name: str) -> str:
    return "d_" + name.replace(".", "__")


@dataclass(frozen=True)
class UpdateTarget:
    """What a term emitter adds into: the ΔW buffer ``g`` of weight ``W`` (rows × cols) of a cable."""

    cable: str
    g: str
    W: str
    rows: int
    cols: int
    what: str


@dataclass
class _Loop:
    """Elementwise statements of one line: ``rows`` is 'B' (batch) or a number of rows; cols a number."""

    rows: object
    cols: int
    body: list      # syntax trees; r and c are the row and column index
    target: str
    group: str = ""  # statements fuse only with neighbours of the same shape and group

    @property
    def key(self):
        return (self.rows, self.cols, self.group)


class SegmentWriter:
    """Writes one segment function; ``checks`` adds a finiteness test after every write."""

    def __init__(self, plan, routine, index, segment, checks):
        self.plan, self.routine, self.index, self.segment, self.checks = plan, routine, index, segment, checks
        self.where = (0, "setup")   # (phase index, part of the phase) being written: it keys the draws
        self.tolerant = False       # writing the steps of a phase that stops once settled
        self.changes = []           # (buffer, width) of each state's change in such a step
        self.lines, self.pending, self.indent = [], [], 1
        self.helpers, self.signals, self.params, self.grads, self.temps = set(), {}, set(), set(), {}
        self.partials = set()   # parameters a phase forms a ΔW of, to add to the trial's
        self.streams = set()   # derived data streams the segment clamps
        self.consts = {}   # name -> value, in argument order
        self.schedules = {}   # index in consts -> the schedule of a scheduled constant
        self.blocks = {}   # (kind, owner, values) -> where a block of per-unit numbers starts in consts
        self.codes = []    # check code - 1 -> (what, phase)
        self.phase = ""
        self.owner, self.held = "", {}   # the cable whose update is being written; its computed factors

    # ---- names --------------------------------------------------------------------------
    def sig(self, s):
        name = signal_name(s)
        self.signals[name] = s
        return name

    def data(self, stream):
        """The argument holding a data stream: data.x and data.y, or a derived stream."""
        if stream in ("x", "y"):
            return f"data_{stream}"
        self.streams.add(stream)
        return f"stream_{stream}"

    def par(self, name):
        self.params.add(name)
        return param_name(name)

    def const(self, kind, owner, value, schedule=()):
        """A named scalar argument: values are data, so changing one reuses the compiled kernel (and a
        scheduled one can change between epochs)."""
        base = f"k_{kind}__{owner.replace('.', '__')}"
        name, n = base, 1
        while name in self.consts:
            n += 1
            name = f"{base}_{n}"
        self.consts[name] = float(value)
        if schedule:
            self.schedules[len(self.consts) - 1] = schedule
        return name

    def unit_consts(self, kind, owner, values):
        """Per-unit numbers as a block of the constants argument (its entries are never unpacked into
        names: "[" marks them); returns the element at unit c."""
        block = (kind, owner, tuple(values))
        if block not in self.blocks:
            self.blocks[block] = len(self.consts)
            base = f"k_{kind}__{owner.replace('.', '__')}_block{len(self.blocks)}"
            for i, value in enumerate(values):
                self.consts[f"{base}[{i}]"] = float(value)
        return f"consts[{self.blocks[block]} + c]"

    def temp(self, name, rows, cols):
        self.temps[name] = (name, rows, cols)
        return name

    def width(self, s):
        return self.plan.signals[Signal(s.component, s.compartment)]

    # ---- emission -----------------------------------------------------------------------
    def raw(self, line):
        self.flush()
        self.helpers |= loops.text_names(line) & library.HELPERS.keys()
        self.lines.append("    " * self.indent + line)

    def loop(self, rows, cols, line, target, what, group=""):
        self.pending.append(_Loop(rows, cols, self.statements(line), target, group))
        if self.checks:
            self.check(target, what)

    def statements(self, text):
        """The syntax trees of elementwise statements, in the plan's precision."""
        body = loops.statement(text)
        if self.plan.dtype == "float32":
            body = [loops.float32_literals(s) for s in body]
        for stmt in body:
            self.helpers |= loops.calls(stmt) & library.HELPERS.keys()
        return body

    def check(self, target, what):
        """Return a check code when ``target`` holds a value that is not finite."""
        self.flush()
        self.codes.append((what, self.phase))
        self.raw(f"if not np.all(np.isfinite({target})):")
        self.raw(f"    return {len(self.codes)}, step")

    def flush(self):
        """Write pending elementwise statements, fusing neighbours of the same shape into one loop nest."""
        i = 0
        while i < len(self.pending):
            j = i
            while j < len(self.pending) and self.pending[j].key == self.pending[i].key:
                j += 1
            rows = "batch" if self.pending[i].rows == "B" else str(self.pending[i].rows)
            body = loops.through_locals([stmt for p in self.pending[i:j] for stmt in p.body])
            self.lines.append(loops.LoopNest(rows, self.pending[i].cols, body, self.indent))
            i = j
        self.pending = []

    def at(self, f):
        """The element [r, c] of a per-example factor expression ([0, c] of a per-unit one)."""
        return self.element(f)

    def element(self, node):
        """The element [r, c] of an expression (a ΔW matrix's weights are the update's owner's). A value of
        one unit is read at column 0 whatever c is: it broadcasts over the units of the other side."""
        if isinstance(node, Signal):
            return f"{self.sig(node)}[r, {_column(self.width(node))}]"
        if isinstance(node, Constant):
            return self.const(node.name or "c", self.owner, node.value, node.schedule)
        if isinstance(node, UnitConstant):
            return self.unit_consts(node.name or "c", self.owner, node.values)
        if isinstance(node, Weight):
            return f"{self.par(node.cable or self.owner)}[r, c]"
        if isinstance(node, Total):
            return f"{self.total(node)}[r, 0]"
        if isinstance(node, Binary):
            left = self.element(node.left)
            fixed = isinstance(node.right, Constant) and not node.right.schedule
            k = node.right.value if node.op == "**" and fixed else None
            if k is not None and k == int(k) and 1 <= abs(k) <= 4:   # a small whole power: multiplications, not pow()
                return f"({left} ** {int(k)})"
            return f"({left} {node.op} {self.element(node.right)})"
        if isinstance(node, Function):
            template = library.function(node.function, self.plan.dtype)
            return f"({template.format(x=self.element(node.arg))})"
        if isinstance(node, (Mean, Reduce)):
            return f"{self.units(node)}[0, {_column(self.node_width(node))}]"
        if isinstance(node, PAIR_NODES):
            return f"{self.pairs(node)}[r, c]"
        if isinstance(node, PairsProduct):
            return f"{self.pairs_product(node)}[r, {_column(self.node_width(node))}]"
        if isinstance(node, PairsRowsum):
            return f"{self.pairs_rowsum(node)}[r, 0]"
        if isinstance(node, MatProduct) and isinstance(node.left, Diag):
            return f"({self.units(node.left.arg)}[0, r] * {self.element(node.right)})"
        if isinstance(node, MatProduct) and isinstance(node.right, Diag):
            return f"({self.element(node.left)} * {self.units(node.right.arg)}[0, c])"
        return f"{self.matrix(node)}[r, c]"

    def expressions_of(self, owner):
        """Start on the expressions of ``owner`` (a component or a cable: it names their constants and
        buffers). Sums, means and products are computed afresh: one held from an earlier operator holds
        the values of then."""
        self.owner, self.held = owner, {}

    def units(self, node):
        """A (1 × n) buffer holding a per-unit expression (a batch mean, a matrix's row or column sums,
        or arithmetic on them)."""
        if node in self.held:
            return self.held[node]
        width = self.node_width(node)
        buf = self.held[node] = self.temp(f"t_{self.owner}__units{len(self.held)}", 1, width)
        if isinstance(node, Mean):
            self.raw(f"{buf}[0, :] = 0.0")
            # a loop of its own: it sums over the batch, so what reads the mean must wait for it
            self.loop("B", width, f"{buf}[0, c] += {self.at(node.arg)} * inv_batch", buf, buf,
                      group=f"mean {buf}")
        elif isinstance(node, Reduce):
            matrix = self.matrix(node.arg)
            rows, cols = self.matrix_shape(node.arg)
            self.raw(f"{buf}[0, :] = 0.0")
            index = "r" if node.axis == "rows" else "c"
            self.loop(rows, cols, f"{buf}[0, {index}] += {matrix}[r, c]", buf, buf, group=f"sum {buf}")
        else:
            self.loop(1, width, f"{buf}[0, c] = {self.element(node)}", buf, buf, group=f"units {buf}")
        return buf

    def pairs(self, node):
        """A (batch × batch) buffer holding an expression over pairs of examples (a kernel matrix)."""
        if node in self.held:
            return self.held[node]
        buf = self.held[node] = self.temp(f"t_{self.owner}__pairs{len(self.held)}", 0, 0)
        if isinstance(node, SquaredDistances):
            self.raw(f"neg_sqdist({self.factor(node.left)}, {self.factor(node.right)}, {buf})")
            self.loop("B", "batch", f"{buf}[r, c] = -{buf}[r, c]", buf, buf, group=f"pairs {buf}")
        elif isinstance(node, Centred):
            self.raw(f"centre_pairs({self.pairs(node.arg)}, {buf})")
        else:   # arithmetic and functions of pair matrices and numbers
            self.loop("B", "batch", f"{buf}[r, c] = {self.element(node)}", buf, buf, group=f"pairs {buf}")
        return buf

    def pairs_product(self, node):
        """A (batch × n) buffer holding P @ a: each example's sum over the batch of P[r, j] a[j]."""
        if node not in self.held:
            buf = self.held[node] = self.temp(f"t_{self.owner}__examples{len(self.held)}", 0, self.node_width(node))
            self.raw(f"matmul({self.pairs(node.pairs)}, {self.factor(node.arg)}, {buf})")
        return self.held[node]

    def pairs_rowsum(self, node):
        """A (batch × 1) buffer holding each example's row sum of a matrix over pairs."""
        if node not in self.held:
            buf = self.held[node] = self.temp(f"t_{self.owner}__total{len(self.held)}", 0, 1)
            self.raw(f"{buf}[:, 0] = 0.0")
            self.loop("B", "batch", f"{buf}[r, 0] += {self.pairs(node.arg)}[r, c]", buf, buf, group=f"total {buf}")
        return self.held[node]

    def total(self, node):
        """A (batch × 1) buffer holding the sum over units of a per-example value."""
        if node not in self.held:
            buf = self.held[node] = self.temp(f"t_{self.owner}__total{len(self.held)}", 0, 1)
            self.raw(f"{buf}[:, 0] = 0.0")
            # a loop of its own: what reads the sum must wait for all of its terms
            self.loop("B", self.node_width(node.arg), f"{buf}[r, 0] += {self.at(node.arg)}", buf, buf,
                      group=f"total {buf}")
        return self.held[node]

    def node_width(self, node):
        """The units of a per-example or per-unit expression: a sum over units has one, arithmetic
        has its widest side's (a side of one unit broadcasts)."""
        if isinstance(node, Signal):
            return self.width(node)
        if isinstance(node, UnitConstant):
            return len(node.values)
        if isinstance(node, (Total, PairsRowsum)):
            return 1
        if isinstance(node, PairsProduct):
            return self.node_width(node.arg)
        if isinstance(node, Reduce):
            rows, cols = self.matrix_shape(node.arg)
            return rows if node.axis == "rows" else cols
        return max((self.node_width(child) for child in node.children()), default=0)

    def matrix(self, node):
        """A buffer holding a matrix expression: a cable's weights, or a temp."""
        if isinstance(node, Weight):
            return self.par(node.cable or self.owner)
        if node in self.held:
            return self.held[node]
        rows, cols = self.matrix_shape(node)
        buf = self.held[node] = self.temp(f"t_{self.owner}__matrix{len(self.held)}", rows, cols)
        if isinstance(node, OuterProduct):
            self.raw(f"matmul({self.factor(node.post)}.T, {self.factor(node.pre)}, {buf})")
            self.loop(rows, cols, f"{buf}[r, c] *= inv_batch", buf, buf, group=f"matrix {buf}")
        elif isinstance(node, MatProduct):
            self.raw(f"matmul({self.matrix(node.left)}, {self.matrix(node.right)}, {buf})")
        elif isinstance(node, Tril):
            self.loop(rows, cols, f"{buf}[r, c] = {self.matrix(node.arg)}[r, c]", buf, buf,
                      group=f"matrix {buf}")
            self.raw(f"for r in range({rows}):")
            self.raw(f"    {buf}[r, r + 1:] = 0.0")
        else:
            self.loop(rows, cols, f"{buf}[r, c] = {self.element(node)}", buf, buf, group=f"matrix {buf}")
        return buf

    def matrix_shape(self, node):
        """(rows, cols) of a matrix expression."""
        if isinstance(node, Weight):
            return self.plan.parameters[node.cable or self.owner].shape
        if isinstance(node, OuterProduct):
            return self.node_width(node.post), self.node_width(node.pre)
        if isinstance(node, Diag):
            n = self.node_width(node.arg)
            return n, n
        if isinstance(node, MatProduct):
            return self.matrix_shape(node.left)[0], self.matrix_shape(node.right)[1]
        if isinstance(node, Binary):
            return self.matrix_shape(node.left if _is_matrix(node.left) else node.right)
        return self.matrix_shape(node.arg)

    def factor(self, f):
        """A (batch × n) buffer holding a per-example value (a factor of an update, what a pair term reads):
        the signal itself, or a temp."""
        if isinstance(f, Signal):
            return self.sig(f)
        if f not in self.held:
            width = self.node_width(f)
            buf = self.held[f] = self.temp(f"t_{self.owner}__factor{len(self.held)}", 0, width)
            self.loop("B", width, f"{buf}[r, c] = {self.at(f)}", buf, buf)
        return self.held[f]

    # ---- phase operators ----------------------------------------------------------------
    def op(self, op, cleared):
        """Emit one phase operator (products and cables are emitted by :meth:`ops`)."""
        if isinstance(op, Clear):
            cleared.add(op.target)   # the first cable into it writes instead of adding
            return
        self.zero_unfed(cleared)
        getattr(self, EMITTERS[type(op)])(op)

    def assign_elementwise(self, target, line, what, group=""):
        self.loop("B", self.width(target), line, self.sig(target), what, group)

    def emit_activate(self, op):
        z, phi, dphi = (Signal(op.component, c) for c in ("z", "phi", "dphi"))
        what = f"component '{op.component}'"
        if op.kwta:
            self.raw(f"kwta_mask({self.sig(z)}, {op.kwta}, {self.sig(phi)})")
            self.assign_elementwise(dphi, f"{self.sig(dphi)}[r, c] = 0.0", what)
            return
        zs, ps = f"{self.sig(z)}[r, c]", f"{self.sig(phi)}[r, c]"
        if isinstance(op.activation, str):
            phi_template, dphi_template = library.activation(op.activation, self.plan.dtype)
            phi_expr, dphi_expr = phi_template.format(z=zs), dphi_template.format(z=zs, phi=ps)
        else:   # written in the spec: its expressions of z, constants passed as kernel arguments
            self.expressions_of(op.component)
            phi_expr, dphi_expr = self.element(op.activation.phi), self.element(op.activation.dphi)
        called = loops.calls(loops.expression(phi_expr)) | loops.calls(loops.expression(dphi_expr))
        # A loop of its own keeps the cheap statements around a scalar-only function vectorised.
        group = f"activate {op.component}" if called & library.SCALAR_ONLY else ""
        self.assign_elementwise(phi, f"{ps} = {phi_expr}", what, group)
        self.assign_elementwise(dphi, f"{self.sig(dphi)}[r, c] = {dphi_expr}", what, group)

    def emit_sample(self, op):
        phi, s = Signal(op.component, "phi"), Signal(op.component, "s")
        key = f"draw[0], draw[1], {self.stream(op.component)}, step, r * {self.width(s)} + c"
        noise = self.const("noise", op.component, op.noise) if op.kind == "gaussian" else ""
        value = library.SAMPLES[op.kind].format(phi=f"{self.sig(phi)}[r, c]", noise=noise, key=key)
        # a loop of its own: the generator's integer arithmetic would keep its neighbours from vectorising
        self.assign_elementwise(s, f"{self.sig(s)}[r, c] = {value}", f"component '{op.component}'",
                                group=f"sample {op.component}")

    def stream(self, component):
        return draw_stream(self.plan, self.routine, self.index, *self.where, component)

    def emit_error(self, op):
        e_signal = Signal(op.component, "e")
        e, mu, t = self.sig(e_signal), self.sig(Signal(op.component, "mu")), self.sig(op.target)
        what = f"component '{op.component}'"
        if isinstance(op.loss, CustomLoss):   # its target placeholder is the signal the error copies
            self.expressions_of(op.component)
            placeholder = Signal(op.component, "target")
            e_expr = self.element(op.loss.e.map(lambda s: op.target if s == placeholder else s))
            self.assign_elementwise(e_signal, f"{e}[r, c] = {e_expr}", what)
        elif op.loss == "softmax":
            self.raw(f"softmax_rows({mu}, {e})")
            self.assign_elementwise(e_signal, f"{e}[r, c] = {t}[r, c] - {e}[r, c]", what)
        else:
            scale = "" if op.precision == 1.0 else f"{self.const('precision', op.component, op.precision)} * "
            self.assign_elementwise(e_signal, f"{e}[r, c] = {scale}({t}[r, c] - {mu}[r, c])", what)

    def emit_integrate(self, op):
        z_signal = Signal(op.component, "z")
        z, drive = self.sig(z_signal), self.sig(Signal(op.component, "in"))
        expr = f"{drive}[r, c]"
        if op.leak:
            expr += f" - {self.const('leak', op.component, op.leak)} * {z}[r, c]"
        if op.nudge is not None and op.beta:
            target = (f"{self.data(op.nudge.stream)}[r, c]" if op.nudge.stream
                      else self.const("nudge", op.component, op.nudge.constant))
            expr += f" + {self.const('beta', op.component, op.beta)} * ({target} - {z}[r, c])"
        rate = self.const("rate", op.component, op.rate)
        if self.tolerant:   # each state's change this step, kept for the stopping test after the loop
            width = self.width(z_signal)
            delta = self.temp(f"t_{op.component}__change", 0, width)
            self.loop("B", width, f"{delta}[r, c] = {rate} * ({expr})", delta, f"component '{op.component}'")
            self.changes.append((delta, width))
        self.assign_elementwise(z_signal, f"{z}[r, c] += {rate} * ({expr})", f"component '{op.component}'")

    def emit_evolve(self, op):
        """A neuron's step as one loop over its units, each variable a local: Euler step, spike, reset."""
        d, n, what = op.dynamics, self.width(Signal(op.component, "phi")), f"component '{op.component}'"
        self.expressions_of(op.component)
        stored = {v: self.sig(Signal(op.component, v)) for v in d.variables}
        local = {stored[v]: f"u_{i}" for i, v in enumerate(d.variables)}

        def value(node):   # the variables read from their locals, whatever column a one-unit one is read at
            return ast.unparse(loops.with_locals(loops.expression(self.element(node)), local, any_index=True))

        dt = self.const("dt", op.component, d.dt)
        derivatives = [value(e) for e in d.derivatives]
        threshold = value(d.threshold) if d.threshold is not None else None
        resets = [(list(d.variables).index(v), value(e)) for v, e in d.resets]
        body = [f"{name} = {array}[r, c]" for array, name in local.items()]   # read once, kept in locals
        body += [f"d_{i} = {e}" for i, e in enumerate(derivatives)]
        body += [f"u_{i} = u_{i} + {dt} * d_{i}" for i in range(len(derivatives))]
        phi = f"u_{d.variables.index(d.output)}" if d.output else "spiked"
        if threshold is not None:
            body.append(f"spiked = 1.0 if {threshold} > 0.0 else 0.0")
            if resets:   # every reset reads the values before any is applied
                body.append("if spiked > 0.0:")
                body += [f"    n_{i} = {e}" for i, e in resets] + [f"    u_{i} = n_{i}" for i, _ in resets]
        body += [f"{array}[r, c] = u_{i}" for i, array in enumerate(stored.values())]
        body.append(f"{self.sig(Signal(op.component, 'phi'))}[r, c] = {phi}")
        self.flush()
        self.lines.append(loops.LoopNest("batch", n, self.statements("\n".join(body)), self.indent))
        if self.checks:
            for name in stored.values():
                self.check(name, what)

    def emit_measure(self, op):
        phi = Signal(op.component, "phi")
        self.expressions_of(op.component)
        self.assign_elementwise(phi, f"{self.sig(phi)}[r, c] = {self.element(op.value)}", f"component '{op.component}'")

    def emit_rest(self, op):
        d = op.dynamics
        for v, x in zip(d.variables, d.initial):
            value = self.const("initial", f"{op.component}.{v}", x) if x else "0.0"
            self.assign_elementwise(Signal(op.component, v), f"{self.sig(Signal(op.component, v))}[r, c] = {value}",
                                    f"component '{op.component}'")
        phi = Signal(op.component, "phi")
        rest = f"{self.sig(Signal(op.component, d.output))}[r, c]" if d.output else "0.0"
        self.assign_elementwise(phi, f"{self.sig(phi)}[r, c] = {rest}", f"component '{op.component}'")

    def emit_clamp(self, op):
        z = Signal(op.component, "z")
        value = (f"{self.data(op.source.stream)}[r, c]" if op.source.stream
                 else self.const("clamp", op.component, op.source.constant))
        self.assign_elementwise(z, f"{self.sig(z)}[r, c] = {value}", f"data clamped to '{op.component}'")

    def emit_assign(self, op):
        z = Signal(op.component, "z")
        self.assign_elementwise(z, f"{self.sig(z)}[r, c] = {self.sig(op.source)}[r, c]", f"component '{op.component}'")

    def emit_zero(self, op):
        z = Signal(op.component, "z")
        self.assign_elementwise(z, f"{self.sig(z)}[r, c] = 0.0", f"component '{op.component}'")

    def emit_store(self, op):
        for s in op.signals:
            snap = Signal(s.component, s.compartment, op.snapshot)
            self.assign_elementwise(snap, f"{self.sig(snap)}[r, c] = {self.sig(s)}[r, c]", f"snapshot '{op.snapshot}'")

    def matmul(self, op, into=None):
        """Emit a cable's matrix product into its product buffer (or straight into ``into``)."""
        out = into or self.sig(op.out)
        weight, src = self.par(op.weight), self.sig(op.source)
        if op.response == "neg_sqdist":
            self.raw(f"neg_sqdist({src}, {weight}, {out})  # {op.cable}")
        else:
            self.raw(f"matmul({src}, {weight if op.transpose else weight + '.T'}, {out})  # {op.cable}")
        if self.checks:
            self.check(out, f"cable '{op.cable}'")

    def accumulate(self, op, cleared, written=False):
        """``target (+)= gate ⊙ scale·(value + bias)``; ``written``: the value is already in target."""
        target = self.sig(op.target)
        first = op.target in cleared
        cleared.discard(op.target)
        n, what = self.width(op.target), f"cable '{op.cable}'"
        if written:
            if op.bias is not None:
                self.loop("B", n, f"{target}[r, c] += {self.par(op.bias)}[c]", target, what)
            return
        value = f"{self.sig(op.value)}[r, c]"
        if op.bias is not None:  # the bias is part of the transform: scaled and gated with it
            value = f"({value} + {self.par(op.bias)}[c])"
        if op.scale == -1.0:  # 1 and -1 are structural (an error's feedback is −e); other scales are data
            value = f"-{value}"
        elif op.scale != 1.0:
            value = f"{self.const('scale', op.cable, op.scale)} * {value}"
        if op.gate is not None:
            value = f"{value} * {self.sig(op.gate)}[r, c]"
        self.loop("B", n, f"{target}[r, c] {'=' if first else '+='} {value}", target, what)

    def zero_unfed(self, cleared):
        """Sums that were cleared and received no cable are zero."""
        for s in sorted(cleared, key=str):
            self.loop("B", self.width(s), f"{self.sig(s)}[r, c] = 0.0", self.sig(s), str(s))
        cleared.clear()

    def ops(self, ops):
        cleared = set()
        i = 0
        while i < len(ops):
            op = ops[i]
            after = ops[i + 1] if i + 1 < len(ops) else None
            if isinstance(op, MatMul):
                # A product that is the plain first term of a cleared sum is written straight into it.
                direct = (isinstance(after, Accumulate) and after.value == op.out and after.target in cleared
                          and after.scale == 1.0 and after.gate is None)
                self.matmul(op, self.sig(after.target) if direct else None)
                if direct:
                    self.accumulate(after, cleared, written=True)
                    i += 1
            elif isinstance(op, Accumulate):
                self.accumulate(op, cleared)
            else:
                self.op(op, cleared)
            i += 1
        self.zero_unfed(cleared)

    # ---- updates ------------------------------------------------------------------------
    def delta(self, name, partial=False):
        """The buffer of a parameter's ΔW: the trial's (the runtime applies it), or a phase's own."""
        (self.partials if partial else self.grads).add(name)
        return partial_name(name) if partial else grad_name(name)

    def update(self, up, partial=False):
        g, W = self.delta(up.weight, partial), self.par(up.weight)
        rows, cols = self.plan.parameters[up.weight].shape
        what = f"the update of '{up.cable}'"
        self.raw(f"# ΔW of '{up.cable}' ({up.rule})")
        self.expressions_of(up.cable)   # a factor is computed once per update
        outers = [t for t in up.terms if isinstance(t, Outer)]
        coefs = [self.const("coef", up.cable, t.coef) for t in outers]
        for i, t in enumerate(outers):
            post, pre = self.factor(t.post), self.factor(t.pre)
            buf = g if i == 0 else self.temp(f"t_{up.cable}__outer", rows, cols)
            self.raw(f"matmul({post}.T, {pre}, {buf})")
            if i == 0:
                self.loop(rows, cols, f"{g}[r, c] *= {coefs[i]} * inv_batch", g, what)
            else:
                self.loop(rows, cols, f"{g}[r, c] += {coefs[i]} * inv_batch * {buf}[r, c]", g, what)
        if not outers:
            self.loop(rows, cols, f"{g}[r, c] = 0.0", g, what)
        if up.w_max is not None:
            self.loop(rows, cols, f"{g}[r, c] *= {self.const('w_max', up.cable, up.w_max)} - {W}[r, c]", g, what)
        target = UpdateTarget(up.cable, g, W, rows, cols, what)
        for t in up.terms:
            if not isinstance(t, Outer):   # the outer products formed ΔW above; the rest adjust it
                getattr(self, TERM_EMITTERS[type(t)])(t, target)
        if up.bias:
            gb = self.delta(up.bias, partial)
            if up.db is not None:
                self.loop(1, rows, f"{gb}[c] = {self.element(up.db)}", gb, what)
                return
            self.raw(f"{gb}[:] = 0.0")
            for i, t in enumerate(outers):
                self.loop("B", rows, f"{gb}[c] += {coefs[i]} * inv_batch * {self.factor(t.post)}[r, c]", gb, what)

    def add_to_trial(self, up, scale, formed):
        """A settled phase's ΔW, times ``scale``, added to the trial's (the first phase that forms it sets it)."""
        op = "+=" if up.cable in formed else "="
        # said first: a comment ends the loops before it, and this addition fuses with ΔW's last pass
        self.raw(f"# the trial's ΔW of '{up.cable}' {op} {scale:g}·ΔW, the phase's ΔW being:")
        self.update(up, partial=True)
        rows, cols = self.plan.parameters[up.weight].shape
        k, what = self.const("scale", up.cable, scale), f"the update of '{up.cable}'"
        g = self.delta(up.weight)
        self.loop(rows, cols, f"{g}[r, c] {op} {k} * {partial_name(up.weight)}[r, c]", g, what)
        if up.bias:
            self.loop(1, rows, f"{self.delta(up.bias)}[c] {op} {k} * {partial_name(up.bias)}[c]",
                      grad_name(up.bias), what)
        formed.add(up.cable)

    def learn_online(self, up, lr):
        """ΔW and W += lr·ΔW inside a phase's step. A ΔW of outer products, less decays that scale W
        by rows (−c·W, −c·diag⟨post⟩·W), goes straight into W a row at a time — one pass over W,
        rather than a product and a pass per term into ΔW and a pass adding it (per-step plasticity
        of a spiking circuit: 4.5× faster at 784 × 100 and a batch of one). Nothing reads such a ΔW
        after the trial: ``updates`` reports the change of W."""
        outers = [t for t in up.terms if isinstance(t, Outer)]
        decays = [t for t in up.terms if isinstance(t, Decay) or (isinstance(t, ActivityDecay) and t.side == "post")]
        if up.bias or up.w_max is not None or not outers or len(outers) + len(decays) < len(up.terms):
            self.update(up)
            self.apply(up, lr)
            return
        W = self.par(up.weight)
        rows, cols = self.plan.parameters[up.weight].shape
        self.raw(f"# W += lr·ΔW of '{up.cable}' ({up.rule}), every step, a row at a time")
        self.expressions_of(up.cable)
        factors = [(self.factor(t.post), self.factor(t.pre), self.const("coef", up.cable, t.coef)) for t in outers]
        shrink = [(self.factor(t.factor) if isinstance(t, ActivityDecay) else None, self.const("decay", up.cable, t.coef))
                  for t in decays]
        rate = self.const("lr", up.cable, lr)
        self.raw(f"for r in range({rows}):")
        if shrink:   # W·(1 − lr·Σ decays) first: the decays read W as it was before this step
            self.raw("    keep = 1.0")
            for factor, coef in shrink:
                if factor is None:
                    self.raw(f"    keep -= {rate} * {coef}")
                else:
                    self.raw("    for b in range(batch):")
                    self.raw(f"        keep -= {rate} * {coef} * inv_batch * {factor}[b, r]")
            self.raw(f"    for c in range({cols}):")
            self.raw(f"        {W}[r, c] *= keep")
        self.raw("    for b in range(batch):")
        for i, (post, _, coef) in enumerate(factors):
            self.raw(f"        f_{i} = {rate} * {coef} * inv_batch * {post}[b, r]")
        total = " + ".join(f"f_{i} * {pre}[b, c]" for i, (_, pre, _) in enumerate(factors))
        self.raw(f"        for c in range({cols}):")
        self.raw(f"            {W}[r, c] += {total}")
        if self.checks:
            self.check(W, f"the update of '{up.cable}'")

    def apply(self, up, lr):
        """W += lr·ΔW (and its bias) in place, inside a phase's step: online plasticity, no optimizer state."""
        rows, cols = self.plan.parameters[up.weight].shape
        rate, what = self.const("lr", up.cable, lr), f"the update of '{up.cable}'"
        W, g = self.par(up.weight), grad_name(up.weight)
        self.raw(f"# W += lr·ΔW of '{up.cable}', every step")
        self.loop(rows, cols, f"{W}[r, c] += {rate} * {g}[r, c]", W, what)
        if up.bias:
            self.loop(1, rows, f"{self.par(up.bias)}[c] += {rate} * {grad_name(up.bias)}[c]", self.par(up.bias), what)

    def emit_decay(self, t, u):
        self.loop(u.rows, u.cols, f"{u.g}[r, c] -= {self.const('decay', u.cable, t.coef)} * {u.W}[r, c]", u.g, u.what)

    def emit_expression(self, t, u):
        value = self.element(t.expression)   # products and means first, then the loop the comment heads
        self.raw(f"# ΔW += {t.expression}")
        self.loop(u.rows, u.cols, f"{u.g}[r, c] += {value}", u.g, u.what)

    def emit_oja_decay(self, t, u):
        post = self.factor(t.post)
        square = self.temp(f"t_{u.cable}__oja_square", u.rows, u.rows)
        product = self.temp(f"t_{u.cable}__oja_product", u.rows, u.cols)
        self.raw(f"matmul({post}.T, {post}, {square})")
        if t.lower:
            self.raw(f"for r in range({u.rows}):")
            self.raw(f"    {square}[r, r + 1:] = 0.0")
        self.raw(f"matmul({square}, {u.W}, {product})")
        coef = self.const("coef", u.cable, t.coef)
        self.loop(u.rows, u.cols, f"{u.g}[r, c] -= {coef} * inv_batch * {product}[r, c]", u.g, u.what)

    def emit_activity_decay(self, t, u):
        factor = self.factor(t.factor)
        size, index = (u.rows, "r") if t.side == "post" else (u.cols, "c")
        total = self.temp(f"t_{u.cable}__{t.side}_total", 1, size)
        self.raw(f"{total}[0, :] = 0.0")
        self.loop("B", size, f"{total}[0, c] += {factor}[r, c]", total, u.what)
        coef = self.const("coef", u.cable, t.coef)
        self.loop(u.rows, u.cols, f"{u.g}[r, c] -= {coef} * inv_batch * {total}[0, {index}] * {u.W}[r, c]", u.g,
                  u.what)

    # ---- whole function -----------------------------------------------------------------
    def write(self):
        self.raw("step = 0")
        self.raw("batch = data_x.shape[0]")
        # Scalars take the plan's precision, as in numpy: a float32 plan computes in float32.
        self.raw(f"inv_batch = np.{self.plan.dtype}(1.0 / batch)")
        formed = set()   # cables whose ΔW a phase has added to the trial's
        for i, phase in enumerate(self.segment.phases):
            self.phase = phase.name
            self.raw(f"# phase '{phase.name}': setup")
            self.where = (i, "setup")
            self.ops(phase.setup)
            if phase.hoisted:
                self.raw(f"# phase '{phase.name}': computed once, unchanged by the steps")
                self.ops(phase.hoisted)
            self.where = (i, "step")
            self.tolerant = bool(phase.step and phase.tolerance)
            if phase.step:
                if self.tolerant:
                    self.raw(f"taken[{i}] = 0")
                self.raw(f"for step in range(steps[{i}]):")
                self.indent += 1
                start = len(self.lines)
                self.ops(phase.step)
                self.flush()
                self.lines[start:] = loops.without_dead_stores(self.lines[start:],
                                                               {signal_name(s) for s in phase.scratch})
                for up, lr in phase.learn:
                    self.learn_online(up, lr)
                self.flush()
                if self.tolerant:
                    # the largest change, in loops of its own: a max-reduction would keep the
                    # integration loops from vectorising
                    self.raw("change = 0.0")
                    for delta, width in self.changes:
                        self.raw("for r in range(batch):")
                        self.raw(f"    for c in range({width}):")
                        self.raw(f"        change = max(change, abs({delta}[r, c]))")
                    self.changes = []
                    self.raw(f"taken[{i}] = step + 1")
                    self.raw(f"if change <= {self.const('tolerance', phase.name, phase.tolerance)}:")
                    self.raw("    break")
                if len(self.lines) == start:   # every value the step made was dead (draws nothing reads)
                    self.raw("pass")
                self.indent -= 1
            self.tolerant = False
            self.raw(f"# phase '{phase.name}': settled")
            self.raw(f"step = {'taken' if phase.step and phase.tolerance else 'steps'}[{i}]")
            self.where = (i, "settle")
            self.ops(phase.settle)
            if phase.store:
                self.op(phase.store, set())
            for up, scale in phase.accumulate:
                self.add_to_trial(up, scale, formed)
        for up in self.segment.updates:
            self.update(up)
        self.raw("return 0, 0")
        unpack = [f"    {c} = consts[{i}]" for i, c in enumerate(self.consts) if "[" not in c]   # not per-unit ones
        name = f"{self.routine}_{self.index}"
        args = ([("data", "x"), ("data", "y"), ("steps", None), ("taken", None), ("consts", None), ("draw", None)]
                + [("stream", n) for n in sorted(self.streams)]
                + [("signal", self.signals[n]) for n in sorted(self.signals)]
                + [("param", p) for p in sorted(self.params)]
                + [("grad", g) for g in sorted(self.grads)]
                + [("partial", d) for d in sorted(self.partials)]
                + [("temp", self.temps[t]) for t in sorted(self.temps)])
        names = {"data": lambda v: f"data_{v}", "steps": lambda v: "steps", "taken": lambda v: "taken",
                 "consts": lambda v: "consts",
                 "draw": lambda v: "draw", "stream": lambda v: f"stream_{v}",
                 "signal": signal_name, "param": param_name, "grad": grad_name, "partial": partial_name, "temp": lambda v: v[0]}
        header = f"def {name}({', '.join(names[k](v) for k, v in args)}):"
        kernel = Kernel(name, tuple(args), self.routine, self.index, tuple(self.consts.values()),
                        tuple(sorted(self.schedules.items())))
        return kernel, [header] + unpack + loops.render(self.lines)


#: what keys a draw: the routine, and the part of a phase it is made in
ROUTINE_NUMBERS = {"train": 1, "predict": 2, "sample": 3, "encode": 4}
PARTS = ("setup", "step", "settle")


def draw_stream(plan, routine, segment, phase, part, component):
    """The random stream of a drawing operator: a hash of where it stands in the plan (routine,
    segment, phase index, part of the phase) and what it draws for, so optimising the plan, which
    moves and drops operators, never changes what the others draw."""
    key = [ROUTINE_NUMBERS[routine], segment, phase, PARTS.index(part), sorted(plan.components).index(component)]
    h = 0
    for k in key:
        h = library.mix32(h ^ k)
    return h

#: phase operator -> its emitter (products, sums and clears are emitted together by ``ops``)
EMITTERS = {Activate: "emit_activate", ComputeError: "emit_error", Integrate: "emit_integrate", Clamp: "emit_clamp",
            Assign: "emit_assign", Zero: "emit_zero", Store: "emit_store", Sample: "emit_sample", Evolve: "emit_evolve",
            Rest: "emit_rest", Measure: "emit_measure"}
#: update term -> its emitter (outer products form ΔW first, in ``update``)
TERM_EMITTERS = {Decay: "emit_decay", OjaDecay: "emit_oja_decay", ActivityDecay: "emit_activity_decay",
                 Expression: "emit_expression"}


def _is_matrix(node):
    """Whether an expression is a matrix (a row or column sum, a mean or a diagonal is not)."""
    if isinstance(node, (Weight, OuterProduct, MatProduct, Tril)):
        return True
    return isinstance(node, (Binary, Function)) and any(_is_matrix(child) for child in node.children())


def _column(width):
    """The column a value of ``width`` units is read at: c, or 0 for one unit (it broadcasts)."""
    return "0" if width == 1 else "c"


@functools.cache
def products_hash() -> str:
    """The content hash of runtime/products.py, whose product jitted kernels call (read, not imported:
    generating code needs no numba)."""
    with open(os.path.join(os.path.dirname(__file__), "products.py"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def generate(plan, checks=False):
    """Python source for every segment of every routine of ``plan``.

    Returns (source, kernels by (routine, segment), check codes by (routine, segment))."""
    body, kernels, helpers, codes = [], {}, set(), {}
    for routine in plan.routines.values():
        for index, segment in enumerate(routine.segments):
            writer = SegmentWriter(plan, routine.name, index, segment, checks)
            kernel, lines = writer.write()
            kernels[(routine.name, index)] = kernel
            codes[(routine.name, index)] = writer.codes
            helpers |= writer.helpers
            body += ["", ""] + lines
    # Only identifiers from the spec reach this text (the schema holds names to a strict pattern);
    # free text such as its name never does, so the source, and its cache key, follow the circuit.
    head = [f'"""Generated by ngdsl from a {plan.dtype} plan. Do not edit.',
            f"numba options: {JIT_OPTIONS}; matrix products: runtime/products.py {products_hash()}", '"""',
            "import numpy as np", "", "matmul = np.dot   # jitted, the kernels call runtime/products.py's product"]
    for name in sorted(library.with_requirements(helpers)):
        head += ["", "", library.source(name)]
    return "\n".join(head + body) + "\n", kernels, codes
