"""Refit strategies for scikit-learn's searches: the cheapest model within an accuracy budget."""

import numpy as np


class CheapestWithin:
    """Pick the cheapest candidate whose mean score is within ``max_drop`` of the best.

    See :func:`cheapest_within`.
    """

    def __init__(self, max_drop=0.01, cost="latency", score=None, relative=False):
        self.max_drop = max_drop
        self.cost = cost
        self.score = score
        self.relative = relative

    def _score_key(self, cv_results):
        if self.score is not None:
            key = f"mean_test_{self.score}"
            if key not in cv_results:
                raise ValueError(f"score={self.score!r}: cv_results_ has no {key!r}.")
            return key
        keys = [k for k in cv_results if k.startswith("mean_test_") and k != f"mean_test_{self.cost}"]
        if len(keys) != 1:
            raise ValueError(
                f"cheapest_within cannot tell the score among {keys}; name it with score=..."
            )
        return keys[0]

    def __call__(self, cv_results):
        cost_key = f"mean_test_{self.cost}"
        if cost_key not in cv_results:
            raise ValueError(
                f"cost={self.cost!r}: cv_results_ has no {cost_key!r}; add "
                f"scoring={{..., {self.cost!r}: make_cost_scorer({self.cost!r})}} to the search."
            )
        scores = np.asarray(cv_results[self._score_key(cv_results)], dtype=float)
        costs = -np.asarray(cv_results[cost_key], dtype=float)  # scorers hold minus the cost
        valid = ~np.isnan(scores)
        if not valid.any():  # as scikit-learn's own ranking: the refit then raises the real error
            return 0
        best = np.nanmax(scores)
        floor = best - (abs(best) * self.max_drop if self.relative else self.max_drop)
        within = valid & (scores >= floor)
        priced = within & ~np.isnan(costs)
        if not priced.any():  # no cost to compare: the most accurate
            return int(np.nanargmax(scores))
        order = np.lexsort((-scores, np.where(priced, costs, np.inf)))  # cheapest, then best scored
        return int(order[0])

    def __repr__(self):
        return (f"cheapest_within(max_drop={self.max_drop}, cost={self.cost!r}, score={self.score!r}, "
                f"relative={self.relative})")


def cheapest_within(max_drop=0.01, *, cost="latency", score=None, relative=False):
    """A ``refit`` callable for scikit-learn's searches: the cheapest model within a score budget.

    Among the candidates whose mean cross-validated score is at least the
    best mean score minus ``max_drop``, it picks the one with the lowest
    mean cost (ties: the better score).  The best candidate always
    qualifies, so there is always an answer; candidates whose cost is NaN
    (a cost that does not apply) are passed over unless none has one; when
    every candidate failed to score, the first is returned, so that its refit
    raises the underlying error (as ``GridSearchCV`` does).

    Parameters
    ----------
    max_drop : float, default=0.01
        The accepted loss of score: absolute (0.01 = one point of
        accuracy), or a fraction of the best score when ``relative``.
    cost : str, default="latency"
        The name of the cost scorer in the search's ``scoring`` dict (made
        with :func:`skensemble.metrics.make_cost_scorer`).
    score : str, default=None
        The name of the score in ``scoring``; None takes the only other one.
    relative : bool, default=False
        Read ``max_drop`` as a fraction of the best score.

    Returns
    -------
    refit : callable
        ``refit(cv_results) -> index`` of the chosen candidate.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skensemble.metrics import make_cost_scorer
    >>> from skensemble.model_selection import cheapest_within
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(
    ...     MLPNetClassifier(max_epochs=50, lr=0.01, random_state=0),
    ...     {"hidden_layer_sizes": [(4,), (64,)]}, cv=3,
    ...     scoring={"accuracy": "accuracy", "params": make_cost_scorer("params")},
    ...     refit=cheapest_within(0.5, cost="params")).fit(X, y)
    >>> search.best_params_
    {'hidden_layer_sizes': (4,)}
    """
    return CheapestWithin(max_drop, cost, score, relative)
