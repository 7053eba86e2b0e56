"""CompressionSearchCV: the cheapest compression of a net within an accuracy budget, cross-validated."""

import numbers
import time
import warnings

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline

from ..compression import DistilledClassifier, DistilledRegressor, PrunedClassifier, PrunedRegressor
from ..compression import QuantizedClassifier, QuantizedRegressor
from ..compression.pruning._members import n_members
from ..metrics import COSTS, make_cost_scorer
from ..report import pareto_front
from .._compat.sklearn import BaseSearchCV, Interval, StrOptions, parameter_constraints
from ._refit import cheapest_within

UNCOMPRESSED = "uncompressed"


def default_space(estimator, random_state=None):
    """The candidates ``CompressionSearchCV`` searches by default, by name.

    The uncompressed ``estimator``; neuron pruning at 0.5, 0.75 and 0.9;
    weight pruning at 0.9 (3 steps); int8 dynamic and static; float16 (torch);
    neuron pruning at 0.5 and 0.75 then int8; and MLP students of 32 and 128
    units distilled from ``estimator`` on a transfer set twice the data's size.
    For an ensemble net with members (TabM's ``k``): also member pruning to
    ``k // 4`` and ``k // 8`` members, each alone and then int8, the first
    then neuron pruning at 0.5 (and int8 of that), and a student of 128
    units with piecewise-linear embeddings.  Add to it or drop from it and
    pass the dict as ``space=``.

    Parameters
    ----------
    estimator : estimator
        A net classifier or regressor, or a ``FrozenEstimator`` of a fitted one.
    random_state : int, RandomState instance or None, default=None
        Seeds the compressions.

    Returns
    -------
    space : dict of str -> estimator
        Unfitted candidates.

    Examples
    --------
    >>> from skensemble.model_selection import default_space
    >>> from skensemble.nets import MLPNetRegressor
    >>> list(default_space(MLPNetRegressor((64,))))[:3]
    ['uncompressed', 'pruned neurons 0.5', 'pruned neurons 0.75']
    """
    classifier = is_classifier(estimator)
    pruned = PrunedClassifier if classifier else PrunedRegressor
    quantized = QuantizedClassifier if classifier else QuantizedRegressor
    distilled = DistilledClassifier if classifier else DistilledRegressor
    space = {UNCOMPRESSED: estimator}
    for sparsity in (0.5, 0.75, 0.9):
        space[f"pruned neurons {sparsity}"] = pruned(estimator, sparsity=sparsity, granularity="neuron",
                                                     random_state=random_state)
    space["pruned weights 0.9"] = pruned(estimator, sparsity=0.9, n_steps=3, granularity="weight",
                                        random_state=random_state)
    space["int8 dynamic"] = quantized(estimator, random_state=random_state)
    space["int8 static"] = quantized(estimator, method="static", random_state=random_state)
    space["float16"] = quantized(estimator, dtype="float16", backend="torch", random_state=random_state)
    for sparsity in (0.5, 0.75):
        space[f"pruned neurons {sparsity} + int8"] = quantized(
            pruned(estimator, sparsity=sparsity, granularity="neuron", random_state=random_state),
            random_state=random_state)
    student = _student(estimator)
    if student is not None:
        for width in (32, 128):
            space[f"distilled MLP ({width},)"] = distilled(
                estimator, clone(student).set_params(hidden_layer_sizes=(width,)), augment_factor=2,
                random_state=random_state)
    k = n_members(estimator)
    if k is not None:
        kept = sorted({n for n in (k // 4, k // 8) if 1 <= n < k}, reverse=True)
        for n in kept:
            members = pruned(estimator, granularity="member", n_members=n, random_state=random_state)
            space[f"members {n}"] = members
            space[f"members {n} + int8"] = quantized(members, random_state=random_state)
        if kept:
            both = pruned(space[f"members {kept[0]}"], sparsity=0.5, granularity="neuron",
                          random_state=random_state)
            space[f"members {kept[0]} + pruned neurons 0.5"] = both
            space[f"members {kept[0]} + pruned neurons 0.5 + int8"] = quantized(both, random_state=random_state)
        space["distilled MLP (128,) + piecewise-linear embeddings"] = distilled(
            estimator, clone(student).set_params(hidden_layer_sizes=(128,), num_embeddings="piecewise_linear"),
            augment_factor=2, random_state=random_state)
    return space


def _student(estimator):
    from ..nets import MLPNetClassifier, MLPNetRegressor

    return (MLPNetClassifier if is_classifier(estimator) else MLPNetRegressor)(max_epochs=30)


class CompressionSearchCV(BaseSearchCV):
    """Search compressions of a net for the cheapest one within an accuracy budget.

    Every candidate (pruned, quantized, pruned then quantized, distilled, and
    the uncompressed net) is cross-validated on the score and on a cost; the
    chosen model is the cheapest whose mean score is within ``max_drop`` of
    the best candidate's (:func:`cheapest_within`), refitted on all the data.
    A scikit-learn search: ``cv_results_``, ``best_estimator_``,
    ``best_params_``, ``best_index_`` and ``n_jobs`` behave as in
    ``GridSearchCV``.

    Parameters
    ----------
    estimator : estimator
        A net classifier or regressor (unfitted: each candidate fits it in
        every fold), or a ``FrozenEstimator`` of a fitted one (compressions
        start from it; then every fold's validation rows were seen in
        training, so the scores are optimistic and only their differences
        count).
    max_drop : float, default=0.01
        The accepted loss of score against the best candidate (absolute, or
        relative with ``relative=True``).
    objective : {"latency", "size", "params", "nonzero", "flops"}, default="latency"
        The cost to minimise (see :func:`skensemble.metrics.make_cost_scorer`).
    space : dict of str -> estimator, list of dict or None, default=None
        The candidates, by name; None builds them from ``estimator`` (the
        uncompressed net; neuron pruning at 0.5, 0.75 and 0.9; weight
        pruning at 0.9; int8 dynamic and static; float16; neuron pruning at
        0.5 and 0.75 then int8; MLPs of 32 and 128 units distilled on a
        transfer set twice the data's size).  A list of parameter grids (as in
        ``GridSearchCV``) searches ``estimator``'s own parameters instead.
    scoring : str, callable or None, default=None
        The score: None is accuracy for classifiers and R^2 for regressors.
    cv : int, cross-validation generator or iterable, default=5
        As in ``GridSearchCV``.
    n_jobs : int, default=None
        Parallel fits (joblib), as in ``GridSearchCV``.
    max_time : float or None, default=None
        Seconds: no candidate is launched once the time spent plus the
        longest time a candidate took so far would pass them (the first
        ones always are), and the best of those evaluated is chosen.
        Candidates are then launched a few at a time (``n_jobs`` of them,
        at least one).
    batch_size : int, default=4096
        Rows per timed batch for ``objective="latency"``.
    relative : bool, default=False
        Read ``max_drop`` as a fraction of the best score.
    refit : bool, default=True
        Refit the chosen candidate on all the data.
    verbose : int, default=0
        Print a line per candidate (score, cost, elapsed time, current choice).
    pre_dispatch : int or str, default="2*n_jobs"
        As in ``GridSearchCV``.
    error_score : "raise" or float, default=np.nan
        As in ``GridSearchCV``.
    random_state : int, RandomState instance or None, default=None
        Seeds the default space's compressions.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        As in ``GridSearchCV``; the scores are ``mean_test_score`` and
        ``mean_test_<objective>`` (minus the cost).
    candidate_names_ : list of str
        Names of the evaluated candidates, in the order of ``cv_results_``.
    best_estimator_ : estimator
        The chosen candidate, refitted on all the data.
    best_index_ : int
        Index of the chosen candidate in ``cv_results_``.
    best_params_ : dict
        Its parameters (``{"model": candidate}`` for a space of candidates).
    best_candidate_ : str
        Its name.
    best_score_ : float
        Its mean cross-validated score.
    pareto_front_ : pandas.DataFrame
        The non-dominated candidates (no other has a higher score and a
        lower cost), sorted by cost: name, score and cost.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds to refit the chosen candidate.
    multimetric_ : bool
        True (score and cost).

    See Also
    --------
    skensemble.model_selection.cheapest_within : The refit strategy, for ``GridSearchCV``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.frozen import FrozenEstimator
    >>> from skensemble.model_selection import CompressionSearchCV
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> net = MLPNetClassifier((64,), max_epochs=20, random_state=0).fit(X, y)
    >>> search = CompressionSearchCV(FrozenEstimator(net), max_drop=0.02, objective="params",
    ...                              cv=2, random_state=0).fit(X, y)
    >>> search.best_candidate_ != "uncompressed"
    True
    """

    _parameter_constraints = {
        **parameter_constraints(BaseSearchCV),
        "max_drop": [Interval(numbers.Real, 0, None, closed="left")],
        "objective": [StrOptions(set(COSTS))],
        "space": [dict, list, None],
        "max_time": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "relative": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, max_drop=0.01, objective="latency", space=None, scoring=None, cv=5,
                 n_jobs=None, max_time=None, batch_size=4096, relative=False, refit=True, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, random_state=None):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv,
                         verbose=verbose, pre_dispatch=pre_dispatch, error_score=error_score,
                         return_train_score=False)
        self.max_drop = max_drop
        self.objective = objective
        self.space = space
        self.max_time = max_time
        self.batch_size = batch_size
        self.relative = relative
        self.random_state = random_state

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.target_tags.multi_output = inner.target_tags.multi_output
        # raw tables reach the candidates, which wrap the net that encodes them
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.string = inner.input_tags.string
        return tags

    def _candidate_grid(self):
        """The base estimator and the parameter grids, plus the candidates' names."""
        if isinstance(self.space, list):
            return self.estimator, self.space, None
        space = self.space if self.space is not None else default_space(self.estimator, self.random_state)
        names = list(space)
        return Pipeline([("model", self.estimator)]), [{"model": [space[n] for n in names]}], names

    def fit(self, X, y=None, **params):
        """Cross-validate every candidate and refit the cheapest one within the budget.

        Returns
        -------
        self : object
            The fitted search.
        """
        from sklearn.utils import check_array, get_tags

        # Clear errors for what no candidate can take (empty or 1-D X; sparse X when the estimator
        # takes none); X itself goes to the candidates as given (a DataFrame keeps its columns),
        # and NaN is theirs to handle (a pipeline may impute it).
        check_array(X, accept_sparse=get_tags(self.estimator).input_tags.sparse, dtype=None,
                    ensure_all_finite=False)
        base, grids, names = self._candidate_grid()
        self._grids, self._names = grids, names
        if names is not None:
            params = self._route_fit_params(dict(zip(names, grids[0]["model"])), params)
        user = (self.estimator, self.scoring, self.refit)
        score = self.scoring or ("accuracy" if is_classifier(self.estimator) else "r2")
        self.estimator = base
        self.scoring = {"score": score, self.objective: make_cost_scorer(self.objective,
                                                                          batch_size=self.batch_size)}
        chooser = cheapest_within(self.max_drop, cost=self.objective, score="score", relative=self.relative)
        self.refit = chooser if user[2] else False
        self._start = time.perf_counter()
        try:
            super().fit(X, y, **params)
        finally:
            self.estimator, self.scoring, self.refit = user
        results = self.cv_results_
        # candidates are evaluated in the space's order (max_time may stop before the end)
        self.candidate_names_ = (names[:len(results["params"])] if names
                                 else [str(p) for p in results["params"]])
        if not user[2]:
            self.best_index_ = chooser(results)
            self.best_params_ = results["params"][self.best_index_]
        self.best_candidate_ = self.candidate_names_[self.best_index_]
        self.best_score_ = results["mean_test_score"][self.best_index_]
        if names and hasattr(self, "best_estimator_"):
            self.best_estimator_ = self.best_estimator_.steps[-1][1]
        self._warn_if_uncompressed(results)
        self.pareto_front_ = self._pareto(results)
        return self

    @staticmethod
    def _route_fit_params(space, params):
        """Fit parameters (``sample_weight``...) for the candidates inside the search's own pipeline.

        The named space is searched as ``Pipeline([("model", candidate)])``,
        so a parameter for the candidates' ``fit`` goes to ``model__<name>``
        (``groups`` stays the splitter's).  A candidate whose ``fit`` does not
        take it is refused here, with both names.
        """
        from sklearn.utils.validation import has_fit_parameter

        routed = {}
        for key, value in params.items():
            if key == "groups":
                routed[key] = value
                continue
            refused = [name for name, est in space.items() if not has_fit_parameter(est, key)]
            if refused:
                raise ValueError(
                    f"CompressionSearchCV.fit got {key}, but the candidates {refused} do not take {key} in "
                    "fit. Pass space= with candidates that do (a dict of name -> estimator), or fit without "
                    f"{key}.")
            routed[f"model__{key}"] = value
        return routed

    def score(self, X, y=None, **params):
        """The chosen model's score (accuracy or R^2, or ``scoring``) on ``X``, ``y``.

        Returns
        -------
        score : float
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "best_estimator_")
        return self.scorer_["score"](self.best_estimator_, X, y, **params)

    def _warn_if_uncompressed(self, results):
        if self.best_candidate_ == UNCOMPRESSED:
            warnings.warn(
                f"The search chose the uncompressed model: no compressed candidate both kept its score "
                f"within max_drop={self.max_drop} and cost less by {self.objective!r}.", UserWarning)

    def _pareto(self, results):
        import pandas as pd

        scores = np.asarray(results["mean_test_score"], float)
        costs = -np.asarray(results[f"mean_test_{self.objective}"], float)
        ok = ~(np.isnan(scores) | np.isnan(costs))
        idx = np.flatnonzero(ok)[pareto_front(costs[ok], scores[ok])]
        frame = pd.DataFrame({"candidate": [self.candidate_names_[i] for i in idx],
                              "score": scores[idx], self.objective: costs[idx]})
        return frame.sort_values(self.objective).reset_index(drop=True)

    def _run_search(self, evaluate_candidates):
        from sklearn.model_selection import ParameterGrid

        candidates = list(ParameterGrid(self._grids))
        if self.max_time is None and not self.verbose:
            evaluate_candidates(candidates)
            return
        step = max(1, self.n_jobs or 1) if self.max_time is not None else len(candidates)
        step = 1 if self.verbose else step
        longest, before = 0.0, 0.0  # the longest step so far; the time spent before this step
        for start in range(0, len(candidates), step):
            elapsed = time.perf_counter() - self._start
            longest, before = max(longest, elapsed - before), elapsed
            if start and self.max_time is not None and elapsed + longest > self.max_time:  # one step at least
                if self.verbose:
                    print(f"[CompressionSearchCV] max_time={self.max_time}s: {elapsed:.1f}s spent after {start} "
                          f"of {len(candidates)} candidates, the longest step {longest:.1f}s")
                return
            results = evaluate_candidates(candidates[start:start + step])
            if self.verbose:
                scores = np.asarray(results["mean_test_score"], float)
                costs = -np.asarray(results[f"mean_test_{self.objective}"], float)
                done, elapsed = len(scores), time.perf_counter() - self._start
                left = elapsed / done * (len(candidates) - done)
                name = f" ({self._names[done - 1]})" if self._names is not None else ""
                print(f"[CompressionSearchCV] candidate {done} of {len(candidates)}{name}: score {scores[-1]:.4f}, "
                      f"{self.objective} {costs[-1]:.4g}; best score so far {np.nanmax(scores):.4f}; "
                      f"{elapsed:.0f}s elapsed, about {left:.0f}s left", flush=True)
