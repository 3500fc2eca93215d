"""Predictive coding written directly in NumPy: the same equations as the compiled plan (feed-forward
init, T Euler steps, one SGD update), plain as a researcher would write it, or with the compiler's
hoisting done by hand — so "NumPy / numba" can compare equal work."""
from __future__ import annotations

import numpy as np


class NumpyPC:
    """Whittington & Bogacz PC for an MLP with tanh hidden layers and a linear output.

    ``hoisted``: compute the first layer's prediction W1·x once per trial (x is clamped, so it
    does not change while the state settles), as ngdsl's plan does; plain recomputes it each step."""

    def __init__(self, weights, steps, dt, lr, hoisted=False):
        self.w = weights            # list of (out, in) matrices, W1 first
        self.steps, self.dt, self.lr, self.hoisted = steps, dt, lr, hoisted

    @classmethod
    def like(cls, model, hoisted=False):
        """The PC of a compiled ``pc_mlp``-style model, from copies of its current weights."""
        phase = model.plan.routines["train"].segments[0].phases[0]
        weights = [model.weights[n].copy() for n in sorted(n for n in model.weights if not n.endswith(".bias"))]
        rate = next(op.rate for op in phase.step if type(op).__name__ == "Integrate")
        return cls(weights, phase.steps, rate, model.plan.train["optimizer"]["sgd"]["lr"], hoisted)

    def trial(self, x, y):
        w, dt = self.w, self.dt
        s = [x]
        for i, wi in enumerate(w):                       # feed-forward init: s_l = mu_l
            s.append((s[-1] if i == 0 else np.tanh(s[-1])) @ wi.T)
        s[-1] = y
        first = x @ w[0].T if self.hoisted else None
        for _ in range(self.steps):
            phi, e = self._errors(s, first)
            for l in range(1, len(s) - 1):
                dphi = 1.0 - phi[l] * phi[l]
                s[l] = s[l] + dt * (-e[l] + dphi * (e[l + 1] @ w[l]))
        phi, e = self._errors(s, first)
        for l in range(1, len(s)):
            w[l - 1] += self.lr * (e[l].T @ phi[l - 1]) / len(x)

    def _errors(self, s, first):
        """Each layer's activity and prediction error e_l = s_l − W_l·φ(s_{l−1})."""
        w = self.w
        phi = [s[0]] + [np.tanh(v) for v in s[1:-1]] + [s[-1]]
        predictions = [None] + [first if l == 1 and first is not None else phi[l - 1] @ w[l - 1].T
                                for l in range(1, len(s))]
        return phi, [None] + [s[l] - predictions[l] for l in range(1, len(s))]
