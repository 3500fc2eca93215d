"""The equation language: rules and activations written in the spec, compiled like the library's."""
import json
import os
import re

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ngdsl
from ngdsl.compiler import SpecError, compile_text, expressions
from ngdsl.compiler.derivatives import derivative
from ngdsl.compiler.equations import Scope, parse
from ngdsl.compiler.ops import Signal
from ngdsl.describe import describe
from ngdsl.runtime import codegen, library

from conftest import ROOT, load, spec_path
from test_neurons import CURRENTS, LIF

LINEAR = """ngdsl: 1
name: eq
seed: 0
dtype: float64
data: {dataset: gaussian, dim: 8, n: 400, spectrum: [4, 2, 1, 0.5, 0.3, 0.2, 0.1, 0.05], test_fraction: 0.1, batch: 16}
components:
  x: {kind: input, size: 8}
  y: {kind: rate, size: 3, activation: tanh}
cables:
  W: {from: x, to: y, init: {dist: normal, scale: 0.3}, bias: true,
      rule: {equation: {dW: "DW", db: "DB", constants: {eta: 0.5}}}}
schedule:
  train:
    - {phase: project, steps: 0, clamp: {x: data.x}}
    - {update: [W]}
  predict:
    - {phase: project, steps: 0, clamp: {x: data.x}, read: y}
train: {epochs: 2, optimizer: {sgd: {lr: 0.01}}}
"""


def linear(dW, db="mean(post)"):
    return LINEAR.replace("DW", dW).replace("DB", db)


def model_of(write_spec, text):
    return ngdsl.load(write_spec(text))


def test_every_form_an_expression_takes_equals_numpy(write_spec):
    # library-shaped summands (outer, Oja, activity decay) beside a generic elementwise part and a bias rule
    model = model_of(write_spec, linear("eta * outer(post, pre) - outer(post, post) @ W + 0.01 * sign(W) * W ** 2"
                                        " - diag(mean(post ** 2)) @ W + W @ diag(mean(pre)) / 4"
                                        " + tril(outer(post, post)) @ W * exp(-abs(W))",
                                        "mean(post) - 0.1 * mean(post * post)"))
    x = model.data.x_train[:16]
    w, b = model.weights["W"].copy(), model.weights["W.bias"].copy()
    y = np.tanh(x @ w.T + b)
    want = (0.5 * y.T @ x / 16 - (y.T @ y / 16) @ w + 0.01 * np.sign(w) * w ** 2 - np.diag((y ** 2).mean(0)) @ w
            + w @ np.diag(x.mean(0)) / 4 + (np.tril(y.T @ y / 16) @ w) * np.exp(-np.abs(w)))
    got = model.updates(x, np.zeros((16, 1)))
    np.testing.assert_allclose(got["W"], want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got["W.bias"], y.mean(0) - 0.1 * (y * y).mean(0), rtol=1e-12, atol=1e-15)


def test_per_example_factors_broadcast_batch_means(write_spec):
    # centring by the batch mean: ⟨(y − ȳ) ⊗ (x − x̄)⟩, the covariance rule within a batch
    model = model_of(write_spec, linear("outer(post - mean(post), pre - mean(pre)) / (1 + 1)"))
    x = model.data.x_train[:16]
    y = np.tanh(x @ model.weights["W"].T + model.weights["W.bias"])
    want = (y - y.mean(0)).T @ (x - x.mean(0)) / 16 / 2
    np.testing.assert_allclose(model.updates(x, np.zeros((16, 1)))["W"], want, rtol=1e-12, atol=1e-15)


def _swap_rule(name, cable, rule, *overrides):
    """(library ΔW, equation ΔW) of one trial of a shipped spec, in float64."""
    updates = []
    for override in (None, f"cables.{cable}.rule={rule}"):
        model = load(name, "dtype=float64", *overrides, *([override] if override else []))
        x, y = model.data.x_train[:8], model.data.y_train[:8]
        updates.append(model.updates(x, y))
    return updates


