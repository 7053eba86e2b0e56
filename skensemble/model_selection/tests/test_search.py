"""CompressionSearchCV: the cheapest compression within the budget, as a scikit-learn search."""

import time
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

from skensemble.compression import PrunedClassifier, QuantizedClassifier
from skensemble.metrics import make_cost_scorer
from skensemble.model_selection import CompressionSearchCV, cheapest_within, default_space
from skensemble.nets import MLPNetClassifier, MLPNetRegressor


@pytest.fixture(scope="module")
def space(digits_mlp_256):
    frozen = FrozenEstimator(digits_mlp_256)
    return {
        "uncompressed": frozen,
        "pruned 0.5": PrunedClassifier(frozen, sparsity=0.5, granularity="neuron", random_state=0),
        "pruned 0.9": PrunedClassifier(frozen, sparsity=0.9, granularity="neuron", fine_tune_epochs=1,
                                       random_state=0),
        "int8": QuantizedClassifier(frozen, random_state=0),
        "pruned 0.5 + int8": QuantizedClassifier(
            PrunedClassifier(frozen, sparsity=0.5, granularity="neuron", random_state=0), random_state=0),
    }


def _non_dominated(front):
    for i, row in front.iterrows():
        others = front.drop(index=i)
        assert not np.any((others["score"] >= row["score"]) & (others["latency"] <= row["latency"])
                          & ((others["score"] > row["score"]) | (others["latency"] < row["latency"])))


def test_cheapest_within_the_budget(digits_mlp_256, digits_split, space):
    X_train, X_test, y_train, y_test = digits_split
    search = CompressionSearchCV(FrozenEstimator(digits_mlp_256), space=space, max_drop=0.01, cv=3,
                                 objective="latency", batch_size=1024).fit(X_train, y_train)
    results = search.cv_results_
    chosen, best = results["mean_test_score"][search.best_index_], np.nanmax(results["mean_test_score"])
    assert chosen >= best - 0.01
    within = results["mean_test_score"] >= best - 0.01
    assert -results["mean_test_latency"][search.best_index_] == pytest.approx(
        np.min(-results["mean_test_latency"][within]))
    assert search.best_candidate_ != "uncompressed" and search.candidate_names_ == list(space)
    assert isinstance(search.best_estimator_, (PrunedClassifier, QuantizedClassifier))
    assert search.score(X_test, y_test) > 0.95 and search.predict(X_test).shape == y_test.shape
    front = search.pareto_front_
    # the front holds the best score and the lowest cost (one row when one candidate has both)
    assert front["score"].max() == pytest.approx(best)
    assert front["latency"].min() == pytest.approx(np.nanmin(-results["mean_test_latency"]))
    _non_dominated(front)


def test_pareto_plot(digits_split, space, tmp_path):
    pytest.importorskip("matplotlib")
    from skensemble.model_selection import plot_pareto

    X_train, _, y_train, _ = digits_split
    search = CompressionSearchCV(space["uncompressed"], space=space, objective="size", cv=2).fit(X_train, y_train)
    fig = plot_pareto(search, tmp_path / "pareto.png")
    ax = fig.axes[0]
    assert (tmp_path / "pareto.png").stat().st_size > 1000
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "Pareto front" or "Pareto front" in labels
    assert any(label.startswith("chosen: ") for label in labels) and any("max_drop" in label for label in labels)
    assert len(ax.lines[0].get_xdata()) == len(search.pareto_front_)


def test_compression_report_of_a_search(digits_split, space, tmp_path):
    from sklearn.exceptions import NotFittedError

    from skensemble.report import compression_report

    X_train, X_test, y_train, y_test = digits_split
    search = CompressionSearchCV(space["uncompressed"], space=space, objective="size", cv=2).fit(X_train, y_train)
    report = compression_report(search)
    table = report.to_frame()
    assert list(table.index) == list(space) and report.reference == "uncompressed"
    np.testing.assert_allclose(table["score"], search.cv_results_["mean_test_score"])
    np.testing.assert_allclose(table["size"], -search.cv_results_["mean_test_size"])
    assert table.loc["uncompressed", "cost ratio"] == 1 and table.loc["pruned 0.5 + int8", "cost ratio"] < 0.2
    assert list(table.index[table["chosen"] == "yes"]) == [search.best_candidate_]
    assert set(table.index[table["Pareto front"] == "yes"]) == set(search.pareto_front_["candidate"])
    assert "saved bytes" in str(report) and "| pruned 0.5 + int8 |" in report.to_markdown()
    report.plot(tmp_path / "search.png")  # matplotlib is a test extra
    assert (tmp_path / "search.png").stat().st_size > 1000
    with pytest.raises(TypeError, match="without X and y"):
        compression_report(search, X_test, y_test)
    with pytest.raises(NotFittedError):
        compression_report(clone(search))
    with pytest.raises(TypeError, match="not MLPNetClassifier"):
        compression_report(MLPNetClassifier())
    with pytest.raises(TypeError, match="needs the test data"):
        compression_report({"net": space["uncompressed"]})


