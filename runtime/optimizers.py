"""Optimizers: apply the ΔW that rules produce (W ← W + lr·ΔW for SGD; Adam ascends ΔW too)."""
from __future__ import annotations

import numpy as np

from .inplace import add_scaled


class SGD:
    """W ← W + lr·ΔW."""

    def __init__(self, params, lr):
        self.lr = lr

    def step(self, name, w, delta, lr):
        add_scaled(w, delta, lr or self.lr)

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
        v = self.velocity[name]
        v *= self.momentum
        v += delta
        w += (lr or self.lr) * v

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
        t, m, v = self.t[name], self.m[name], self.v[name]
        m *= self.beta1
        m -= (1 - self.beta1) * delta
        v *= self.beta2
        v += (1 - self.beta2) * delta * delta
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        w -= (lr or self.lr) * m_hat / (np.sqrt(v_hat) + self.eps)

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
        v = self.v[name]
        v *= self.rho
        v += (1 - self.rho) * delta * delta
        w += (lr or self.lr) * delta / (np.sqrt(v) + self.eps)

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
