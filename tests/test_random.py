"""Randomness in the kernels: sampling neurons draw from a counter-based generator keyed by (seed,
trial, operator, step, element), so the jitted kernels and the reference interpreter draw the same
numbers, a seed reproduces a run, and the draws have the distribution they claim."""
import numpy as np
import pytest

import ngdsl
from ngdsl.compiler.ops import Signal
from ngdsl.runtime.library import normal01, uniform01

from conftest import load

SAMPLER = """ngdsl: 1
name: sampler
seed: 3
data: {dataset: digits, batch: 64}
components:
  x: {kind: input, size: 64}
  p: {kind: rate, size: 64, SAMPLE}
cables:
  I: {from: x, to: p, transform: identity}
schedule:
  train:
    - {phase: draw, steps: STEPS, clamp: {x: data.x}}
  predict:
    - {phase: draw, steps: STEPS, clamp: {x: data.x}, read: p}
"""


def _sampler(write_spec, sample="sample: bernoulli", steps=0, jit=True, seed=3):
    path = write_spec(SAMPLER.replace("SAMPLE", sample).replace("STEPS", str(steps)).replace("seed: 3", f"seed: {seed}"),
                      "sampler.yaml")
    return ngdsl.load(path, jit=jit)


def test_the_generator_is_uniform_and_uncorrelated():
    u = np.array([uniform01(7, 3, 1, 0, i) for i in range(100_000)])
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / len(u)) and 0 < u.min() and u.max() < 1
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(len(u))
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    chi2 = ((counts - len(u) / 20) ** 2 / (len(u) / 20)).sum()
    assert chi2 < 45   # 19 degrees of freedom: p < 0.001
    other_step = np.array([uniform01(7, 3, 1, 1, i) for i in range(2000)])
    assert abs(np.corrcoef(u[:2000], other_step)[0, 1]) < 0.1


def test_bernoulli_samples_follow_their_probabilities(write_spec):
    model = _sampler(write_spec)
    x = model.data.x_train   # pixels in [0, 1], read as probabilities through an identity neuron
    s = model.activity(x, "p.s")["p.s"]
    assert set(np.unique(s)) <= {0.0, 1.0}
    assert np.all(s[x == 0] == 0) and np.all(s[x == 1] == 1)
    for low, high in ((0.05, 0.35), (0.35, 0.65), (0.65, 0.95)):
        inside = (x > low) & (x < high)
        expected, spread = x[inside].sum(), np.sqrt((x[inside] * (1 - x[inside])).sum())
        assert abs(s[inside].sum() - expected) < 5 * spread


def test_gaussian_samples_add_noise_of_the_stated_spread(write_spec):
    model = _sampler(write_spec, "sample: gaussian, noise: 0.3")
    x = model.data.x_train
    noise = (model.activity(x, "p.s")["p.s"] - x).ravel()
    assert abs(noise.mean()) < 5 * 0.3 / np.sqrt(noise.size)
    assert abs(noise.std() - 0.3) < 0.01
    kurtosis = np.mean((noise / noise.std()) ** 4)
    assert abs(kurtosis - 3) < 0.1


def test_the_jit_and_the_reference_draw_the_same_numbers(write_spec):
    jit, reference = _sampler(write_spec, steps=3), _sampler(write_spec, steps=3, jit=False)
    x = jit.data.x_train[:64]
    first, again = jit.activity(x, "p.s")["p.s"], jit.activity(x, "p.s")["p.s"]
    np.testing.assert_array_equal(first, reference.activity(x, "p.s")["p.s"])
    np.testing.assert_array_equal(again, reference.activity(x, "p.s")["p.s"])
    assert not np.array_equal(first, again), "every trial draws afresh"


