"""Cost scorers: what a model costs to keep and to run, as scikit-learn scorers.

Scorers return the negated cost, as scikit-learn's loss scorers do, so that
greater is better and searches can rank by them; ``cv_results_`` then holds
``mean_test_<name>`` as minus the mean cost.
"""

import statistics
import time

import numpy as np

from ..report import count_flops, count_parameters, saved_size_bytes

COSTS = ("latency", "size", "params", "nonzero", "flops")


class CostScorer:
    """A scorer returning minus a model's cost (see :func:`make_cost_scorer`)."""

    def __init__(self, cost, batch_size=256, n_repeats=5):
        self.cost = cost
        self.batch_size = batch_size
        self.n_repeats = n_repeats

    def __call__(self, estimator, X, y=None, **kwargs):
        value = self.measure(estimator, X)
        return np.nan if value is None else -float(value)

    def _accept_sample_weight(self):
        return True  # a cost does not depend on sample weights; they are ignored

    def measure(self, estimator, X):
        """The cost itself (positive), or None when it does not apply to ``estimator``."""
        if self.cost == "latency":
            return self._latency(estimator, X)
        if self.cost == "size":
            return saved_size_bytes(estimator)
        if self.cost == "params":
            return count_parameters(estimator)
        if self.cost == "nonzero":
            return count_parameters(estimator, nonzero=True)
        return count_flops(estimator, X)

    def _latency(self, estimator, X):
        rows = np.arange(self.batch_size) % len(X)
        batch = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
        estimator.predict(batch)  # warm-up
        times = []
        for _ in range(self.n_repeats):
            start = time.perf_counter()
            estimator.predict(batch)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def __repr__(self):
        return f"make_cost_scorer({self.cost!r}, batch_size={self.batch_size}, n_repeats={self.n_repeats})"


def make_cost_scorer(cost, *, batch_size=256, n_repeats=5):
    """A scikit-learn scorer of a model's cost, negated (greater is better).

    Parameters
    ----------
    cost : {"latency", "size", "params", "nonzero", "flops"}
        ``"latency"``: median seconds of ``predict`` on a fixed batch of
        ``batch_size`` rows of the validation data (cycled when there are
        fewer), after one warm-up call; ``"size"``: bytes of the model saved
        with :func:`skensemble.save`; ``"params"`` and ``"nonzero"``: the
        (non-zero) weights of its torch modules; ``"flops"``: FLOPs of one
        prediction (2 x the multiply-adds of its ``Linear``/``Conv`` layers,
        see :func:`skensemble.report.count_flops`).  Costs that do not apply
        (the parameters of a random forest) score NaN.
    batch_size : int, default=256
        Rows per timed batch (latency only).
    n_repeats : int, default=5
        Timed calls; the median is kept (latency only).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, usable in ``scoring={...}`` of
        ``GridSearchCV``, ``cross_validate`` and the like.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import cross_validate
    >>> from skensemble.metrics import make_cost_scorer
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> scores = cross_validate(MLPNetClassifier((16,), max_epochs=5), X, y, cv=2,
    ...                         scoring={"accuracy": "accuracy", "flops": make_cost_scorer("flops")})
    >>> scores["test_flops"].tolist()  # 2 * (4*16 + 16*3), negated
    [-224.0, -224.0]
    """
    if cost not in COSTS:
        raise ValueError(f"cost={cost!r} is not one of {COSTS}.")
    return CostScorer(cost, batch_size=batch_size, n_repeats=n_repeats)
