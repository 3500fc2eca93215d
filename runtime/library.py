"""What generated code is made of: activation templates and the small helper functions that
are copied verbatim into a generated module when it uses them."""
from __future__ import annotations

import ast
import inspect

import numpy as np

#: activation -> (phi, dphi) element expressions of {z} (and {phi}, already computed).
ACTIVATIONS = {
    "identity": ("{z}", "1.0"),
    "tanh": ("np.tanh({z})", "1.0 - {phi} * {phi}"),
    "sigmoid": ("1.0 / (1.0 + np.exp(-{z}))", "{phi} * (1.0 - {phi})"),
    "relu": ("max({z}, 0.0)", "1.0 if {z} > 0.0 else 0.0"),
    "hard_sigmoid": ("min(max({z}, 0.0), 1.0)", "1.0 if 0.0 < {z} < 1.0 else 0.0"),
    "step": ("1.0 if {z} > 0.0 else 0.0", "0.0"),      # the perceptron's threshold unit
}


#: float32 plans compute phi with these instead: arithmetic only, so the compiler can vectorise the loops.
FAST_FLOAT32 = {
    "tanh": "np.float32(tanh_f32({z}))",
    "sigmoid": "np.float32(sigmoid_f32({z}))",
}

#: numpy functions that numba does not vectorise: a loop calling one is best left unfused.
SCALAR_ONLY = {"np.tanh", "np.exp", "np.sin", "np.cos"}


def activation(name, dtype):
    """The (phi, dphi) element templates of an activation in a plan of ``dtype``: float32 plans use
    the vectorisable helpers."""
    phi, dphi = ACTIVATIONS[name]
    return (FAST_FLOAT32.get(name, phi) if dtype == "float32" else phi), dphi


#: elementwise function of the equation language -> element template of {x}
FUNCTIONS = {
    "neg": "-{x}",
    "exp": "np.exp({x})",
    "log": "np.log({x})",
    "tanh": "np.tanh({x})",
    "sigmoid": "1.0 / (1.0 + np.exp(-{x}))",
    "relu": "max({x}, 0.0)",
    "abs": "abs({x})",
    "sign": "1.0 if {x} > 0.0 else (-1.0 if {x} < 0.0 else 0.0)",
    "sqrt": "np.sqrt({x})",
    "step": "1.0 if {x} > 0.0 else 0.0",
    "sin": "np.sin({x})",
    "cos": "np.cos({x})",
}


def function(name, dtype):
    """The element template of {x} of an equation-language function in a plan of ``dtype``."""
    template = FUNCTIONS[name]
    return FAST_FLOAT32.get(name, template).replace("{z}", "{x}") if dtype == "float32" else template


def tanh_f32(x):
    """tanh as a rational function of x², relative error < 2.5e-8 on [−9.1, 9.1], saturating beyond:
    float32 results are numpy's within one unit in the last place, from arithmetic alone."""
    x = min(max(x, -9.1), 9.1)
    t = x * x
    p = (((1.3246759747470488e-08 * t + 2.053842771221064e-05) * t + 0.0034916213853831003) * t
         + 0.1337779868974988) * t + 0.9999999915705757
    q = (((7.73450285893931e-07 * t + 0.0003278915074282003) * t + 0.02586223922919555) * t
         + 0.467111183464561) * t + 1.0
    return x * p / q


def sigmoid_f32(x):
    """1/(1 + exp(−x)) with exp(−|x|) = p(|x|/128)^128, p a degree-12 polynomial (relative error
    < 4e-15): arithmetic only, float32 results correctly rounded on [−105, ∞), saturating below."""
    t = min(abs(x), 105.0) * 0.0078125
    e = (((((((((((9.142512544530123e-11 * t - 1.687751617731349e-08) * t + 2.585825171345031e-07) * t
                  - 2.7344685654932498e-06) * t + 2.4784269526761226e-05) * t - 0.00019840318499500889) * t
               + 0.0013888853241214479) * t - 0.00833333242902019) * t + 0.041666666515358115) * t
            - 0.16666666665077798) * t + 0.4999999999990434) * t - 0.9999999999999717) * t + 0.999999999999999
    for _ in range(7):
        e = e * e
    s = 1.0 / (1.0 + e)
    return s if x >= 0.0 else e * s


