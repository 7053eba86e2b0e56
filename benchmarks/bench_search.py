"""Compression search: CompressionSearchCV against a hand-written GridSearchCV, and its choice against dense.

A ``(256, 256)`` MLP is trained on 75% of digits; ``CompressionSearchCV``
searches its default space of compressions (``FrozenEstimator`` of the fitted
net: every candidate compresses that net; the cross-validation rows were
seen in training, so CV scores are optimistic and only their differences
count) for the lowest predict latency at batch 4096 within one point of
accuracy.  The same candidates go through a plain ``GridSearchCV`` over a
one-step ``Pipeline`` with the cost scorer and ``cheapest_within`` as
``refit``.  Both searches run in the same process, one after the other; the
chosen model is then measured against the dense net on the held-out 25%.
Last, the search runs on an unfitted net (every candidate trained in every
fold, so the cross-validated scores are honest) and its choice is measured
the same way.

Run: ``python benchmarks/bench_search.py``; writes ``benchmarks/results/search.md``.
"""

import time

from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from _common import markdown_table, write_result
from skensemble.metrics import make_cost_scorer
from skensemble.model_selection import CompressionSearchCV, cheapest_within
from skensemble.model_selection._search import default_space
from skensemble.nets import MLPNetClassifier
from skensemble.report import compression_report


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    dense = MLPNetClassifier((256, 256), max_epochs=60, random_state=0).fit(X_train, y_train)
    frozen = FrozenEstimator(dense)

    start = time.perf_counter()
    search = CompressionSearchCV(frozen, max_drop=0.01, objective="latency", cv=3, random_state=0).fit(
        X_train, y_train)
    search_time = time.perf_counter() - start

    space = default_space(frozen, random_state=0)
    start = time.perf_counter()
    hand = GridSearchCV(Pipeline([("model", frozen)]), {"model": list(space.values())}, cv=3,
                        scoring={"score": "accuracy", "latency": make_cost_scorer("latency", batch_size=4096)},
                        refit=cheapest_within(0.01, cost="latency", score="score")).fit(X_train, y_train)
    hand_time = time.perf_counter() - start

    rows = []
    names = list(space)
    for i, name in enumerate(search.candidate_names_):
        rows.append({"candidate": name,
                     "CV accuracy (search)": search.cv_results_["mean_test_score"][i],
                     "CV latency @4096 ms (search)": -1000 * search.cv_results_["mean_test_latency"][i],
                     "CV accuracy (GridSearchCV)": hand.cv_results_["mean_test_score"][names.index(name)],
                     "CV latency @4096 ms (GridSearchCV)": -1000 * hand.cv_results_["mean_test_latency"][
                         names.index(name)],
                     "on the Pareto front": "yes" if name in set(search.pareto_front_["candidate"]) else ""})
    cols = list(rows[0])
    comparison = (f"CompressionSearchCV chose **{search.best_candidate_}** in {search_time:.0f} s; the hand "
                  f"GridSearchCV chose **{names[hand.best_index_]}** in {hand_time:.0f} s. The latencies are "
                  "measured again in each search, so candidates whose latencies differ by less than the noise "
                  "can swap places.\n\n" + markdown_table(rows, cols))
    report = compression_report({"dense": dense, f"chosen: {search.best_candidate_}": search.best_estimator_},
                                X_test, y_test, batch_sizes=(1, 4096))
    held_out = report.to_markdown()
    unfitted = _unfitted_search(X_train, X_test, y_train, y_test, dense)
    write_result("search", "Compression search: the cheapest model within one point of accuracy",
                 [("digits, MLP 64-256-256-10, objective latency @4096, max_drop 0.01", comparison),
                  ("The chosen model against the dense net on the held-out 25%", held_out),
                  ("An unfitted net: every candidate trained in every fold", unfitted)],
                 "python benchmarks/bench_search.py")


def _unfitted_search(X_train, X_test, y_train, y_test, dense):
    """The same search on an unfitted net: honest cross-validated scores, every candidate trained 4 times."""
    net = MLPNetClassifier((256, 256), max_epochs=60, random_state=0)
    start = time.perf_counter()
    search = CompressionSearchCV(net, max_drop=0.01, objective="latency", cv=3, random_state=0).fit(
        X_train, y_train)
    elapsed = time.perf_counter() - start
    table = compression_report(search).to_markdown()
    report = compression_report({"dense": dense, f"chosen: {search.best_candidate_}": search.best_estimator_},
                                X_test, y_test, batch_sizes=(1, 4096))
    return (f"`CompressionSearchCV(MLPNetClassifier((256, 256), max_epochs=60), max_drop=0.01, "
            f"objective='latency', cv=3)` on the training 75%: {len(search.candidate_names_)} candidates x 3 "
            f"folds + the refit in {elapsed:.0f} s; chose **{search.best_candidate_}**. The search's table "
            f"(`compression_report(search)`, latency in seconds per batch of 4096):\n\n{table}\n\n"
            f"The chosen model (refitted on the 75%) against the dense net on the held-out 25%:\n\n"
            f"{report.to_markdown()}")


if __name__ == "__main__":
    main()
