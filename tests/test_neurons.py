"""Neurons written as equations: a leaky integrate-and-fire unit with spike-frequency adaptation
fires at the rate theory gives, steps identically in the kernel and the reference interpreter,
and every mistake in its equations is reported inside the string."""
import os

import numpy as np
import pytest
from scipy.optimize import brentq

import ngdsl
from ngdsl.compiler import SpecError, compile_text

CURRENTS = np.array([[1.2], [1.5], [2.0], [3.0]])
TAU, TAU_A, DT = 10.0, 100.0, 0.05

# dv/dt = (I − a − v)/τ, da/dt = −a/τ_a; a spike where v > 1 resets v to 0 and raises a by b.
# `count` adds up the spikes: a state integrating n.phi at rate 1.
LIF = """ngdsl: 1
name: lif
dtype: float64
data: {dataset: npz, path: currents.npz, test_fraction: 0.0, batch: 4, shuffle: false}
components:
  i: {kind: input, size: 1}
  n: {kind: neuron, size: 1, dt: DT,
      equations: {v: "(I - a - v) / tau", a: "-a / tau_a"},
      threshold: "v - 1", reset: {v: "0", a: "a + b"},
      constants: {tau: TAU, tau_a: TAU_A, b: 0.0}}
  count: {kind: state, size: 1, dt: 1.0, tau: 1.0}
cables:
  drive: {from: i, to: n, transform: identity}
  spikes: {from: n, to: count, transform: identity}
schedule:
  train:
    - {phase: run, steps: 10, clamp: {i: data.x}, init: zero}
  predict:
    - {phase: run, steps: 10, clamp: {i: data.x}, init: zero, read: count}
""".replace("TAU_A", str(TAU_A)).replace("TAU", str(TAU)).replace("DT", str(DT))


@pytest.fixture
def lif(tmp_path):
    np.savez(tmp_path / "currents.npz", x=CURRENTS, y=np.zeros((4, 1)))
    path = tmp_path / "lif.yaml"
    path.write_text(LIF)
    return str(path)


def steady_rates(path, b, jit=True, start=20000, stop=100000, overrides=()):
    """Spikes per unit time between steps ``start`` and ``stop`` (after adaptation has settled)."""
    counts = []
    for steps in (start, stop):
        model = ngdsl.load(path, set=[f"schedule.predict[0].steps={steps}", f"components.n.constants.b={b}",
                                      *overrides], jit=jit)
        counts.append(model.predict(CURRENTS)[:, 0])
    return (counts[1] - counts[0]) / ((stop - start) * DT)


def lif_rate(current):
    """The rate of a leaky integrate-and-fire unit (reset 0, threshold 1) under a constant current."""
    return 1.0 / (TAU * np.log(current / (current - 1.0))) if current > 1 else 0.0


def test_a_leaky_integrate_and_fire_neuron_fires_at_the_analytic_rate(lif):
    rates = steady_rates(lif, b=0.0)
    np.testing.assert_allclose(rates, [lif_rate(i) for i in CURRENTS[:, 0]], rtol=0.01)


def test_spike_frequency_adaptation_lowers_the_rate_to_its_self_consistent_value(lif):
    # With τ_a ≫ the interspike interval, a settles around its mean b·τ_a·r: the rate solves
    # r = rate(I − b·τ_a·r). Close for the currents where a unit fires ≥ 5 times per τ_a.
    b = 0.05
    rates = steady_rates(lif, b)
    expected = [brentq(lambda r: r - lif_rate(i - b * TAU_A * r), 0.0, lif_rate(i)) for i in CURRENTS[:, 0]]
    np.testing.assert_allclose(rates[1:], expected[1:], rtol=0.03)
    assert np.all(rates < 0.7 * np.array([lif_rate(i) for i in CURRENTS[:, 0]]))


def test_a_refractory_period_written_as_a_variable_lengthens_every_interspike_interval_by_itself(lif):
    # r counts down from t_ref after each spike and holds v at its reset meanwhile, so each interval is
    # t_ref + τ·ln(I / (I − 1))
    t_ref = 2.0
    refractory = ['components.n.equations={v: "(1 - step(r)) * (I - a - v) / tau", a: "-a / tau_a", r: "-step(r)"}',
                  'components.n.reset={v: "0", a: "a + b", r: "t_ref"}', f"components.n.constants.t_ref={t_ref}"]
    rates = steady_rates(lif, 0.0, overrides=refractory)
    np.testing.assert_allclose(rates, [1 / (t_ref + 1 / lif_rate(i)) for i in CURRENTS[:, 0]], rtol=0.01)


def test_the_kernel_and_the_reference_interpreter_spike_alike(lif):
    np.testing.assert_array_equal(steady_rates(lif, 0.05, jit=False, start=100, stop=3000),
                                  steady_rates(lif, 0.05, jit=True, start=100, stop=3000))


