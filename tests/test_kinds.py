"""Component kinds are a registry: a kind is one module, and one defined outside the package works."""
import numpy as np
import pytest

import ngdsl
from ngdsl.compiler import SpecError, compile_text
from ngdsl.compiler.kinds import REGISTRY, Kind
from ngdsl.compiler.ops import Clamp, DataSource
from ngdsl.compiler.schema import build_schema


class Tonic(Kind):
    """A register held at a constant level: the 'one' inputs some specs clamp to 1, as a kind."""

    name = "tonic"
    about = "a register held at its level"
    compartments = ("z",)
    register = True
    options = {"level": {"type": "number", "description": "the value it holds"}}
    defaults = {"level": 1.0}
    colour = "#eeeeee"

    def rest(self, planner, name):
        return [Clamp(name, DataSource(constant=float(planner.components[name].opts["level"])))]


SPEC = """ngdsl: 1
name: tonic
dtype: float64
data: {dataset: blobs, features: 2, centers: 2, batch: 4}
components:
  x: {kind: input, size: 2}
  t: {kind: tonic, size: 2, level: 3.0}
  y: {kind: rate, size: 2}
cables:
  a: {from: x, to: y, transform: identity}
  b: {from: t, to: y, transform: identity}
schedule:
  train:
    - {phase: sweep, steps: 0, clamp: {x: data.x}}
  predict:
    - {phase: sweep, steps: 0, clamp: {x: data.x}, read: y}
"""


@pytest.fixture
def tonic(monkeypatch):
    monkeypatch.setitem(REGISTRY, "tonic", Tonic())


def test_every_kind_declares_what_the_compiler_reads():
    for name, kind in REGISTRY.items():
        assert kind.name == name and kind.about and kind.compartments and kind.colour
        assert set(kind.drivable) <= set(kind.compartments) and (kind.driven in kind.drivable or not kind.drivable)
        assert not kind.advances or kind.register   # a kind with dynamics keeps its values between steps
    assert set(build_schema()["properties"]["components"]["additionalProperties"]["properties"]["kind"]["enum"]) \
        == set(REGISTRY)


def test_a_kind_registered_outside_the_package_compiles_runs_and_draws(tonic, write_spec):
    model = ngdsl.load(write_spec(SPEC))
    x = model.data.x_train[:4]
    np.testing.assert_array_equal(model.predict(x), x + 3.0)
    np.testing.assert_array_equal(model.activity(x, "t")["t"], np.full((4, 2), 3.0))   # its output is z
    assert model.compiled.graph.nodes["t"]["colour"] == "#eeeeee"


def test_a_kinds_options_are_checked_like_any_other(tonic):
    with pytest.raises(SpecError) as exc:
        compile_text(SPEC.replace("level: 3.0", "lvel: 3.0"), "spec.yaml")
    assert "unknown key 'lvel' in components/t (did you mean 'level'?)" in str(exc.value)
    with pytest.raises(SpecError) as exc:
        compile_text(SPEC.replace("t: {kind: tonic, size: 2, level: 3.0}", "t: {kind: tonic, size: 2, tau: 3.0}"),
                     "spec.yaml")
    assert "'tau' does not apply to a component of kind 'tonic' (it takes level, size)" in str(exc.value)


MEASURE = """ngdsl: 1
name: measure
seed: 1
dtype: float64
data: {dataset: digits, batch: 50}
components:
  x: {kind: input, size: 64}
  h: {kind: rate, size: 20, activation: relu}
  n: {kind: measure, size: 20, value: "h / (sqrt(total(h * h)) + eps)", constants: {eps: 0.0001}}
  o: {kind: rate, size: 3}
  g: {kind: measure, size: 1, value: "total(o * o) + total(x.z) / 64"}
cables:
  W: {from: x, to: h, rule: none, init: {dist: normal, scale: 0.3}}
  V: {from: n, to: o, rule: none, init: {dist: normal, scale: 1.0}}
schedule:
  train:
    - {phase: see, steps: 0, clamp: {x: data.x}}
  predict:
    - {phase: see, steps: 0, clamp: {x: data.x}, read: g}
"""


@pytest.mark.parametrize("backend", [{"jit": True}, {"jit": False}, {"optimize": False, "interpret": True}],
                         ids=["jit", "numpy", "interpreter"])
def test_a_measure_is_its_value_computed_after_what_it_reads(write_spec, backend):
    # n reads h and feeds o through a cable; g reads o: the sweep must order h, n, o, g
    model = ngdsl.load(write_spec(MEASURE), **backend)
    x = model.data.x_test[:7]
    h = np.maximum(x @ model.weights["W"].T, 0.0)
    o = (h / (np.sqrt(np.sum(h * h, axis=1, keepdims=True)) + 1e-4)) @ model.weights["V"].T
    want = np.sum(o * o, axis=1, keepdims=True) + x.sum(axis=1, keepdims=True) / 64
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-12)


@pytest.mark.parametrize("change, message", [
    (('value: "total(o * o) + total(x.z) / 64"', 'value: "total(o * o) + total(k.z)"'),
     "spec.yaml:11:60: error: the value of 'g' reads 'k.z' but there is no component 'k'"),
    (('value: "total(o * o) + total(x.z) / 64"', 'value: "g + 1"'),
     "spec.yaml:11:39: error: measure 'g' reads itself; its value is an expression of other components"),
    (('value: "total(o * o) + total(x.z) / 64"', 'value: "mean(o)"'),
     "spec.yaml:11:38: error: is a per-unit vector of 3; a measure of 1 unit takes one value per example for each "
     "(or one for all)"),
    (('value: "total(o * o) + total(x.z) / 64"', 'value: "exp(-sqdist(o, o))"'),
     "spec.yaml:11:38: error: is a (batch × batch) matrix over pairs of examples; a measure of 1 unit takes one value "
     "per example for each (or one for all)"),
    (('value: "total(o * o) + total(x.z) / 64"', 'value: "total(centre(o) @ o)"'),
     "spec.yaml:11:52: error: centre() takes a matrix over pairs of examples, e.g. centre(exp(-sqdist(x, x))); this is "
     "a per-example value of 3 unit(s)"),
    (('value: "total(o * o) + total(x.z) / 64"', 'value: "total(sqdist(o, o) @ mean(o))"'),
     "spec.yaml:11:60: error: a matrix over pairs of examples multiplies a per-example value; this is a per-unit "
     "vector of 3"),
    (('{kind: measure, size: 1, value: "total(o * o) + total(x.z) / 64"}', '{kind: measure, size: 1}'),
     "spec.yaml:11:6: error: measure 'g' needs a value: an expression of other components, e.g. value: "
     "'total(h * h)'"),
])
def test_measure_mistakes_are_located(change, message):
    from ngdsl.compiler import SpecError, compile_text
    text = MEASURE.replace(*change)
    assert text != MEASURE
    with pytest.raises(SpecError) as exc:
        compile_text(text, "spec.yaml")
    assert [str(d) for d in exc.value.diagnostics] == [message]
