"""An independent reference: the operators of a plan executed one by one in NumPy.

The code generator fuses loops, forwards values through locals and drops dead stores; this
interpreter does none of that. It reads each operator's own fields (rates, scales, expressions)
rather than the generated text, so a fusion, forwarding or dead-store bug in the generated code
shows as a difference between the two. Run it on a plan compiled without optimisation and it is
independent of hoisting and sharing too. Only the random numbers are shared: both draw them from
the same keyed generator, so stochastic circuits compare exactly.
"""
from __future__ import annotations

import numpy as np

from ..compiler.expressions import (Binary, Centred, Constant, Diag, Function, Mean, MatProduct, OuterProduct,
                                    PairsProduct, PairsRowsum, Reduce, SquaredDistances, Total, Tril, UnitConstant,
                                    Weight, scheduled_value)
from ..compiler.ops import (Accumulate, Activate, ActivityDecay, Assign, Clamp, Clear, ComputeError, CustomLoss, Decay,
                            Evolve, Expression, Integrate, MatMul, Measure, OjaDecay, Outer, Rest, Sample, Signal, Store,
                            Zero)
from .codegen import draw_stream

_SIGMOID = (lambda z: 1.0 / (1.0 + np.exp(-z)))
#: activation -> (phi of z, dphi of z and phi)
ACTIVATIONS = {
    "identity": (lambda z: z, lambda z, phi: np.ones_like(z)),
    "tanh": (np.tanh, lambda z, phi: 1.0 - phi * phi),
    "sigmoid": (_SIGMOID, lambda z, phi: phi * (1.0 - phi)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, phi: (z > 0.0).astype(z.dtype)),
    "hard_sigmoid": (lambda z: np.clip(z, 0.0, 1.0), lambda z, phi: ((z > 0.0) & (z < 1.0)).astype(z.dtype)),
    "step": (lambda z: (z > 0.0).astype(z.dtype), lambda z, phi: np.zeros_like(z)),
}
#: function of the equation language -> its NumPy form
FUNCTIONS = {"neg": np.negative, "exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": _SIGMOID,
             "relu": lambda x: np.maximum(x, 0.0), "abs": np.abs, "sign": np.sign, "sqrt": np.sqrt,
             "step": lambda x: (x > 0.0).astype(np.result_type(x, np.float32)), "sin": np.sin, "cos": np.cos}
_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}


def _mix32(x):
    """library.mix32 on uint64 arrays (each product stays below 2**63)."""
    x = ((x ^ (x >> np.uint64(16))) * np.uint64(0x21F0AAAD)) & np.uint64(0xFFFFFFFF)
    x = ((x ^ (x >> np.uint64(15))) * np.uint64(0x735A2D97)) & np.uint64(0xFFFFFFFF)
    return x ^ (x >> np.uint64(15))


def uniform01(seed, trial, stream, step, index):
    """library.uniform01 for an array of element indices."""
    h = np.uint64(0)
    for k in (seed, trial, stream, step):
        h = _mix32(np.asarray(h ^ np.uint64(int(k) & 0xFFFFFFFF), dtype=np.uint64))
    h = _mix32(h ^ (index.astype(np.uint64) & np.uint64(0xFFFFFFFF)))
    return (h.astype(np.float64) + 0.5) * 2.3283064365386963e-10


class Trial:
    """The values one run of a routine works on: signals, parameters, ΔW buffers, data and draws."""

    def __init__(self, plan, signals, params, grads, x, y, draw, streams, epoch):
        self.plan, self.signals, self.params, self.grads = plan, signals, params, grads
        self.x, self.y, self.draw, self.streams = x, y, draw, streams
        self.epoch = epoch   # where scheduled constants stand: (epoch being trained, train.epochs)
        self.batch = len(x)
        self.owner = ""   # the cable whose update is being formed

    def data(self, source):
        if source.stream is None:
            return source.constant
        return {"x": self.x, "y": self.y}.get(source.stream, self.streams.get(source.stream))

    def evaluate(self, node):
        """A NumPy array of an expression (per-example (batch, n), per-unit (n,), or a matrix)."""
        if isinstance(node, Signal):
            return self.signals[node]
        if isinstance(node, Constant):
            return scheduled_value(node.schedule, *self.epoch) if node.schedule else node.value
        if isinstance(node, UnitConstant):
            return np.asarray(node.values, dtype=self.plan.dtype)
        if isinstance(node, Weight):
            return self.params[node.cable or self.owner]
        if isinstance(node, Binary):
            return _BINARY[node.op](self.evaluate(node.left), self.evaluate(node.right))
        if isinstance(node, Function):
            return FUNCTIONS[node.function](self.evaluate(node.arg))
        if isinstance(node, Mean):
            return self.evaluate(node.arg).mean(axis=0)
        if isinstance(node, Total):
            return self.evaluate(node.arg).sum(axis=1, keepdims=True)
        if isinstance(node, Reduce):
            return self.evaluate(node.arg).sum(axis=1 if node.axis == "rows" else 0)
        if isinstance(node, OuterProduct):
            return self.evaluate(node.post).T @ self.evaluate(node.pre) / self.batch
        if isinstance(node, MatProduct):
            if isinstance(node.left, Diag):
                return self.evaluate(node.left.arg)[:, None] * self.evaluate(node.right)
            if isinstance(node.right, Diag):
                return self.evaluate(node.left) * self.evaluate(node.right.arg)[None, :]
            return self.evaluate(node.left) @ self.evaluate(node.right)
        if isinstance(node, Tril):
            return np.tril(self.evaluate(node.arg))
        if isinstance(node, SquaredDistances):
            a, b = self.evaluate(node.left), self.evaluate(node.right)
            return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
        if isinstance(node, Centred):
            p = self.evaluate(node.arg)
            return p - p.mean(axis=1, keepdims=True) - p.mean(axis=0, keepdims=True) + p.mean()
        if isinstance(node, PairsProduct):
            return self.evaluate(node.pairs) @ self.evaluate(node.arg)
        if isinstance(node, PairsRowsum):
            return self.evaluate(node.arg).sum(axis=1, keepdims=True)
        raise TypeError(f"no NumPy form for {node!r}")