def softmax_rows(x, out):
    """Row-wise softmax of x into out."""
    for i in range(x.shape[0]):
        m = x[i, 0]
        for j in range(1, x.shape[1]):
            m = max(m, x[i, j])
        total = 0.0
        for j in range(x.shape[1]):
            out[i, j] = np.exp(x[i, j] - m)
            total += out[i, j]
        for j in range(x.shape[1]):
            out[i, j] /= total


def kwta_mask(z, k, out):
    """out[i] = 1 at the k largest entries of row z[i] (lowest index first on ties), 0 elsewhere."""
    for i in range(z.shape[0]):
        out[i, :] = 0.0
        for _ in range(k):
            best = -1
            for j in range(z.shape[1]):
                if out[i, j] == 0.0 and (best < 0 or z[i, j] > z[i, best]):
                    best = j
            out[i, best] = 1.0


def neg_sqdist(x, w, out):
    """out[i, j] = −‖x[i] − w[j]‖², the response of a distance (instar/SOM) cable."""
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            total = 0.0
            for k in range(x.shape[1]):
                d = x[i, k] - w[j, k]
                total += d * d
            out[i, j] = -total


def centre_pairs(p, out):
    """out = H p H, H = I − 11ᵀ/m, for an (m × m) p: p less its row means and column means, plus its
    mean (the centring of a kernel matrix in HSIC)."""
    m = p.shape[0]
    rows = np.zeros(m)
    cols = np.zeros(m)
    for i in range(m):
        for j in range(m):
            rows[i] += p[i, j]
            cols[j] += p[i, j]
    mean = rows.sum() / (m * m)
    for i in range(m):
        for j in range(m):
            out[i, j] = p[i, j] - rows[i] / m - cols[j] / m + mean


def mix32(x):
    """A bijection of 32-bit integers that scrambles every bit (Wellons' lowbias32). Each product
    stays below 2**63, so int64 arithmetic in numba and Python's integers give the same result."""
    x = ((x ^ (x >> 16)) * 0x21F0AAAD) & 0xFFFFFFFF
    x = ((x ^ (x >> 15)) * 0x735A2D97) & 0xFFFFFFFF
    return x ^ (x >> 15)


def uniform01(seed, trial, stream, step, index):
    """A uniform number in (0, 1) that is a pure function of its key: the model's seed, the trial
    (one run of a routine on a batch), the drawing operator, the step and the element. Counter-based,
    so the jitted kernels and the reference interpreter draw the same numbers in any order."""
    h = mix32(seed & 0xFFFFFFFF)
    h = mix32(h ^ (trial & 0xFFFFFFFF))
    h = mix32(h ^ (stream & 0xFFFFFFFF))
    h = mix32(h ^ (step & 0xFFFFFFFF))
    h = mix32(h ^ (index & 0xFFFFFFFF))
    return (h + 0.5) * 2.3283064365386963e-10


def normal01(seed, trial, stream, step, index):
    """A standard normal number from two keyed uniforms (Box–Muller)."""
    u1 = uniform01(seed, trial, stream, step, 2 * index)
    u2 = uniform01(seed, trial, stream, step, 2 * index + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)


HELPERS = {f.__name__: f for f in (tanh_f32, sigmoid_f32, softmax_rows, kwta_mask, neg_sqdist, centre_pairs, mix32,
                                   uniform01, normal01)}
#: sampling kind -> element template of {phi}, {noise} and {key} (the arguments after the generator's)
SAMPLES = {
    "bernoulli": "1.0 if uniform01({key}) < {phi} else 0.0",
    "gaussian": "{phi} + {noise} * normal01({key})",
}


#: Read once, at import: inspect reads the file again on each call, and a file changed since
#: (an upgrade under a running process) would hand out the wrong lines.
_SOURCES = {name: inspect.getsource(f).rstrip() for name, f in HELPERS.items()}


def _requirements(name):
    """The helpers a helper calls."""
    called = {n.func.id for n in ast.walk(ast.parse(_SOURCES[name])) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}
    return called & HELPERS.keys() - {name}


def with_requirements(names) -> set:
    """``names`` and every helper they call, directly or not."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += _requirements(name)
    return found


def source(name: str) -> str:
    """The source text of a helper, copied into generated modules."""
    return _SOURCES[name]
