"""``python -m benchmarks.rbm [--epochs N]``: the RBM of ``specs/rbm_digits.yaml`` beside
scikit-learn's ``BernoulliRBM`` on the same nudged digits and the same split: seconds per training
epoch, and test accuracy of a logistic regression on each one's hidden probabilities (scikit-learn's
example: ``LogisticRegression(C=6000)``), with raw pixels as the baseline.

The two train differently on purpose of their authors: BernoulliRBM runs persistent chains (PCD)
and samples the visible units; the spec runs CD-1 on probabilities. Same units (100), learning rate
(0.06), batch (10) and epochs.
"""
from __future__ import annotations

import os

from ngdsl.runtime.threads import STANDARD_VARIABLES  # loads no numpy: the settings below still act

for _var in STANDARD_VARIABLES:
    os.environ.setdefault(_var, "1")

import argparse
import time

import numpy as np

import ngdsl

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(os.path.dirname(HERE), "specs", "rbm_digits.yaml")


def logistic_accuracy(train, y_train, test, y_test):
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=6000, max_iter=2000)
    classifier.fit(train, y_train.argmax(axis=1))
    return float(np.mean(classifier.predict(test) == y_test.argmax(axis=1)))


def ours(epochs):
    model = ngdsl.load(SPEC, set=[f"train.epochs={epochs}"])
    model.fit()
    data = model.data
    features = {split: model.activity(x, "h")["h"] for split, x in (("train", data.x_train), ("test", data.x_test))}
    return {"seconds per epoch": float(np.median([r["seconds"] for r in model.history])),
            "readout trained alongside": model.history[-1]["test_accuracy"],
            "logistic regression on h": logistic_accuracy(features["train"], data.y_train, features["test"],
                                                          data.y_test)}, data


def scikit_learn(data, epochs):
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(n_components=100, learning_rate=0.06, batch_size=10, n_iter=epochs, random_state=0)
    start = time.perf_counter()
    rbm.fit(data.x_train)
    seconds = (time.perf_counter() - start) / epochs
    return {"seconds per epoch": seconds,
            "logistic regression on h": logistic_accuracy(rbm.transform(data.x_train), data.y_train,
                                                          rbm.transform(data.x_test), data.y_test)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)
    mine, data = ours(args.epochs)
    theirs = scikit_learn(data, args.epochs)
    raw = logistic_accuracy(data.x_train, data.y_train, data.x_test, data.y_test)
    print(f"nudged digits: {len(data.x_train)} train / {len(data.x_test)} test, 100 hidden units, {args.epochs} epochs")
    print(f"{'':28s}{'ngdsl (CD-1)':>16s}{'BernoulliRBM (PCD)':>20s}")
    print(f"{'seconds per epoch':28s}{mine['seconds per epoch']:16.4f}{theirs['seconds per epoch']:20.4f}")
    print(f"{'logistic regression on h':28s}{mine['logistic regression on h']:16.3f}"
          f"{theirs['logistic regression on h']:20.3f}")
    print(f"{'readout trained alongside':28s}{mine['readout trained alongside']:16.3f}{'—':>20s}")
    print(f"logistic regression on raw pixels: {raw:.3f}")
    print(f"time ratio BernoulliRBM / ngdsl: {theirs['seconds per epoch'] / mine['seconds per epoch']:.2f}")


if __name__ == "__main__":
    main()
