"""Optimizers: apply the ΔW that rules produce (W ← W + lr·ΔW for SGD; Adam ascends ΔW too)."""
from __future__ import annotations

import numba
import numpy as np


#: Each step is one compiled pass over the parameter, in place: no temporaries per batch.
_STEP = {"cache": True, "nogil": True, "error_model": "numpy"}


@numba.njit(**_STEP)
def _sgd(w, delta, lr):
    w, delta = w.reshape(-1), delta.reshape(-1)
    for i in range(w.size):
        w[i] += lr * delta[i]


@numba.njit(**_STEP)
def _momentum(w, delta, velocity, lr, momentum):
    w, delta, velocity = w.reshape(-1), delta.reshape(-1), velocity.reshape(-1)
    for i in range(w.size):
        velocity[i] = momentum * velocity[i] + delta[i]
        w[i] += lr * velocity[i]


@numba.njit(**_STEP)
def _adam(w, delta, m, v, lr, beta1, beta2, eps, t):
    w, delta, m, v = w.reshape(-1), delta.reshape(-1), m.reshape(-1), v.reshape(-1)
    unbias1, unbias2 = 1.0 - beta1 ** t, 1.0 - beta2 ** t
    for i in range(w.size):
        m[i] = beta1 * m[i] - (1.0 - beta1) * delta[i]       # moments of the gradient −ΔW
        v[i] = beta2 * v[i] + (1.0 - beta2) * delta[i] * delta[i]
        w[i] -= lr * (m[i] / unbias1) / (np.sqrt(v[i] / unbias2) + eps)


@numba.njit(**_STEP)
def _rmsprop(w, delta, v, lr, rho, eps):
    w, delta, v = w.reshape(-1), delta.reshape(-1), v.reshape(-1)
    for i in range(w.size):
        v[i] = rho * v[i] + (1.0 - rho) * delta[i] * delta[i]
        w[i] += lr * delta[i] / (np.sqrt(v[i]) + eps)


class SGD:
    """W ← W + lr·ΔW."""

    def __init__(self, params, lr):
        self.lr = lr

    def step(self, name, w, delta, lr):
        _sgd(w, delta, lr or self.lr)

    def state(self):
        return {}

    def load_state(self, arrays):
        pass


class Momentum(SGD):
    """v ← momentum·v + ΔW; W ← W + lr·v."""

    def __init__(self, params, lr, momentum):
        super().__init__(params, lr)
        self.momentum = momentum
        self.velocity = {n: np.zeros_like(p) for n, p in params.items()}

    def step(self, name, w, delta, lr):
        _momentum(w, delta, self.velocity[name], lr or self.lr, self.momentum)

    def state(self):
        return {f"velocity/{n}": v for n, v in self.velocity.items()}

    def load_state(self, arrays):
        for n in self.velocity:
            self.velocity[n][...] = arrays[f"velocity/{n}"]


class Adam(SGD):
    """Adam on the gradient −ΔW (so it, too, moves W along ΔW)."""

    def __init__(self, params, lr, beta1, beta2, eps):
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = {n: np.zeros_like(p) for n, p in params.items()}
        self.v = {n: np.zeros_like(p) for n, p in params.items()}
        self.t = {n: 0 for n in params}

    def step(self, name, w, delta, lr):
        self.t[name] += 1
        _adam(w, delta, self.m[name], self.v[name], lr or self.lr, self.beta1, self.beta2, self.eps, self.t[name])

    def state(self):
        out = {f"m/{n}": a for n, a in self.m.items()}
        out.update({f"v/{n}": a for n, a in self.v.items()})
        out.update({f"t/{n}": np.array(t) for n, t in self.t.items()})
        return out

    def load_state(self, arrays):
        for n in self.m:
            self.m[n][...] = arrays[f"m/{n}"]
            self.v[n][...] = arrays[f"v/{n}"]
            self.t[n] = int(arrays[f"t/{n}"])


class RMSprop(SGD):
    """v ← ρ·v + (1 − ρ)·ΔW²; W ← W + lr·ΔW / (√v + eps)."""

    def __init__(self, params, lr, rho, eps):
        super().__init__(params, lr)
        self.rho, self.eps = rho, eps
        self.v = {n: np.zeros_like(p) for n, p in params.items()}

    def step(self, name, w, delta, lr):
        _rmsprop(w, delta, self.v[name], lr or self.lr, self.rho, self.eps)

    def state(self):
        return {f"v/{n}": a for n, a in self.v.items()}

    def load_state(self, arrays):
        for n in self.v:
            self.v[n][...] = arrays[f"v/{n}"]


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam, "rmsprop": RMSprop}


def make(spec: dict, params: dict):
    """An optimizer from the resolved ``{name: {hyperparameters}}`` over the learnable ``params``."""
    (name, hyper), = spec.items()
    return OPTIMIZERS[name](params, **hyper)
