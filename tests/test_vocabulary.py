"""The spec language's vocabularies are declared once for the compiler (compiler/language.py) and
implemented once in the runtime; these tests fail when a name is declared without an
implementation, or implemented without being declared (it could never be reached)."""
import inspect

import numpy as np

from ngdsl.compiler import language
from ngdsl.runtime import data, executor, library, metrics, optimizers, streams


def test_every_metric_is_implemented_and_knows_which_way_is_better():
    assert set(language.METRICS) == set(metrics.METRICS) == set(metrics.HIGHER_IS_BETTER)


def test_every_optimizer_takes_exactly_the_parameters_the_schema_allows():
    assert set(language.OPTIMIZERS) == set(optimizers.OPTIMIZERS)
    for name, (params, defaults) in language.OPTIMIZERS.items():
        taken = set(inspect.signature(optimizers.OPTIMIZERS[name]).parameters) - {"params"}
        assert taken == set(params) == set(defaults), name


def test_every_dataset_has_a_loader():
    assert set(language.DATASETS) == set(data.LOADERS)


def test_every_activation_sampling_and_init_is_implemented():
    assert set(language.ACTIVATIONS) == set(library.ACTIVATIONS)
    assert set(language.SAMPLES) - {"none"} == set(library.SAMPLES)
    assert set(language.INITS) - {"samples", "lattice"} == set(executor.INITIALIZERS)   # data rows; the lattice's distances


def test_every_derived_weight_has_its_function():
    assert set(language.DERIVED) == set(executor.DERIVED)


def test_every_stream_kind_is_derived():
    assert set(language.STREAMS) == set(streams.DERIVE)


def test_the_two_mean_squared_errors_are_what_the_readme_says():
    pred, y = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
    assert metrics.mse(pred, y) == 0.5 * (1 + 4 + 1) / 2               # ½ summed over outputs, mean over examples
    assert metrics.mean_squared_error(pred, y) == (1 + 4 + 0 + 1) / 4   # mean over elements