@pytest.mark.parametrize("name, cable, rule", [
    ("bp_digits.yaml", "W1", "{equation: {dW: 'outer(d1, pre)'}}"),
    ("bp_digits.yaml", "W2", "{equation: {dW: 'outer(post, pre)'}}"),
    ("hebb_digits.yaml", "W", "{equation: {dW: '(1 - W) * outer(y, pre) - 0.05 * W'}}"),
    ("oja_pca.yaml", "W", "{equation: {dW: 'outer(post, pre) - outer(post, post) @ W'}}"),
    ("sanger_pca.yaml", "W", "{equation: {dW: 'outer(post, pre) - tril(outer(post, post)) @ W'}}"),
    ("kwta_clusters.yaml", "W", "{equation: {dW: 'outer(post, pre) - diag(mean(post)) @ W'}}"),
    ("counterprop_blobs.yaml", "U", "{equation: {dW: 'outer(t, pre) - W @ diag(mean(pre))'}}"),
    ("eqprop_xor.yaml", "W1", "{equation: {dW: '2 * (outer(p, x) - outer(f, x))', "
                              "signals: {p: h@nudged, f: h@free, x: x@nudged}}}"),
    ("rbm_digits.yaml", "W", "{equation: {dW: 'outer(h, v) - outer(hr, vr)'}}"),
])
def test_a_library_rule_and_its_equation_make_bit_identical_updates(name, cable, rule):
    library_updates, equation_updates = _swap_rule(name, cable, rule)
    for key in (cable, f"{cable}.bias"):
        if key in library_updates:
            np.testing.assert_array_equal(equation_updates[key], library_updates[key], err_msg=key)


def test_the_delta_rule_and_its_equation_make_bit_identical_updates(write_spec):
    text = LINEAR.replace("dataset: gaussian, dim: 8, n: 400, spectrum: [4, 2, 1, 0.5, 0.3, 0.2, 0.1, 0.05]",
                          "dataset: blobs, features: 8, centers: 3").replace("bias: true,", "")
    text = text.replace("    - {phase: project, steps: 0, clamp: {x: data.x}}",
                        "    - {phase: project, steps: 0, clamp: {x: data.x, t: data.y}}")
    text = text.replace("  y: {kind: rate", "  t: {kind: input, size: 3}\n  y: {kind: rate")
    delta = text.replace('{equation: {dW: "DW", db: "DB", constants: {eta: 0.5}}}', "{delta: {target: t, scale: 0.5}}")
    written = text.replace("DW", "0.5 * outer((t - y) * y.dphi, pre)").replace(', db: "DB"', "")
    updates = []
    for spec in (delta, written):
        model = model_of(write_spec, spec)
        updates.append(model.updates(model.data.x_train[:16], model.data.y_train[:16])["W"])
    np.testing.assert_array_equal(updates[1], updates[0])
    assert np.abs(updates[0]).max() > 0


def _without(text, *prefixes):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(prefixes)) + "\n"


@pytest.mark.parametrize("name, cable, equation, wiring", [
    # BCM: ΔW = (z ⊙ (z − θ)) ⊗ x, θ the persistent running average of z²
    ("bcm_selectivity.yaml", "W", "outer(z * (z - theta), x)", ("d:", "m:", "d_z:", "d_t:", "m_d:")),
    # covariance: ΔW = (z − ⟨z⟩) ⊗ (x − ⟨x⟩), the running means persistent states
    ("covariance_pca.yaml", "W", "outer(z - mz, x - mx)", ("dx:", "dz:", "x_dx:", "mx_dx:", "z_dz:", "mz_dz:")),
])
def test_bcm_and_covariance_as_user_equations_train_exactly_as_the_library_circuits(write_spec, name, cable,
                                                                                    equation, wiring):
    text = open(spec_path(name)).read().replace("dtype: float32", "")
    shipped = ngdsl.load(write_spec("seed: 0\ndtype: float64\n" + text.replace("seed: 0\n", ""), "shipped.yaml"))
    written = _without(text, *wiring).replace("seed: 0\n", "")
    start = written.index(f"  {cable}:")
    end = written.index("\n", start)
    rule_at = written.index("rule:", start)
    written = written[:rule_at] + f"rule: {{equation: {{dW: '{equation}'}}}}}}" + written[end:]
    equation_model = ngdsl.load(write_spec("seed: 0\ndtype: float64\n" + written, "written.yaml"))
    shipped.fit(epochs=2)
    equation_model.fit(epochs=2)
    np.testing.assert_array_equal(equation_model.weights[cable], shipped.weights[cable])
    assert not np.allclose(shipped.weights[cable], ngdsl.load(spec_path(name)).weights[cable])   # it learned


