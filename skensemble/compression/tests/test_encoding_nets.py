"""Wrappers of a net that encodes every table (``preprocessing="always"``) predict through its encoder."""

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.frozen import FrozenEstimator

from skensemble.compression import (DistilledClassifier, PrunedClassifier, PrunedRegressor, QuantizedClassifier)
from skensemble.nets import MLPNetClassifier, MLPNetRegressor


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)  # numeric columns of very different scales (proline ~1,000)
    return X, y


@pytest.fixture(scope="module")
def encoding_net(wine):
    X, y = wine
    return MLPNetClassifier((32,), preprocessing="always", max_epochs=40, random_state=0).fit(X, y)


@pytest.mark.parametrize("make, atol", [
    (lambda net: PrunedClassifier(FrozenEstimator(net), granularity="neuron", sparsity=0.5, fine_tune_epochs=2,
                                 random_state=0), 1e-6),
    (lambda net: PrunedClassifier(FrozenEstimator(net), granularity="weight", sparsity=0.5, fine_tune_epochs=0,
                                  random_state=0), 1e-6),
    # int8 weights against the float net inside: the same probabilities to int8 rounding
    (lambda net: QuantizedClassifier(FrozenEstimator(net), backend="weight-only", random_state=0), 0.02),
    (lambda net: DistilledClassifier(FrozenEstimator(net), MLPNetClassifier((16,), preprocessing="always",
                                                                            max_epochs=40), random_state=0), 1e-6),
], ids=["neurons", "weights", "int8", "distilled"])
def test_numeric_rows_reach_the_module_through_the_encoder(wine, encoding_net, make, atol):
    """A numeric table was handed to the module unencoded by the wrappers' fast path (0.38 accuracy on digits)."""
    X, y = wine
    assert encoding_net.score(X, y) > 0.95  # unscaled wine: the encoder is what makes this net work
    model = make(encoding_net).fit(X, y)
    inner = getattr(model, "estimator_", None) or model.student_
    np.testing.assert_allclose(model.predict_proba(X), inner.predict_proba(X), rtol=1e-5, atol=atol)
    assert model.score(X, y) > 0.9


def test_regressor_wrapper_predicts_through_the_encoder(wine):
    X, _ = wine
    y = X[:, 0] * 3.0 + X[:, 12] / 100.0
    net = MLPNetRegressor((16,), preprocessing="always", max_epochs=40, random_state=0).fit(X[:, 1:12], y)
    pruned = PrunedRegressor(FrozenEstimator(net), granularity="neuron", sparsity=0.5, fine_tune_epochs=1,
                             random_state=0).fit(X[:, 1:12], y)
    np.testing.assert_allclose(pruned.predict(X[:, 1:12]), pruned.estimator_.predict(X[:, 1:12]), rtol=1e-5)
