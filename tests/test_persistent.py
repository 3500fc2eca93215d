"""Persistent states (lifetime: persistent): a Gibbs chain carried from trial to trial, untouched by
predict and evaluate, checkpointed with the weights; and what makes persistent CD worth it — its
negative statistics approach the model's own expectation, which CD-1's do not (EB-PCD)."""
import itertools

import numpy as np
import pytest

import ngdsl
from ngdsl.compiler.ops import Signal

from conftest import load

TINY = """ngdsl: 1
name: tiny-rbm
seed: 1
dtype: float64
data: {dataset: npz, path: patterns.npz, y: null, test_fraction: 0.0, batch: 32}
components:
  v:   {kind: input, size: 4}
  one: {kind: input, size: 1}
  h:   {kind: rate, size: 3, activation: sigmoid, sample: bernoulli}
  NEGATIVE
cables:
  W:   {from: v, to: h, bias: true, init: {dist: normal, scale: 1.5}, rule: {contrastive: {negative_pre: vc.s, negative_post: hm}}}
  bv:  {from: one, to: vc, init: {dist: normal, scale: 1.0}, rule: {contrastive: {post: v, negative_post: vc.s}}}
  Wm:  {from: vc.s, to: hm, tied: W, bias: true}
  CHAIN
schedule:
  train:
    - {phase: gibbs, steps: STEPS, clamp: {v: data.x, one: 1.0}}
    - {update: [W, bv]}
train: {epochs: 1, optimizer: {sgd: {lr: 0.01}}}   # the tests form updates, never apply them
"""
PCD = ("""hc:  {kind: state, size: 3, activation: sigmoid, sample: bernoulli, dt: 1.0, leak: 1.0, lifetime: persistent}
  vc:  {kind: rate, size: 4, activation: sigmoid, sample: bernoulli}
  hm:  {kind: rate, size: 3, activation: sigmoid}""",
       """Wv:  {from: hc.s, to: vc, tied: W, transpose: true}
  Wh:  {from: vc.s, to: hc, tied: W, bias: true}""")
CD1 = ("""vc:  {kind: rate, size: 4, activation: sigmoid, sample: bernoulli}
  hm:  {kind: rate, size: 3, activation: sigmoid}""",     # the chain starts at the data's hidden sample
       """Wv:  {from: h.s, to: vc, tied: W, transpose: true}""")
PATTERNS = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]], dtype=float)


def _tiny(tmp_path, form, steps=1):
    np.savez(tmp_path / "patterns.npz", x=np.tile(PATTERNS, (8, 1)))
    negative, chain = form
    (tmp_path / "tiny.yaml").write_text(TINY.replace("NEGATIVE", negative).replace("CHAIN", chain)
                                        .replace("STEPS", str(steps)))
    return ngdsl.load(str(tmp_path / "tiny.yaml"))


def _model_expectation(w, b, c):
    """⟨h vᵀ⟩ and ⟨v⟩ under the RBM's own distribution, by enumerating all 2^7 states."""
    states = [(np.array(v, float), np.array(h, float)) for v in itertools.product((0, 1), repeat=4)
              for h in itertools.product((0, 1), repeat=3)]
    weights = np.array([np.exp(h @ w @ v + b @ v + c @ h) for v, h in states])
    weights /= weights.sum()
    return sum(p * np.outer(h, v) for p, (v, h) in zip(weights, states)), sum(p * v for p, (v, _) in zip(weights, states))


def _negative_statistics(model, trials):
    """The negative statistics ⟨p(h|v⁻) v⁻ᵀ⟩ and ⟨v⁻⟩ averaged over trials (= positive − ΔW)."""
    x = model.data.x_train
    w, c = model.weights["W"], model.weights["W.bias"]
    positive = (1 / (1 + np.exp(-(x @ w.T + c)))).T @ x / len(x)
    hv, v = np.zeros_like(w), np.zeros(4)
    for _ in range(trials):
        delta = model.updates(x, np.zeros((len(x), 1)))
        hv += positive - delta["W"]
        v += x.mean(axis=0) - delta["bv"][:, 0]
    return hv / trials, v / trials