def test_changing_a_constant_reuses_the_compiled_kernel(write_spec):
    sources, consts = [], []
    for eta in (0.5, 0.25):
        compiled = compile_text(linear("eta * outer(post, pre) + 3 * W ** 3").replace("eta: 0.5", f"eta: {eta}"))
        source, kernels, _ = codegen.generate(compiled.plan)
        sources.append(source)
        consts.append(kernels[("train", 0)].consts)
    assert sources[0] == sources[1]
    assert consts[0] != consts[1]


@pytest.mark.parametrize("shape, values", [("geometric", [1.0, 0.1, 0.01, 0.01]), ("linear", [1.0, 0.505, 0.01, 0.01])])
@pytest.mark.parametrize("interpret", [False, True])
def test_a_scheduled_constant_takes_its_epochs_value_in_the_same_kernel(write_spec, shape, values, interpret):
    schedule = f"eta: {{from: 1.0, to: 0.01, shape: {shape}}}"
    model = ngdsl.load(write_spec(linear("eta * outer(post, pre)").replace("eta: 0.5", schedule).replace(
        "epochs: 2", "epochs: 3")), interpret=interpret)
    x = model.data.x_train[:16]
    seen = []
    for _ in values:   # the first value in the first epoch, the last in the last and after it
        model.fit(epochs=1)
        w, b = model.weights["W"], model.weights["W.bias"]
        y = np.tanh(x @ w.T + b)
        got = model.updates(x, np.zeros((16, 1)))["W"]
        seen.append(float(np.sum(got * (y.T @ x)) / np.sum((y.T @ x / 16) * (y.T @ x))))
    np.testing.assert_allclose(seen, values, rtol=1e-12)
    if not interpret:   # one kernel for every epoch and every schedule
        other = linear("eta * outer(post, pre)").replace("eta: 0.5", "eta: {from: 2.0, to: 0.5, shape: linear}")
        assert codegen.generate(compile_text(other).plan)[0] == model.executor.source


@pytest.mark.parametrize("schedule, message", [
    ("{from: 1.0, to: 0.0}", "'eta' goes geometrically from 1 to 0: both must be non-zero with the same sign (or "
                             "write shape: linear)"),
    ("{from: 1.0}", "missing required key 'to' in cables/W/rule/equation/constants/eta"),
])
def test_a_schedule_that_cannot_be_followed_is_a_located_error(schedule, message):
    with pytest.raises(SpecError) as exc:
        compile_text(linear("eta * outer(post, pre)").replace("eta: 0.5", f"eta: {schedule}"), "spec.yaml")
    assert [str(d) for d in exc.value.diagnostics] == [f"spec.yaml:{SPEC_LINE}:90: error: {message}"]   # at the schedule


def test_no_text_of_an_expression_reaches_the_generated_source():
    compiled = compile_text(linear("outer(post, pre) * abs(W)  # __import__('os').system('x')"))
    source = codegen.generate(compiled.plan)[0]
    assert "__import__" not in source and "system" not in source
    # inspect --code shows the parsed expression above the loop that computes it
    code = describe(compiled, code=True)
    assert "    # ΔW += (outer(y.phi, x.z) * abs(W))\n    for r in range(3):\n        for c in range(8):\n" in code


