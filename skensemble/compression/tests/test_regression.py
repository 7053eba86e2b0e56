"""Pruning and quantization of net regressors (one and several targets)."""

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, make_regression
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from torch import nn

from skensemble.compression import (
    PrunedClassifier,
    PrunedRegressor,
    QuantizedClassifier,
    QuantizedRegressor,
)
from skensemble.nets import ConvNetRegressor, MLPNetClassifier, MLPNetRegressor


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def _synthetic():
    X, y = make_regression(2000, 20, n_informative=10, noise=10.0, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.fixture(scope="module", params=["diabetes", "synthetic"])
def task(request):
    X_train, X_test, y_train, y_test = _diabetes() if request.param == "diabetes" else _synthetic()
    net = MLPNetRegressor((256, 256), early_stopping=True, batch_size=32, max_epochs=200,
                          random_state=0).fit(X_train, y_train)
    return net, X_train, X_test, y_train, y_test


def test_neuron_pruning_keeps_r2(task):
    net, X_train, X_test, y_train, y_test = task
    dense = net.score(X_test, y_test)
    pruned = PrunedRegressor(FrozenEstimator(net), sparsity=0.5, granularity="neuron",
                             fine_tune_epochs=2, random_state=0).fit(X_train, y_train)
    assert pruned.n_params_ <= 0.30 * pruned.n_params_dense_
    assert pruned.score(X_test, y_test) >= dense - 0.02
    assert pruned.predict(X_test).shape == y_test.shape


@pytest.mark.parametrize("backend, method", [("auto", "dynamic"), ("torch", "dynamic"),
                                             ("torch", "static"), ("onnxruntime", "static")])
def test_int8_is_smaller_and_keeps_r2(task, backend, method):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    net, X_train, X_test, y_train, y_test = task
    q = QuantizedRegressor(FrozenEstimator(net), backend=backend, method=method,
                           random_state=0).fit(X_train, y_train)
    # torch's static int8 stores per-channel scales and zero points (int64) beside the
    # weights: 3.25x on these 256-wide nets, where the others stay above 3.5x
    assert q.compression_ratio_ >= (3.2 if (backend, method) == ("torch", "static") else 3.5)
    assert q.score(X_test, y_test) >= net.score(X_test, y_test) - 0.01
    # predictions come from the int8 model, in the target's units
    assert not np.array_equal(q.predict(X_test), net.predict(X_test))
    close = np.isclose(q.predict(X_test), net.predict(X_test), rtol=0.1, atol=0.05 * y_test.std())
    if method == "static":
        # static int8 clips activations at the calibrated range: a test row beyond the training
        # rows' range may move further (1 of 111 diabetes rows: 46 for 28)
        assert close.mean() >= 0.99
    else:
        assert close.all()


def test_half_precision_and_deep_compression(task):
    net, X_train, X_test, y_train, y_test = task
    half = QuantizedRegressor(FrozenEstimator(net), dtype="bfloat16").fit(X_train, y_train)
    assert half.backend_ == "half" and half.compression_ratio_ > 1.9
    deep = QuantizedRegressor(PrunedRegressor(FrozenEstimator(net), sparsity=0.5, granularity="neuron",
                                              fine_tune_epochs=2, random_state=0)).fit(X_train, y_train)
    assert deep.score(X_test, y_test) >= net.score(X_test, y_test) - 0.03
    assert deep.size_bytes_ < 0.1 * deep.size_bytes_float_ * 4  # int8 of a quarter of the weights


def test_multi_output_pruning_and_quantization():
    X, Y = make_regression(600, 8, n_targets=3, noise=1.0, random_state=0)
    Y = Y * [1, 10, 100] + [0, 5, -300]  # targets of different scales
    net = MLPNetRegressor((64, 64), max_epochs=100, lr=0.01, random_state=0)
    pruned = PrunedRegressor(net, sparsity=0.5, granularity="neuron", random_state=0).fit(X, Y)
    q = QuantizedRegressor(FrozenEstimator(pruned.estimator_)).fit(X, Y)
    for model in (pruned, q):
        assert model.predict(X).shape == (600, 3)
        assert model.score(X, Y) > 0.9
    assert pruned.estimator_.module_.layers[-1].out_features == 3


def test_conv_regressor_is_pruned_by_channels():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 32))
    y = np.abs(X[:, 10:13]).sum(axis=1)
    conv = ConvNetRegressor((1, 32), channels=(16,), hidden_layer_sizes=(32,), max_epochs=40,
                            lr=0.01, random_state=0)
    pruned = PrunedRegressor(conv, sparsity=0.5, granularity="neuron", scope="layer",
                             random_state=0).fit(X, y)
    convs = [m for m in pruned.estimator_.module_.layers if isinstance(m, nn.Conv1d)]
    assert convs[0].out_channels == 8
    assert pruned.score(X, y) > 0.5