def test_the_same_choice_as_a_hand_grid(digits_split, space):
    X_train, _, y_train, _ = digits_split
    search = CompressionSearchCV(space["uncompressed"], space=space, objective="params", cv=3).fit(
        X_train, y_train)
    from sklearn.pipeline import Pipeline

    hand = GridSearchCV(Pipeline([("model", space["uncompressed"])]), {"model": list(space.values())}, cv=3,
                        scoring={"score": "accuracy", "params": make_cost_scorer("params")},
                        refit=cheapest_within(0.01, cost="params", score="score")).fit(X_train, y_train)
    assert search.best_index_ == hand.best_index_
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], hand.cv_results_["mean_test_score"])


def test_no_candidate_meets_the_budget(digits_split, space):
    X_train, _, y_train, _ = digits_split
    budget = {k: space[k] for k in ("uncompressed", "pruned 0.9")}
    with pytest.warns(UserWarning, match="max_drop=0"):
        search = CompressionSearchCV(space["uncompressed"], space=budget, max_drop=0, cv=2).fit(X_train, y_train)
    assert search.best_candidate_ == "uncompressed"


def test_max_time_returns_the_best_found_so_far(digits_split, space):
    X_train, _, y_train, _ = digits_split
    start = time.perf_counter()
    search = CompressionSearchCV(space["uncompressed"], space=space, max_time=1e-3, cv=2).fit(X_train, y_train)
    assert len(search.candidate_names_) < len(space) and time.perf_counter() - start < 60
    assert search.best_candidate_ in search.candidate_names_