SPEC_LINE = 11   # the line of dW in LINEAR; the expression starts at column 30 ('dW: "' ends at 29)


@pytest.mark.parametrize("expression, column, message", [
    ("outer(psot, pre)", 6, "the equation of 'W' reads 'psot' but there is no component 'psot' (did you mean "
                            "'post'?)"),
    ("outer(post, pre) + post", 19, "'+' combines a (3 × 8) matrix with a per-example value of 3 unit(s); their "
                                    "shapes must agree (or one side be a number)"),
    ("outer(post, pre) / mean(pre)", 19, "'/' combines a (3 × 8) matrix with a per-unit vector of 8; their shapes "
                                         "must agree (or one side be a number)"),
    ("outer(post / mean(pre), pre)", 13, "'/' combines a per-example value of 3 unit(s) with a per-unit vector of "
                                         "8; their shapes must agree (or one side be a number)"),
    ("outer(pre, post)", 0, "is a (8 × 3) matrix, but cable 'W' has (3 × 8) weights"),
    ("outer(sqdist(post, post) @ post, pre)", 6, "terms over pairs of examples (sqdist, centre) belong in a measure's "
                                           "value; a rule reads the measure"),
    ("outer(post.__class__, pre)", 6, "attribute access is not part of the expression language; a signal is "
                                      "written component or component.compartment"),
    ("W.T", 0, "attribute access is not part of the expression language; a signal is written component or "
               "component.compartment"),
    ("open(W)", 0, "'open' is not a function of the expression language; it has exp, log, tanh, sigmoid, relu, "
                   "abs, sign, sqrt, step, sin, cos, outer, mean, total, rowsum, colsum, tril, diag, sqdist, centre"),
    ("W * W[0]", 4, "indexing is not part of the expression language (numbers, names, + - * / ** @, and the "
                    "functions exp, log, tanh, sigmoid, relu, abs, sign, sqrt, step, sin, cos, outer, mean, total, rowsum, "
                    "colsum, tril, diag, sqdist, centre)"),
    ("outer(post pre)", 6, "the expression does not parse: invalid syntax. Perhaps you forgot a comma?"),
    ("W ** post", 5, "an exponent is a fixed number (not a signal, nor a scheduled constant)"),
    ("diag(post) @ W", 5, "diag() takes a per-unit vector; this is a per-example value of 3 unit(s); write "
                          "diag(mean(...))"),
    ("W @ W", 4, "'@' multiplies a (3 × 8) matrix by a (3 × 8) matrix: 8 columns against 3 rows"),
    ("outer(post, pre, W)", 0, "outer() takes 2 arguments, not 3"),
])
def test_an_expression_error_is_reported_inside_the_string(expression, column, message):
    with pytest.raises(SpecError) as exc:
        compile_text(linear(expression), "spec.yaml")
    assert [str(d) for d in exc.value.diagnostics] == [f"spec.yaml:{SPEC_LINE}:{30 + column}: error: dW: {message}"]


def test_a_bias_gets_its_own_rule_when_dw_is_not_outer_products():
    with pytest.raises(SpecError) as exc:
        compile_text(LINEAR.replace("DW", "outer(post, pre) * W").replace(', db: "DB"', ""), "spec.yaml")
    assert "cable 'W' has a bias, and part of its dW is not an outer product" in str(exc.value)


def test_db_is_a_vector_of_the_post_units():
    with pytest.raises(SpecError) as exc:
        compile_text(linear("outer(post, pre)", "mean(pre)"), "spec.yaml")
    assert str(exc.value) == ("spec.yaml:11:54: error: db: is a per-unit vector of 8, but the bias of 'W' has 3 "
                              "units")


# ---- activations --------------------------------------------------------------------------

