"""Predictive coding written directly in NumPy, the way a researcher would: the same equations
as the compiled plan (feed-forward init, T Euler steps, one SGD update), no hoisting."""
from __future__ import annotations

import numpy as np


class NumpyPC:
    """Whittington & Bogacz PC for an MLP with tanh hidden layers and a linear output."""

    def __init__(self, weights, steps, dt, lr):
        self.w = weights            # list of (out, in) float32 matrices, W1 first
        self.steps, self.dt, self.lr = steps, dt, lr

    def trial(self, x, y):
        w, dt = self.w, self.dt
        s = [x]
        for i, wi in enumerate(w):                       # feed-forward init: s_l = mu_l
            s.append((s[-1] if i == 0 else np.tanh(s[-1])) @ wi.T)
        s[-1] = y
        for _ in range(self.steps):
            phi = [s[0]] + [np.tanh(v) for v in s[1:-1]] + [s[-1]]
            e = [None] + [s[l] - phi[l - 1] @ w[l - 1].T for l in range(1, len(s))]
            for l in range(1, len(s) - 1):
                dphi = 1.0 - phi[l] * phi[l]
                s[l] = s[l] + dt * (-e[l] + dphi * (e[l + 1] @ w[l]))
        phi = [s[0]] + [np.tanh(v) for v in s[1:-1]] + [s[-1]]
        e = [None] + [s[l] - phi[l - 1] @ w[l - 1].T for l in range(1, len(s))]
        for l in range(1, len(s)):
            w[l - 1] += self.lr * (e[l].T @ phi[l - 1]) / len(x)
