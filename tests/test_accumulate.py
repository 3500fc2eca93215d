"""ΔW accumulated over phases: a phase's `accumulate` evaluates a cable's rule once the phase has
settled and adds it, times a number, to the trial's ΔW; the next update applies the sum."""
import numpy as np
import pytest

import ngdsl
from ngdsl.compiler import SpecError, compile_text

from conftest import spec_path

#: contrastive Hebbian learning written as one Hebbian rule added in the clamped phase and subtracted
#: in the free one — chl_xor.yaml says the same with snapshots and the contrastive rule
CHL = """ngdsl: 1
name: chl-accumulated
seed: 0
dtype: float64
data: {dataset: xor, repeat: 1, test_fraction: 0.0, batch: 4}
components:
  x: {kind: input, size: 2}
  h: {kind: state, size: 8, activation: sigmoid, leak: 1.0, dt: 0.2}
  o: {kind: state, size: 1, leak: 1.0, dt: 0.2}
cables:
  W1:  {from: x, to: h, bias: true, init: {dist: uniform, scale: 1.5}, rule: {hebbian: {scale: 5.0}}}
  W2:  {from: h, to: o, bias: true, init: {dist: uniform, scale: 1.5}, rule: hebbian}
  W2t: {from: o, to: h, tied: W2, transpose: true, scale: 0.2}
schedule:
  train:
    - {phase: clamped, steps: 40, clamp: {x: data.x, o: data.y}, init: zero, accumulate: [W1, W2]}
    - {phase: free, steps: 40, clamp: {x: data.x}, init: keep, accumulate: {W1: -1, W2: -1}}
    - {update: [W1, W2]}
  predict:
    - {phase: free, steps: 40, clamp: {x: data.x}, init: zero, read: o.z}
train: {epochs: 500, optimizer: {adam: {lr: 0.05}}}
metrics: [accuracy, mse]
"""

BACKENDS = [{"jit": True}, {"jit": False}, {"optimize": False, "interpret": True}]


@pytest.mark.parametrize("backend", BACKENDS, ids=["jit", "numpy", "interpreter"])
def test_accumulated_phases_equal_the_contrastive_rule(write_spec, backend):
    accumulated = ngdsl.load(write_spec(CHL), **backend)
    contrastive = ngdsl.load(spec_path("chl_xor.yaml"), set=["dtype=float64"], **backend)
    x, y = contrastive.data.x_train[:4], contrastive.data.y_train[:4]
    for _ in range(3):   # the ΔW, then the weights after the trials apply it
        want, got = contrastive.updates(x, y), accumulated.updates(x, y)
        assert want.keys() == got.keys()
        for name in want:
            assert np.abs(want[name]).max() > 1e-3
            np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)
        contrastive.executor.train_batch(x, y)
        accumulated.executor.train_batch(x, y)
    for name in contrastive.weights:
        np.testing.assert_allclose(accumulated.weights[name], contrastive.weights[name], rtol=0, atol=1e-12)


def test_each_phase_adds_its_own_multiple(write_spec):
    # Only the clamped phase counts, three times over: ΔW = 3·⟨post ⊗ pre⟩ of the clamped phase.
    text = CHL.replace("accumulate: {W1: -1, W2: -1}", "accumulate: {W1: 0, W2: 0}")
    thrice = CHL.replace("accumulate: [W1, W2]}", "accumulate: {W1: 3, W2: 3}}").replace(
        "accumulate: {W1: -1, W2: -1}", "accumulate: {W1: 0, W2: 0}")
    once, three = ngdsl.load(write_spec(text)), ngdsl.load(write_spec(thrice, "thrice.yaml"))
    x, y = once.data.x_train[:4], once.data.y_train[:4]
    a, b = once.updates(x, y), three.updates(x, y)
    for name in a:
        assert np.abs(a[name]).max() > 1e-3
        np.testing.assert_allclose(b[name], 3 * a[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 3])
def test_accumulated_chl_solves_xor_and_its_clamped_half_alone_does_not(write_spec, seed):
    # 5 seeds: 100% on every one; Hebbian on the clamped phase alone (the free phase's share at 0): 50% on every one
    model = ngdsl.load(write_spec(CHL.replace("seed: 0", f"seed: {seed}")))
    model.fit(epochs=500)
    assert model.history[-1]["train_accuracy"] == 1.0
    control = ngdsl.load(write_spec(CHL.replace("seed: 0", f"seed: {seed}").replace(
        "accumulate: {W1: -1, W2: -1}", "accumulate: {W1: 0, W2: 0}"), "control.yaml"))
    control.fit(epochs=500)
    assert control.history[-1]["train_accuracy"] <= 0.75


@pytest.mark.parametrize("change, message", [
    (("- {update: [W1, W2]}", "- {update: [W1]}"),
     "spec.yaml:16:95: error: phase 'clamped' adds to the ΔW of 'W2', but the update after it does not apply it "
     "(add 'W2' to that 'update:')"),
    (("    - {update: [W1, W2]}\n", "    - {update: [W1, W2]}\n    - {phase: again, steps: 1, accumulate: [W2]}\n"),
     "spec.yaml:19:45: error: phase 'again' adds to the ΔW of 'W2', but no update after it applies it "
     "(add an 'update: [W2]' after the phase)"),
    (("accumulate: [W1, W2]}", "accumulate: [W1, W3]}"),
     "spec.yaml:16:95: error: accumulate names no cable 'W3'"),
    (("init: zero, read: o.z}", "init: zero, read: o.z, accumulate: [W1]}"),
     "spec.yaml:20:88: error: 'predict' cannot change weights; accumulate belongs in schedule.train"),
    (("init: zero, accumulate: [W1, W2]}", "init: zero, learn: [W1], accumulate: [W1, W2]}"),
     "spec.yaml:16:104: error: the phase changes 'W1' every step (learn); it cannot also accumulate its ΔW"),
    (("accumulate: {W1: -1, W2: -1}", "accumulate: {W1: -1, W2t: -1}"),
     "spec.yaml:17:90: error: cable 'W2t' has no rule to accumulate (it is tied or has rule 'none')"),
])
def test_an_accumulation_nothing_applies_is_named(change, message):
    text = CHL.replace(*change)
    assert text != CHL
    with pytest.raises(SpecError) as exc:
        compile_text(text, "spec.yaml")
    assert [str(d) for d in exc.value.diagnostics] == [message]