Z = Signal("h", "z")


def _scalar(expression):
    """A numpy function of z from an expression (the test's own evaluator, not the compiler's)."""
    def value(node, z):
        if node == Z:
            return z
        if isinstance(node, expressions.Constant):
            return np.full_like(z, node.value)
        if isinstance(node, expressions.Binary):
            a, b = value(node.left, z), value(node.right, z)
            return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}[node.op](a, b)
        fn = {"neg": np.negative, "exp": np.exp, "log": np.log, "tanh": np.tanh, "abs": np.abs, "sign": np.sign,
              "sqrt": np.sqrt, "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "relu": lambda a: np.maximum(a, 0),
              "step": lambda a: (a > 0).astype(float), "sin": np.sin, "cos": np.cos}[node.function]
        return fn(value(node.arg, z))
    return lambda z: value(expression, z)


ACTIVATIONS = ["log(1 + exp(z))", "z * sigmoid(z)", "tanh(z) ** 2 / (1 + z ** 2)", "sqrt(1 + z * z) - 1",
               "exp(-z ** 2 / 2)", "relu(z) ** 3 - abs(z)", "log(2 + tanh(3 * z)) * step(z + 0.5)",
               "-z / (2 - sign(z) * 0.5)", "sin(z) * cos(2 * z)"]


@pytest.mark.parametrize("text", ACTIVATIONS)
def test_a_custom_activations_derivative_matches_finite_differences(text):
    scope = Scope({"z": (Z, ("batch", 1))}, lambda t: (_ for _ in ()).throw(KeyError(t)))
    phi = parse(text, scope)[0]
    dphi = derivative(phi, Z)
    z = np.linspace(-3, 3, 601) + 0.0037   # off the kinks at 0 and -0.5
    eps = 1e-6
    numeric = (_scalar(phi)(z + eps) - _scalar(phi)(z - eps)) / (2 * eps)
    np.testing.assert_allclose(_scalar(dphi)(z), numeric, rtol=1e-6, atol=1e-7)


def test_every_function_of_the_language_has_code_and_a_derivative():
    assert set(library.FUNCTIONS) == set(expressions.FUNCTIONS) | {"neg"}
    for name in expressions.FUNCTIONS:
        phi = expressions.Function(name, Z)
        assert derivative(phi, Z).signals() in ((), (Z,))


def test_a_custom_activation_runs_as_written(write_spec):
    text = linear("outer(post, pre)").replace("activation: tanh", "activation: {phi: 'z * sigmoid(z)'}")
    model = model_of(write_spec, text)
    x = model.data.x_train[:16]
    a = x @ model.weights["W"].T + model.weights["W.bias"]
    phi = a / (1 + np.exp(-a))
    np.testing.assert_allclose(model.predict(x), phi, rtol=1e-12)
    np.testing.assert_allclose(model.updates(x, np.zeros((16, 1)))["W"], phi.T @ x / 16, rtol=1e-12)


def test_a_custom_activation_reads_z_alone():
    text = linear("outer(post, pre)").replace("activation: tanh", "activation: {phi: 'tanh(x)'}")
    with pytest.raises(SpecError) as exc:
        compile_text(text, "spec.yaml")
    assert str(exc.value) == "spec.yaml:8:52: error: phi: an activation is a function of z alone; 'x' is not z"


def _readme_examples():
    """The README's worked examples of the equation language: {number: (name, spec)}."""
    text = open(os.path.join(ROOT, "README.md")).read()
    block = text.split("Six worked examples:\n\n```yaml\n")[1].split("```")[0]
    chunks = re.split(r"^# (\d)\. .*$", block, flags=re.M)[1:]
    return {int(n): next(iter(yaml.safe_load(chunk).items())) for n, chunk in zip(chunks[::2], chunks[1::2])}