def test_a_neuron_variable_is_a_compartment_others_read(lif):
    model = ngdsl.load(lif, set=["schedule.predict[0].steps=30", "schedule.predict[0].read=n.v"])
    # below threshold for 30 steps: v = I·(1 − (1 − dt/τ)^30), Euler's exact solution
    np.testing.assert_allclose(model.predict(CURRENTS)[:, 0], CURRENTS[:, 0] * (1 - (1 - DT / TAU) ** 30), rtol=1e-12)


@pytest.mark.parametrize("old, new, message", [
    ('"(I - a - v) / tau"', '"(I - a - vv) / tau"',
     "8:32: error: neuron 'n' reads its variables (v, a), I (its input), its constants and its let names; 'vv' is none of them "
     "(did you mean 'v'?)"),
    ('"-a / tau_a"', '"-a / tua_a"',
     "8:52: error: neuron 'n' reads its variables (v, a), I (its input), its constants and its let names; 'tua_a' is none of them "
     "(did you mean 'tau_a'?)"),
    ('"v - 1"', '"v.__class__"',
     "9:19: error: attribute access is not part of the expression language; a signal is written component or "
     "component.compartment"),
    ('"0", a:', '"open(v)", a:',
     "9:39: error: 'open' is not a function of the expression language; it has exp, log, tanh, sigmoid, relu, abs, "
     "sign, sqrt, step, sin, cos, outer, mean, total, rowsum, colsum, tril, diag, sqdist, centre"),
    ("{v: \"(I", "{phi: \"(I",
     "8:19: error: 'phi' is taken; name the variable otherwise"),
    ('reset: {v: "0", a: "a + b"}', 'reset: {v: "0", w: "a + b"}',
     "9:43: error: reset names 'w', which is not a variable of neuron 'n'; it has v, a"),
])
def test_a_mistake_in_a_neurons_equations_is_located(lif, old, new, message):
    text = LIF.replace(old, new)
    assert text != LIF
    with pytest.raises(SpecError) as exc:
        compile_text(text, "spec.yaml", os.path.dirname(lif))
    assert str(exc.value.diagnostics[0]) == "spec.yaml:" + message


def test_a_neuron_cannot_be_clamped(lif):
    with pytest.raises(SpecError) as exc:
        compile_text(LIF.replace("clamp: {i: data.x}, init: zero, read", "clamp: {i: data.x, n: 0.0}, init: zero, "
                                                                          "read"), "spec.yaml", os.path.dirname(lif))
    assert "'n' is neuron: only input and state components can be clamped" in str(exc.value)


def test_per_unit_constants_and_named_subexpressions(lif):
    # each unit its own membrane time constant; the drive named once in `let`
    text = LIF.replace('equations: {v: "(I - a - v) / tau", a: "-a / tau_a"},',
                       'let: {drive: "I - a"}, equations: {v: "(drive - v) / tau", a: "-a / tau_a"},')
    text = text.replace("constants: {tau: 10.0,", "constants: {tau: [5.0, 10.0, 20.0, 40.0],")
    text = text.replace("size: 1, dt:", "size: 4, dt:").replace("i: {kind: input, size: 1}", "i: {kind: input, size: 4}")
    text = text.replace("count: {kind: state, size: 1,", "count: {kind: state, size: 4,")
    text = text.replace("currents.npz", "wide.npz")
    folder = os.path.dirname(lif)
    np.savez(os.path.join(folder, "wide.npz"), x=np.full((4, 4), 2.0), y=np.zeros((4, 1)))
    path = os.path.join(folder, "wide.yaml")
    with open(path, "w") as f:
        f.write(text)
    rates = []
    for jit, interpret in ((True, False), (False, True)):
        counts = []
        for steps in (2000, 42000):
            model = ngdsl.load(path, set=[f"schedule.predict[0].steps={steps}"], jit=jit, interpret=interpret)
            counts.append(model.predict(np.full((1, 4), 2.0))[0])
        rates.append((counts[1] - counts[0]) / (40000 * DT))
    taus = np.array([5.0, 10.0, 20.0, 40.0])
    np.testing.assert_allclose(rates[0], 1 / (taus * np.log(2.0)), rtol=0.02)   # I = 2: T = τ ln 2
    np.testing.assert_array_equal(rates[0], rates[1])   # the kernels and the NumPy interpreter


def test_a_per_unit_constant_has_one_value_per_unit(lif):
    with pytest.raises(SpecError) as exc:
        compile_text(LIF.replace("constants: {tau: 10.0,", "constants: {tau: [10.0, 5.0],"), "spec.yaml",
                     os.path.dirname(lif))
    assert str(exc.value.diagnostics[0]) == "spec.yaml:10:24: error: 'tau' has 2 values; neuron 'n' has 1 unit"