class Interpreter:
    """Runs the segments of a plan's routines operator by operator."""

    def __init__(self, plan):
        self.plan = plan

    def run(self, routine, index, trial, steps, taken):
        """Segment ``index`` of ``routine``: its phases, then the ΔW of its updates into the grads."""
        segment = self.plan.routines[routine].segments[index]
        formed = set()   # cables a phase has added a ΔW to
        for p, phase in enumerate(segment.phases):
            where = (routine, index, p)
            self.ops(phase.setup, trial, where + ("setup",), 0)
            self.ops(phase.hoisted, trial, where + ("setup",), 0)
            taken[p] = 0
            for step in range(int(steps[p])):
                change = self.ops(phase.step, trial, where + ("step",), step)
                for up, lr in phase.learn:
                    self.update(up, trial)
                    trial.params[up.weight] += lr * trial.grads[up.weight]
                    if up.bias:
                        trial.params[up.bias] += lr * trial.grads[up.bias]
                taken[p] = step + 1
                if phase.tolerance and change <= phase.tolerance:
                    break
            done = int(taken[p]) if phase.tolerance and phase.step else int(steps[p])
            self.ops(phase.settle, trial, where + ("settle",), done)
            if phase.store:
                self.ops((phase.store,), trial, where + ("settle",), done)
            for up, scale in phase.accumulate:
                names = [n for n in (up.weight, up.bias) if n]
                before = {n: trial.grads[n].copy() for n in names if up.cable in formed}
                self.update(up, trial)
                for n in names:
                    added = scale * trial.grads[n]
                    trial.grads[n][...] = before[n] + added if n in before else added
                formed.add(up.cable)
        for up in segment.updates:
            self.update(up, trial)

    def ops(self, ops, trial, where, step):
        """Execute operators in order; returns the largest change an Integrate made."""
        change = 0.0
        s = trial.signals
        for op in ops:
            if isinstance(op, Clear):
                s[op.target][...] = 0.0
            elif isinstance(op, MatMul):
                w = trial.params[op.weight]
                if op.response == "neg_sqdist":
                    s[op.out][...] = -((s[op.source][:, None, :] - w[None, :, :]) ** 2).sum(axis=2)
                else:
                    s[op.out][...] = s[op.source] @ (w if op.transpose else w.T)
            elif isinstance(op, Accumulate):
                value = s[op.value] + (trial.params[op.bias] if op.bias else 0.0)
                value = op.scale * value * (s[op.gate] if op.gate is not None else 1.0)
                s[op.target][...] += value
            elif isinstance(op, Activate):
                self.activate(op, trial)
            elif isinstance(op, Sample):
                self.sample(op, trial, where, step)
            elif isinstance(op, ComputeError):
                self.error(op, trial)
            elif isinstance(op, Integrate):
                z = s[Signal(op.component, "z")]
                drive = s[Signal(op.component, "in")] - op.leak * z
                if op.nudge is not None and op.beta:
                    drive = drive + op.beta * (trial.data(op.nudge) - z)
                delta = op.rate * drive
                change = max(change, float(np.abs(delta).max(initial=0.0)))
                z += delta
            elif isinstance(op, Clamp):
                s[Signal(op.component, "z")][...] = trial.data(op.source)
            elif isinstance(op, Assign):
                s[Signal(op.component, "z")][...] = s[op.source]
            elif isinstance(op, Zero):
                s[Signal(op.component, "z")][...] = 0.0
            elif isinstance(op, Store):
                for signal in op.signals:
                    s[Signal(signal.component, signal.compartment, op.snapshot)][...] = s[signal]
            elif isinstance(op, Evolve):
                self.evolve(op, trial)
            elif isinstance(op, Measure):
                s[Signal(op.component, "phi")][...] = trial.evaluate(op.value)
            elif isinstance(op, Rest):
                d = op.dynamics
                for v, x in zip(d.variables, d.initial):
                    s[Signal(op.component, v)][...] = x
                s[Signal(op.component, "phi")][...] = s[Signal(op.component, d.output)] if d.output else 0.0
            else:
                raise TypeError(f"the interpreter has no rule for {type(op).__name__}")
        return change

    def activate(self, op, trial):
        s = trial.signals
        z = s[Signal(op.component, "z")]
        phi, dphi = s[Signal(op.component, "phi")], s[Signal(op.component, "dphi")]
        if op.kwta:
            order = np.argsort(-z, axis=1, kind="stable")[:, :op.kwta]
            phi[...] = 0.0
            np.put_along_axis(phi, order, 1.0, axis=1)
            dphi[...] = 0.0
        elif isinstance(op.activation, str):
            value, slope = ACTIVATIONS[op.activation]
            phi[...] = value(z)
            dphi[...] = slope(z, phi)
        else:
            phi[...] = trial.evaluate(op.activation.phi)
            dphi[...] = trial.evaluate(op.activation.dphi)

    def sample(self, op, trial, where, step):
        phi = trial.signals[Signal(op.component, "phi")]
        stream = draw_stream(self.plan, *where, op.component)
        index = np.arange(phi.size).reshape(phi.shape)
        seed, number = int(trial.draw[0]), int(trial.draw[1])
        if op.kind == "bernoulli":
            value = (uniform01(seed, number, stream, step, index) < phi).astype(phi.dtype)
        else:
            u1 = uniform01(seed, number, stream, step, 2 * index)
            u2 = uniform01(seed, number, stream, step, 2 * index + 1)
            value = phi + op.noise * (np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2))
        trial.signals[Signal(op.component, "s")][...] = value

    def error(self, op, trial):
        s = trial.signals
        e, mu, target = s[Signal(op.component, "e")], s[Signal(op.component, "mu")], s[op.target]
        if isinstance(op.loss, CustomLoss):
            placeholder = Signal(op.component, "target")
            e[...] = trial.evaluate(op.loss.e.map(lambda signal: op.target if signal == placeholder else signal))
        elif op.loss == "softmax":
            shifted = np.exp(mu - mu.max(axis=1, keepdims=True))
            e[...] = target - shifted / shifted.sum(axis=1, keepdims=True)
        else:
            e[...] = op.precision * (target - mu)

    def evolve(self, op, trial):
        d, s = op.dynamics, trial.signals
        rates = [trial.evaluate(e) for e in d.derivatives]   # every variable from the same old values
        for v, rate in zip(d.variables, rates):
            s[Signal(op.component, v)][...] += d.dt * rate
        phi = s[Signal(op.component, "phi")]
        if d.threshold is None:
            phi[...] = s[Signal(op.component, d.output)]
            return
        spiked = np.asarray(trial.evaluate(d.threshold)) > 0.0
        resets = [(v, np.broadcast_to(trial.evaluate(e), spiked.shape).copy()) for v, e in d.resets]
        for v, value in resets:   # every reset reads the values before any is applied
            target = s[Signal(op.component, v)]
            target[spiked] = value[spiked]
        phi[...] = s[Signal(op.component, d.output)] if d.output else spiked

    def update(self, up, trial):
        """ΔW (and Δb) of one update into the grads."""
        trial.owner = up.cable
        g = trial.grads[up.weight]
        outers = [t for t in up.terms if isinstance(t, Outer)]
        g[...] = sum((t.coef * trial.evaluate(OuterProduct(t.post, t.pre)) for t in outers), np.zeros_like(g))
        w = trial.params[up.weight]
        if up.w_max is not None:
            g *= up.w_max - w
        for t in up.terms:
            if isinstance(t, Decay):
                g -= t.coef * w
            elif isinstance(t, OjaDecay):
                square = trial.evaluate(OuterProduct(t.post, t.post))
                g -= t.coef * ((np.tril(square) if t.lower else square) @ w)
            elif isinstance(t, ActivityDecay):
                mean = trial.evaluate(Mean(t.factor))
                g -= t.coef * (mean[:, None] * w if t.side == "post" else w * mean[None, :])
            elif isinstance(t, Expression):
                g += trial.evaluate(t.expression)
        if up.bias:
            gb = trial.grads[up.bias]
            if up.db is not None:
                gb[...] = trial.evaluate(up.db)
            else:
                gb[...] = sum((t.coef * trial.evaluate(Mean(t.post)) for t in outers), np.zeros_like(gb))