def test_the_draws_follow_the_seed(write_spec):
    x = _sampler(write_spec).data.x_train[:64]
    a, b, c = (_sampler(write_spec, seed=seed).activity(x, "p.s")["p.s"] for seed in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_draw_is_never_hoisted_out_of_the_settling_loop(write_spec):
    # the sampled neuron reads only a clamped input: without the purity flag it would be hoisted
    model = _sampler(write_spec, steps=4)
    phase = model.plan.routines["predict"].segments[0].phases[0]
    assert any(str(op) == "p.s ~ Bernoulli(p.phi)" for op in phase.step)
    assert not any("p.s" in str(op) for op in phase.hoisted)


def test_cd1_update_equals_the_statistics_of_its_own_samples():
    """EB-RBM-CD: ΔW = ⟨p(h|v) ⊗ v⟩ − ⟨p(h|v⁻) ⊗ v⁻⟩, v⁻ = σ(Wᵀ h + b), h the drawn hidden sample;
    Δc = ⟨p(h|v) − p(h|v⁻)⟩, Δb = ⟨v − v⁻⟩; written from the equations in float64."""
    model = load("rbm_digits.yaml", "dtype=float64", "cables.W.init={dist: normal, scale: 0.3}",
                 "cables.bv.init={dist: normal, scale: 0.3}")
    x, y = model.data.x_train[:10], model.data.y_train[:10]
    got = model.updates(x, y)
    h = model.executor.buffers(10)[Signal("h", "s")]
    w, c, b = model.weights["W"], model.weights["W.bias"], model.weights["bv"][:, 0]
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    p_data = sigmoid(x @ w.T + c)
    v_model = sigmoid(h @ w + b)
    p_model = sigmoid(v_model @ w.T + c)
    assert set(np.unique(h)) == {0.0, 1.0}
    np.testing.assert_allclose(got["W"], (p_data.T @ x - p_model.T @ v_model) / 10, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(got["W.bias"], (p_data - p_model).mean(axis=0), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(got["bv"][:, 0], (x - v_model).mean(axis=0), rtol=1e-10, atol=1e-13)


def test_normal_draws_are_keyed_like_uniform_ones():
    assert normal01(1, 2, 3, 4, 5) == normal01(1, 2, 3, 4, 5) != normal01(1, 2, 3, 4, 6)


@pytest.mark.parametrize("case", ["noise without gaussian", "s without sample"])
def test_sampling_mistakes_are_located(write_spec, case):
    text = SAMPLER.replace("STEPS", "0")
    if case == "noise without gaussian":
        text, expect = text.replace("SAMPLE", "noise: 0.3"), ("sampler.yaml:7:36: error: 'noise' is the spread of a "
                                                              "gaussian sample; component 'p' samples 'none': set "
                                                              "sample: gaussian or drop noise")
    else:
        text = text.replace("SAMPLE", "activation: tanh").replace("read: p}", "read: p.s}")
        expect = ("sampler.yaml:14:57: error: phase 'draw' reads 'p.s' but component 'p' draws no samples: give it "
                  "sample: bernoulli or gaussian to have an 's'")
    from ngdsl.compiler import SpecError
    with pytest.raises(SpecError) as err:
        ngdsl.load(write_spec(text, "sampler.yaml"))
    assert len(err.value.diagnostics) == 1 and str(err.value).endswith(expect)


STREAMS = """ngdsl: 1
name: streams
seed: 5
data:
  dataset: digits
  batch: 64
  streams:
    masked: {masked: x, p: 0.3}
    noisy: {noisy: x, noise: 0.2}
    wrong: {wrong_label: y}
components:
  a: {kind: input, size: 64}
  b: {kind: input, size: 64}
  w: {kind: input, size: 10}
  y: {kind: input, size: 10}
schedule:
  train:
    - {phase: see, steps: 0, clamp: {a: data.masked, b: data.noisy, w: data.wrong, y: data.y}}
  predict:
    - {phase: see, steps: 0, clamp: {a: data.masked, b: data.noisy, w: data.wrong, y: data.y}, read: a}
"""


def _streams(write_spec, jit=True):
    return ngdsl.load(write_spec(STREAMS, "streams.yaml"), jit=jit)


def test_derived_streams_are_what_they_say(write_spec):
    model = _streams(write_spec)
    x, y = model.data.x_train[:64], model.data.y_train[:64]
    bufs = model.executor._run("train", x, y)
    masked, noisy, wrong = (bufs[Signal(n, "z")] for n in "abw")
    dropped = (masked == 0) & (x != 0)
    assert np.all((masked == x) | dropped)
    assert abs(dropped.sum() / (x != 0).sum() - 0.3) < 0.03
    assert abs((noisy - x).std() - 0.2) < 0.01
    assert np.all(wrong.sum(axis=1) == 1) and not np.any(wrong.argmax(axis=1) == y.argmax(axis=1))


def test_streams_are_drawn_per_trial_alike_in_the_jit_and_the_reference(write_spec):
    jit, reference = _streams(write_spec), _streams(write_spec, jit=False)
    x, y = jit.data.x_train[:64], jit.data.y_train[:64]
    first = jit.executor._run("train", x, y)[Signal("b", "z")].copy()
    np.testing.assert_array_equal(first, reference.executor._run("train", x, y)[Signal("b", "z")])
    assert not np.array_equal(first, jit.executor._run("train", x, y)[Signal("b", "z")])


def test_every_stream_kind_has_a_runtime():
    from ngdsl.compiler.language import STREAMS
    from ngdsl.runtime.streams import DERIVE
    assert set(DERIVE) == set(STREAMS)


@pytest.mark.parametrize("case", ["unknown stream", "wrong labels of x", "a stream named x"])
def test_stream_mistakes_are_located(write_spec, case):
    text, expect = {
        "unknown stream": (STREAMS.replace("b: data.noisy, w", "b: data.noisi, w", 1),
                           "streams.yaml:18:57: error: clamp of 'b' to data.noisi, but the data has no stream 'noisi' "
                           "(did you mean 'noisy'?); it has x, y, masked, noisy, wrong (declare others in data.streams)"),
        "wrong labels of x": (STREAMS.replace("{wrong_label: y}", "{wrong_label: x}"),
                              "streams.yaml:10:26: error: stream 'wrong' draws wrong labels, so its source is y, not x"),
        "a stream named x": (STREAMS.replace("    wrong: {wrong_label: y}", "    wrong: {wrong_label: y}\n    x: {noisy: x}"),
                             "streams.yaml:11:5: error: 'x' is the dataset's own stream; name a derived stream otherwise"),
    }[case]
    from ngdsl.compiler import SpecError
    with pytest.raises(SpecError) as err:
        ngdsl.load(write_spec(text, "streams.yaml"))
    assert str(err.value).endswith(expect), str(err.value)


def test_predicting_between_training_batches_changes_no_training_draw():
    """Predictions count their trials apart from training's: a model evaluated after every batch
    trains to the same weights, bit for bit, as one never asked."""
    quiet, watched = load("ws_bars.yaml", "train.epochs=2"), load("ws_bars.yaml", "train.epochs=2")
    quiet.fit()
    watched.fit(on_batch=lambda: watched.predict(watched.data.x_test[:8]))
    for name in quiet.weights:
        np.testing.assert_array_equal(quiet.weights[name], watched.weights[name], err_msg=name)


CANDIDATES = """ngdsl: 1
name: candidates
seed: 1
dtype: float64
data:
  dataset: digits
  batch: 50
  streams:
    candidate: {every_label: y}
    mixed: {hybrid: x, blur: 3}
components:
  x: {kind: input, size: 64}
  l: {kind: input, size: 10}
  o: {kind: rate, size: 1}
cables:
  V: {from: x, to: o, rule: none, init: {dist: normal, scale: 0.3}}
  U: {from: l, to: o, rule: none, init: {dist: normal, scale: 1.0}}
schedule:
  train:
    - {phase: see, steps: 0, clamp: {x: data.mixed, l: data.y}}
  predict:
    - {phase: score, steps: 0, clamp: {x: data.x, l: data.candidate}, read: o}
metrics: [accuracy]
"""


def _hybrid_statistics(model):
    """(share of each image's differing pixels kept from itself, how often horizontal neighbours among
    them come from the same image) over one batch; every image is checked to mix it with another."""
    x, y = model.data.x_train[:50], model.data.y_train[:50]
    mixed = model.executor._run("train", x, y)[Signal("x", "z")]
    own, same, pairs = [], 0, 0
    for i in range(50):
        partners = [j for j in range(50) if j != i and np.all((mixed[i] == x[i]) | (mixed[i] == x[j]))]
        assert partners, f"example {i} is not a mix of itself and another"
        kept, differ = (mixed[i] == x[i]).reshape(8, 8), (x[i] != x[partners[0]]).reshape(8, 8)
        own.append(kept[differ].mean())
        both = differ[:, 1:] & differ[:, :-1]
        same += (kept[:, 1:] == kept[:, :-1])[both].sum()
        pairs += both.sum()
    return float(np.mean(own)), same / pairs


def test_hybrid_images_mix_two_examples_in_large_regions(write_spec):
    own, together = _hybrid_statistics(ngdsl.load(write_spec(CANDIDATES)))
    assert 0.35 < own < 0.65
    assert together > 0.7          # blurred: regions (0.82 measured)
    own, together = _hybrid_statistics(ngdsl.load(write_spec(CANDIDATES.replace("blur: 3", "blur: 0"))))
    assert together < 0.6          # unblurred: independent pixels (0.5 expected)


def test_a_prediction_tries_every_label(write_spec):
    model = ngdsl.load(write_spec(CANDIDATES))
    x = model.data.x_test[:7]
    scores = model.predict(x)   # o = V·x + U·onehot(k) for each candidate k
    assert scores.shape == (7, 10)
    np.testing.assert_allclose(scores, x @ model.weights["V"].T + model.weights["U"][0], rtol=1e-12)
    want = np.mean(np.argmax(model.predict(model.data.x_test), axis=1) == np.argmax(model.data.y_test, axis=1))
    assert model.evaluate()["test_accuracy"] == pytest.approx(want)


@pytest.mark.parametrize("case", ["every label in training", "readout of two units", "not a square",
                                  "shape of the wrong size"])
def test_candidate_and_hybrid_mistakes_are_located(write_spec, case):
    text, expect = {
        "every label in training": (CANDIDATES.replace("l: data.y}}", "l: data.candidate}}"),
                                    "streams.yaml:20:56: error: stream 'candidate' tries every label, which only schedule.predict does; "
                                    "in training clamp data.y or a wrong_label stream"),
        "readout of two units": (CANDIDATES.replace("o: {kind: rate, size: 1}", "o: {kind: rate, size: 2}"),
                                 "streams.yaml:22:77: error: schedule.predict tries every label (stream 'candidate'), so its readout "
                                 "scores one candidate and needs one unit; 'o.phi' has 2"),
        "not a square": (CANDIDATES.replace("mixed: {hybrid: x, blur: 3}", "mixed: {hybrid: y, blur: 3}"),
                         "streams.yaml:10:5: error: stream 'mixed' mixes images of data.y (width 10), which is not a square: give "
                         "shape: [rows, cols]"),
        "shape of the wrong size": (CANDIDATES.replace("blur: 3}", "blur: 3, shape: [4, 8]}"),
                                    "streams.yaml:10:40: error: shape 4 × 8 is 32 pixels, but data.x has width 64"),
    }[case]
    from ngdsl.compiler import SpecError
    with pytest.raises(SpecError) as err:
        ngdsl.load(write_spec(text, "streams.yaml"))
    assert any(str(d).endswith(expect) for d in err.value.diagnostics), str(err.value)


def test_a_trace_sees_the_streams_of_its_own_examples(write_spec):
    # Model.trace runs the kernels itself: it draws the streams for its examples (the first candidate
    # label where predict tries every one), not what the last prediction left in the buffers
    model = ngdsl.load(write_spec(CANDIDATES))
    model.predict(model.data.x_test[:5])           # leaves the last candidate's label behind
    traced = model.trace(model.data.x_test[:5], "l")["l"]
    np.testing.assert_array_equal(traced[-1], np.tile(np.eye(10)[0], (5, 1)))