def test_persistent_chains_approach_the_models_expectation_and_cd1_does_not(tmp_path):
    pcd, cd1 = _tiny(tmp_path, PCD), _tiny(tmp_path, CD1)
    for name in ("W", "W.bias", "bv"):
        np.testing.assert_array_equal(pcd.weights[name], cd1.weights[name])
    w, c, b = pcd.weights["W"], pcd.weights["W.bias"], pcd.weights["bv"][:, 0]
    exact_hv, exact_v = _model_expectation(w, b, c)
    _negative_statistics(pcd, 200)   # burn in the chains
    pcd_hv, pcd_v = _negative_statistics(pcd, 3000)
    cd1_hv, cd1_v = _negative_statistics(cd1, 3000)
    pcd_error, cd1_error = np.abs(pcd_hv - exact_hv).max(), np.abs(cd1_hv - exact_hv).max()
    assert pcd_error < 0.02 and np.abs(pcd_v - exact_v).max() < 0.02
    assert cd1_error > 3 * pcd_error, (pcd_error, cd1_error)


def test_a_chain_starts_each_trial_where_the_last_one_left_it(tmp_path):
    model = _tiny(tmp_path, PCD)
    x, none = model.data.x_train, np.zeros((32, 1))
    model.updates(x, none)
    ended = {s: a.copy() for s, a in model.executor.chains.items()}
    assert np.any(ended[Signal("hc", "z")] != 0)
    model.evaluate()
    model.predict(x) if "predict" in model.plan.routines else None
    for s, a in ended.items():   # nothing but a training trial moves a chain
        np.testing.assert_array_equal(model.executor.chains[s], a)
    trial = int(model.executor.draw[1])
    got = model.updates(x, none)

    # the same trial in the reference interpreter, its chain set to where the last one ended
    reference = ngdsl.load(str(tmp_path / "tiny.yaml"), jit=False)
    for s, a in ended.items():
        reference.executor.chains[s][...] = a
    reference.executor.draw[1] = trial
    np.testing.assert_allclose(reference.updates(x, none)["W"], got["W"], rtol=1e-12, atol=1e-14)
    restarted = ngdsl.load(str(tmp_path / "tiny.yaml"))   # a chain from zero gives another update
    restarted.executor.draw[1] = trial
    assert not np.allclose(restarted.updates(x, none)["W"], got["W"])


def test_a_training_trial_takes_at_most_a_batch_of_chains(tmp_path):
    model = _tiny(tmp_path, PCD)
    x = np.tile(PATTERNS, (10, 1))
    with pytest.raises(ValueError, match="'hc' is a persistent state with one row per example of a training batch "
                                         r"\(32\); a training trial takes at most that many examples, not 40"):
        model.updates(x, np.zeros((40, 1)))


def test_the_chains_are_part_of_the_checkpoint():
    model = load("pcd_digits.yaml")
    assert {k for k in model.executor.state() if k.startswith("chain/")} == {f"chain/hc.{c}" for c in
                                                                            ("z", "phi", "dphi", "in", "s")}


def test_bcm_reaches_the_selective_fixed_point():
    """IMP-BCM: one linear unit, two orthogonal unit patterns each shown with p = 1/2, eta 1e-3, the
    threshold averaging at rate 0.05: the response to one pattern tends to θ = 1/p = 2, to the other
    to 0, and θ to ⟨z²⟩ = 2 (10% for sampling noise)."""
    one = [f"components.{c}.size=1" for c in ("z", "theta", "d", "m")]
    model = load("bcm_selectivity.yaml", "data.n=2", "components.x.size=2", *one, "dtype=float64",
                 "train.optimizer={sgd: {lr: 0.001}}", "train.epochs=60")
    model.fit()
    responses = np.sort(model.predict(np.eye(2)).ravel())
    assert abs(responses[0]) < 0.05 and abs(responses[1] - 2) < 0.2, responses
    theta = model.executor.chains[Signal("theta", "z")]
    assert abs(theta[0, 0] - 2) < 0.2, theta