def test_max_time_launches_no_candidate_the_longest_so_far_would_not_fit(digits_split, space, monkeypatch):
    """After a first candidate of 60 s, a second is not launched with 40 s of max_time=100 left (it would be
    under a rule that only asks whether the time is spent)."""
    import types

    from skensemble.model_selection import _search

    X_train, _, y_train, _ = digits_split
    clock = iter([0.0, 0.0, 60.0])  # fit's start; before the first and the second candidate
    monkeypatch.setattr(_search, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    two = {k: space[k] for k in ("uncompressed", "pruned 0.9")}
    search = CompressionSearchCV(space["uncompressed"], space=two, max_time=100, cv=2).fit(X_train, y_train)
    assert search.candidate_names_ == ["uncompressed"]


def test_regression_and_parameter_grids(digits_split):
    X_train, _, y_train, _ = digits_split
    reg = MLPNetRegressor((32,), max_epochs=10, random_state=0)
    search = CompressionSearchCV(reg, space=[{"hidden_layer_sizes": [(8,), (64,)]}], objective="flops",
                                 max_drop=0.5, cv=2).fit(X_train, y_train.astype(float))
    assert search.best_params_ == {"hidden_layer_sizes": (8,)}
    assert search.cv_results_["mean_test_score"][0] > 0  # R^2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clone(search)  # a plain scikit-learn search: clones, params untouched by fit
    assert search.get_params()["scoring"] is None and search.get_params()["refit"] is True


def test_default_space_for_an_unfitted_regression_net():
    """Regression the same way: R^2 as the score, every default candidate a regressor."""
    from sklearn.datasets import make_friedman1

    from skensemble.compression import DistilledRegressor, PrunedRegressor, QuantizedRegressor

    X, y = make_friedman1(600, n_features=10, noise=0.3, random_state=0)
    net = MLPNetRegressor((128, 128), max_epochs=40, random_state=0)
    search = CompressionSearchCV(net, max_drop=0.02, objective="flops", cv=2, random_state=0).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 12 and np.all(np.isfinite(scores))
    assert scores[0] > 0.6 and search.best_score_ >= np.max(scores) - 0.02  # R^2
    assert isinstance(search.best_estimator_, (DistilledRegressor, PrunedRegressor, QuantizedRegressor))
    flops = -search.cv_results_["mean_test_flops"]
    assert flops[search.candidate_names_.index("pruned neurons 0.5")] < 0.3 * flops[0]
    assert search.predict(X[:5]).shape == (5,) and search.score(X, y) > 0.6
    front = search.pareto_front_.rename(columns={"flops": "latency"})
    assert len(front) >= 3
    _non_dominated(front)


@pytest.mark.slow
def test_default_space_on_an_unfitted_256_256_net(digits_split):
    """The issue's acceptance run: every candidate fitted in every fold.

    On the pixels as they are (``preprocessing="auto"``), as that issue measured: with the table encoder in
    front of every candidate its transform is part of each latency and two candidates make the front.
    """
    X_train, X_test, y_train, y_test = digits_split
    net = MLPNetClassifier((256, 256), max_epochs=30, preprocessing="auto", random_state=0)
    search = CompressionSearchCV(net, max_drop=0.01, objective="latency", cv=3, random_state=0).fit(
        X_train, y_train)
    results = search.cv_results_
    assert results["mean_test_score"][search.best_index_] >= np.nanmax(results["mean_test_score"]) - 0.01
    dense = -results["mean_test_latency"][search.candidate_names_.index("uncompressed")]
    assert -results["mean_test_latency"][search.best_index_] <= 0.5 * dense
    assert len(search.pareto_front_) >= 3
    _non_dominated(search.pareto_front_)


def test_sample_weight_reaches_the_candidates_or_is_refused_by_name():
    """Defect 9 of issue 26: the search's own pipeline routes sample_weight; candidates without it are named."""
    from sklearn.datasets import make_classification

    X, y = make_classification(200, 6, random_state=0)
    space = {"wide": MLPNetClassifier((16,), max_epochs=5, random_state=0),
             "narrow": MLPNetClassifier((4,), max_epochs=5, random_state=0)}
    search = lambda: CompressionSearchCV(space["wide"], space=space, cv=2)  # noqa: E731
    plain = search().fit(X, y).cv_results_["mean_test_score"]
    uniform = search().fit(X, y, sample_weight=np.full(len(y), 3.0)).cv_results_["mean_test_score"]
    skewed = search().fit(X, y, sample_weight=np.where(y == 1, 10.0, 0.1)).cv_results_["mean_test_score"]
    np.testing.assert_array_equal(uniform, plain)  # equal weights are the unweighted fit
    assert not np.array_equal(skewed, plain)  # the weights changed the candidates' fits
    # the default space takes them (pruning, quantization, distillation fit their nets with them)
    weighted = CompressionSearchCV(space["wide"], cv=2).fit(X, y, sample_weight=np.where(y == 1, 10.0, 0.1))
    assert np.isfinite(weighted.cv_results_["mean_test_score"]).all()
    from sklearn.neighbors import KNeighborsClassifier

    with pytest.raises(ValueError, match=r"candidates \['knn'\] do not take sample_weight"):
        CompressionSearchCV(space["wide"], space={**space, "knn": KNeighborsClassifier()}, cv=2).fit(
            X, y, sample_weight=np.ones(len(y)))


def test_default_space_of_tabm_prunes_members_and_nests():
    from skensemble.nets import TabMClassifier

    space = default_space(TabMClassifier(k=32), random_state=0)
    for name in ("members 8", "members 4", "members 8 + int8", "members 4 + int8",
                 "members 8 + pruned neurons 0.5", "members 8 + pruned neurons 0.5 + int8",
                 "distilled MLP (128,) + piecewise-linear embeddings"):
        assert name in space
    assert space["members 4"].get_params()["n_members"] == 4
    nested = space["members 8 + pruned neurons 0.5 + int8"]
    assert isinstance(nested, QuantizedClassifier)
    assert nested.estimator.granularity == "neuron"
    assert isinstance(nested.estimator.estimator, PrunedClassifier)
    assert nested.estimator.estimator.get_params()["granularity"] == "member"
    assert space["distilled MLP (128,) + piecewise-linear embeddings"].student.num_embeddings == "piecewise_linear"
    # a net without members gets none of them; a small k only what it can keep
    assert not [n for n in default_space(MLPNetClassifier()) if n.startswith("members")]
    assert [n for n in default_space(TabMClassifier(k=4)) if n.startswith("members")] == [
        "members 1", "members 1 + int8", "members 1 + pruned neurons 0.5", "members 1 + pruned neurons 0.5 + int8"]