def test_the_wrong_task_is_refused_before_training():
    X, y = make_regression(50, 4, random_state=0)
    with pytest.raises(ValueError, match="PrunedRegressor needs a regressor.*MLPNetClassifier.*PrunedClassifier"):
        PrunedRegressor(MLPNetClassifier()).fit(X, y)
    with pytest.raises(ValueError, match="QuantizedClassifier needs a classifier.*MLPNetRegressor"):
        QuantizedClassifier(MLPNetRegressor()).fit(X, y > 0)
    with pytest.raises(ValueError, match="needs a classifier"):
        PrunedClassifier(FrozenEstimator(MLPNetRegressor((4,), max_epochs=1).fit(X, y))).fit(X, y > 0)
    with pytest.raises(ValueError, match="NaN"):
        PrunedRegressor(MLPNetRegressor()).fit(X, np.where(np.arange(50) == 3, np.nan, y))


def test_grid_search_and_cross_validate_in_a_column_pipeline():
    rng = np.random.RandomState(0)
    import pandas as pd

    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400),
                          "city": rng.choice(["x", "y", "z"], size=400)})
    y = 3 * frame["a"] - frame["b"] + frame["city"].map({"x": 0.0, "y": 2.0, "z": -2.0})
    pipe = Pipeline([
        ("columns", ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                                       ("cat", OneHotEncoder(), ["city"])])),
        ("pruned", PrunedRegressor(MLPNetRegressor((32,), max_epochs=60, lr=0.01, random_state=0),
                                   granularity="neuron", fine_tune_epochs=2, random_state=0)),
    ])
    search = GridSearchCV(pipe, {"pruned__sparsity": [0.25, 0.75]}, cv=2).fit(frame, y)
    assert search.best_score_ > 0.8
    scores = cross_validate(pipe, frame, y, cv=2, n_jobs=2, error_score="raise")["test_score"]
    assert np.all(scores > 0.8)


def test_predictions_validate_once_and_equal_the_inner_net(monkeypatch):
    X, y = make_regression(200, 5, noise=1.0, random_state=0)
    pruned = PrunedRegressor(MLPNetRegressor((16,), max_epochs=10, random_state=0), granularity="neuron",
                             fine_tune_epochs=0, random_state=0).fit(X, y)
    inner = pruned.estimator_
    expected = inner.predict(X)
    calls, encode = [], inner.table_encoder_.encode
    checks, validate_X, validate_raw = [], inner._validate_X, pruned._validate_raw
    monkeypatch.setattr(inner, "_validate_X", lambda *a, **k: checks.append("net") or validate_X(*a, **k))
    monkeypatch.setattr(pruned, "_validate_raw", lambda *a, **k: checks.append("wrapper") or validate_raw(*a, **k))
    monkeypatch.setattr(inner.table_encoder_, "encode", lambda *a, **k: calls.append(1) or encode(*a, **k))
    np.testing.assert_array_equal(pruned.predict(X), expected)  # an array of the fitted width: the net's call
    np.testing.assert_array_equal(pruned.predict(X.tolist()), expected)  # a list: the wrapper checks, the net not
    assert checks == ["net", "wrapper"] and calls == [1, 1]  # one check and one encoding per prediction
    # a missing value is the column's median at fit, as in the net
    medians = np.tile(inner.table_encoder_.center_, (2, 1))
    np.testing.assert_array_equal(pruned.predict(np.full_like(X[:2], np.nan)), pruned.predict(medians))
