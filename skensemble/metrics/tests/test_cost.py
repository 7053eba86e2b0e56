"""Cost scorers and FLOPs counts."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skensemble.compression import PrunedClassifier, QuantizedClassifier
from skensemble.ensemble import VotingClassifier
from skensemble.metrics import make_cost_scorer
from skensemble.model_selection import cheapest_within
from skensemble.nets import ConvNetClassifier, MLPNetClassifier
from skensemble.report import count_flops


def test_flops_equal_the_hand_count_and_follow_pruning(digits_mlp_256, digits_split):
    X_train, X_test, y_train, _ = digits_split
    assert count_flops(digits_mlp_256, X_test) == 2 * (64 * 256 + 256 * 256 + 256 * 10)
    pruned = PrunedClassifier(FrozenEstimator(digits_mlp_256), sparsity=0.5, granularity="neuron",
                              fine_tune_epochs=0, random_state=0).fit(X_train, y_train)
    a, b = [m.out_features for m in pruned.estimator_.module_.layers if hasattr(m, "out_features")][:2]
    assert count_flops(pruned, X_test) == 2 * (64 * a + a * b + b * 10) < count_flops(digits_mlp_256, X_test)
    quantized = QuantizedClassifier(FrozenEstimator(pruned), backend="torch").fit(X_train, y_train)
    assert count_flops(quantized, X_test) == count_flops(pruned, X_test)  # int8: the same multiply-adds


def test_flops_of_conv_nets_pipelines_and_ensembles(digits_split):
    X_train, X_test, y_train, _ = digits_split
    conv = ConvNetClassifier((1, 8, 8), channels=(4,), hidden_layer_sizes=(8,), pooling=None, max_epochs=1,
                             random_state=0).fit(X_train, y_train)
    # conv 3x3 "same" on 8x8: 64 outputs x 4 channels x 9 inputs; then 256 -> 8 -> 10
    assert count_flops(conv, X_test) == 2 * (64 * 4 * 9 + 256 * 8 + 8 * 10)
    pipe = make_pipeline(StandardScaler(), MLPNetClassifier((8,), max_epochs=1)).fit(X_train, y_train)
    assert count_flops(pipe, X_test) == 2 * (64 * 8 + 8 * 10)
    vote = VotingClassifier([("a", MLPNetClassifier((8,), max_epochs=1)),
                             ("forest", RandomForestClassifier(5, random_state=0))]).fit(X_train, y_train)
    assert count_flops(vote, X_test) == 2 * (64 * 8 + 8 * 10)
    assert count_flops(RandomForestClassifier(5).fit(X_train, y_train), X_test) is None


def test_cost_scorers_in_a_plain_search_for_nets_and_forests(digits_split):
    X_train, _, y_train, _ = digits_split
    scoring = {"accuracy": "accuracy", "latency": make_cost_scorer("latency", batch_size=512),
               "size": make_cost_scorer("size"), "flops": make_cost_scorer("flops")}
    search = GridSearchCV(MLPNetClassifier(max_epochs=40, lr=3e-3, random_state=0),
                          {"hidden_layer_sizes": [(16,), (256, 256)]}, cv=3, scoring=scoring,
                          refit=cheapest_within(0.1, cost="flops", score="accuracy")).fit(X_train, y_train)
    results = search.cv_results_
    assert results["mean_test_accuracy"][0] >= results["mean_test_accuracy"][1] - 0.1  # within budget
    assert search.best_params_ == {"hidden_layer_sizes": (16,)}
    assert np.all(results["mean_test_latency"] < 0) and np.all(results["mean_test_size"] < 0)
    assert results["mean_test_flops"].tolist() == [-2 * (64 * 16 + 16 * 10),
                                                   -2 * (64 * 256 + 256 * 256 + 256 * 10)]
    forest = cross_validate(RandomForestClassifier(20, random_state=0), X_train, y_train, cv=2,
                            scoring={"size": make_cost_scorer("size"), "latency": make_cost_scorer("latency"),
                                     "params": make_cost_scorer("params")})
    assert np.all(forest["test_size"] < -1000) and np.all(forest["test_latency"] < 0)
    assert np.all(np.isnan(forest["test_params"]))  # a forest has no weights to count
    forest_search = GridSearchCV(RandomForestClassifier(random_state=0), {"n_estimators": [5, 50]}, cv=2,
                                 scoring={"accuracy": "accuracy", "size": make_cost_scorer("size")},
                                 refit=cheapest_within(0.2, cost="size")).fit(X_train, y_train)
    assert forest_search.best_params_ == {"n_estimators": 5}


def test_a_bad_cost_is_named():
    with pytest.raises(ValueError, match="cost='speed' is not one of"):
        make_cost_scorer("speed")