def test_the_readmes_worked_examples_compile_and_run(tmp_path):
    examples = _readme_examples()
    assert sorted(examples) == [1, 2, 3, 4, 5, 6]
    hosts = {1: ("bcm_selectivity.yaml", "cables"), 2: ("oja_pca.yaml", "cables"), 3: ("oja_pca.yaml", "cables"),
             4: ("pc_digits.yaml", "components")}
    for number, (host, section) in hosts.items():
        name, spec = examples[number]
        model = load(host, f"{section}.{name}={json.dumps(spec)}", "train.epochs=1")
        before = {k: v.copy() for k, v in model.weights.items()}
        model.fit()
        assert any(not np.array_equal(before[k], model.weights[k]) for k in before), number
    np.savez(tmp_path / "currents.npz", x=CURRENTS, y=np.zeros((4, 1)))
    (tmp_path / "lif.yaml").write_text(LIF)
    counts = {}
    for number in (5, 6):   # leaky integrate-and-fire, then the same with a refractory period
        name, spec = examples[number]
        spec["size"] = 1   # the test's harness drives one unit per current
        model = ngdsl.load(str(tmp_path / "lif.yaml"), set=[f"components.{name}={json.dumps(spec)}",
                                                              "schedule.predict[0].steps=2000"])
        counts[number] = model.predict(CURRENTS)[:, 0]
        more = counts[number]
        assert np.all(np.diff(more) >= 0) and more[-1] > more[0] > 0   # more current, more spikes
    assert np.all(counts[6] <= counts[5]) and counts[6][-1] < counts[5][-1]   # a refractory period costs spikes


ROBUST = """ngdsl: 1
name: robust
dtype: float64
data: {dataset: blobs, features: 8, centers: 3, batch: 16}
components:
  x: {kind: input, size: 8}
  t: {kind: input, size: 3}
  o: {kind: error, target: t, precision: 2.0, loss: {e: "precision * (target - mu) / (1 + abs(target - mu))"}}
cables:
  W: {from: x, to: o.mu, rule: hebbian}
schedule:
  train:
    - {phase: sweep, steps: 0, clamp: {x: data.x, t: data.y}}
    - {update: [W]}
  predict:
    - {phase: sweep, steps: 0, clamp: {x: data.x}, read: o.mu}
"""


def test_an_error_written_as_an_expression_drives_the_rules_that_read_it(write_spec):
    model = model_of(write_spec, ROBUST)
    x, y = model.data.x_train[:16], model.data.y_train[:16]
    d = y - x @ model.weights["W"].T
    e = 2.0 * d / (1 + np.abs(d))   # a robust (pseudo-Huber-like) error: bounded where the miss is large
    np.testing.assert_allclose(model.updates(x, y)["W"], e.T @ x / 16, rtol=1e-12)


def test_an_errors_expression_reads_target_mu_and_precision_alone():
    with pytest.raises(SpecError) as exc:
        compile_text(ROBUST.replace("abs(target - mu)", "abs(y - mu)"), "spec.yaml")
    assert str(exc.value) == ("spec.yaml:8:95: error: e: an error's e reads target, mu and precision; 'y' is none of "
                              "them")


SUMS = """ngdsl: 1
name: sums
dtype: float64
data: {dataset: blobs, features: 8, centers: 3, batch: 16}
components:
  x: {kind: input, size: 8}
  t: {kind: input, size: 3}
  y: {kind: rate, size: 3, activation: tanh}
  g: {kind: rate, size: 1, activation: sigmoid}
cables:
  W: {from: x, to: y, init: {dist: normal, scale: 0.3}, rule: {equation: {dW: "DW"}}}
  V: {from: y, to: g, transform: fixed}
schedule:
  train:
    - {phase: sweep, steps: 0, clamp: {x: data.x, t: data.y}}
    - {update: [W]}
  predict:
    - {phase: sweep, steps: 0, clamp: {x: data.x}, read: y}
"""


def test_sums_over_units_rows_and_columns_and_other_cables_weights_equal_numpy(write_spec):
    # FF-like goodness gating, row and column norms, another cable's weights, one-unit broadcasting
    dW = ("outer(post * (1 - sigmoid(total(post ** 2) - 2)) * g, pre) - diag(rowsum(W * W)) @ W / 10"
          " + W @ diag(colsum(W)) * mean(g) / 10 + diag(colsum(V)) @ W * mean(total(t)) / 100")
    model = model_of(write_spec, SUMS.replace("DW", dW))
    x, t = model.data.x_train[:16], model.data.y_train[:16]
    w, v = model.weights["W"].copy(), model.weights["V"]
    y = np.tanh(x @ w.T)
    g = 1 / (1 + np.exp(-(y @ v.T)))
    scale = (1 - 1 / (1 + np.exp(-((y ** 2).sum(axis=1, keepdims=True) - 2)))) * g   # per example
    want = ((y * scale).T @ x / 16 - np.diag((w * w).sum(axis=1)) @ w / 10 + w @ np.diag(w.sum(axis=0)) * g.mean() / 10
            + np.diag(v.sum(axis=0)) @ w * t.sum(axis=1).mean() / 100)
    np.testing.assert_allclose(model.updates(x, t)["W"], want, rtol=1e-12, atol=1e-15)


def test_a_per_example_value_does_not_scale_a_matrix():
    with pytest.raises(SpecError) as exc:   # which example's g? a batch mean says it: mean(g) * W
        compile_text(SUMS.replace("DW", "outer(post, pre) + g * W"), "spec.yaml")
    assert str(exc.value) == ("spec.yaml:11:103: error: dW: '*' combines a per-example value of 1 unit(s) with a "
                              "(3 × 8) matrix; their shapes must agree (or one side be a number)")


@pytest.mark.parametrize("activation, message", [
    ("{phi: 'z / sqrt(total(z ** 2))'}", "spec.yaml:8:46: error: phi: its derivative cannot be found symbolically "
                                         "(total() couples elements); give dphi"),
    ("{phi: 'outer(z, z)'}", "spec.yaml:8:46: error: phi: is a (3 × 3) matrix; an activation gives each unit a "
                             "value"),
])
def test_an_activation_that_is_not_elementwise_says_what_it_needs(activation, message):
    with pytest.raises(SpecError) as exc:
        compile_text(linear("outer(post, pre)").replace("activation: tanh", f"activation: {activation}"), "spec.yaml")
    assert str(exc.value) == message


def test_a_normalising_activation_with_its_dphi_given_runs(write_spec):
    text = linear("outer(post, pre)").replace("activation: tanh",
                                              "activation: {phi: 'z / sqrt(total(z ** 2))', dphi: '0'}")
    model = model_of(write_spec, text)
    x = model.data.x_train[:16]
    a = x @ model.weights["W"].T + model.weights["W.bias"]
    np.testing.assert_allclose(model.predict(x), a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-12)


TOKENS = ["W", "post", "pre", "g", "t", "y", "y.phi", "x.z", "V", "nope", "y.nope", "0", "1", "2.5", "1e308", "-",
          "+", "*", "/", "**", "@", "(", ")", ",", "outer(", "mean(", "total(", "rowsum(", "colsum(", "diag(",
          "tril(", "exp(", "log(", "sign(", "step(", "open(", ".T", "[0]", "lambda", "if", "'s'", "é", "\\n", " "]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14))
def test_whatever_an_expression_holds_it_compiles_or_is_located(tokens):
    """Any string in dW: a plan whose generated code parses, or diagnostics that each have a place."""
    dW = "".join(tokens).replace('"', "")
    text = SUMS.replace('"DW"', json.dumps(dW))
    try:
        compiled = compile_text(text, "spec.yaml")
    except SpecError as exc:
        assert exc.diagnostics and all(d.line for d in exc.diagnostics), str(exc)
        return
    compile(codegen.generate(compiled.plan)[0], "<generated>", "exec")
