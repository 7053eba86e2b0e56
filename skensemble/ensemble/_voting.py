"""Voting ensembles of nets and any scikit-learn classifiers or regressors."""

import numpy as np
import sklearn
from sklearn.ensemble import VotingClassifier as _SkVotingClassifier
from sklearn.ensemble import VotingRegressor as _SkVotingRegressor
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils.metadata_routing import process_routing
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d, has_fit_parameter

from ..persistence import register
from .._compat.sklearn import (StrOptions, check_is_fitted, fit_context, parameter_constraints, raise_for_params,
                               validate_estimators, weights_not_none)
from ._base import SklearnEnsembleMixin, parallel_fit, weight_params, worker_errors


class _VotingFitMixin:
    """Voting's ``fit``: validate the members, then fit them (same-shape nets fused, the others in parallel).

    scikit-learn's voting ``fit`` clones and fits every member in its own
    loop; skensemble's replaces that loop (the validation is scikit-learn's,
    then :meth:`SklearnEnsembleMixin._validate_estimators`), so groups of MLP
    nets of one architecture that differ only in their seeds train as one
    batched module, and the other members fit in parallel with ``n_jobs``
    and the thread rule (``skensemble.ensemble._base.parallel_fit``).
    """

    def _fit_members(self, X, y, sample_weight, fit_params):
        routing = sklearn.get_config()["enable_metadata_routing"]
        if routing and sample_weight is not None:  # routed to the members that request it
            fit_params["sample_weight"], sample_weight = sample_weight, None
        raise_for_params(fit_params, self, "fit")
        names, estimators = validate_estimators(self)
        if self.weights is not None and len(self.weights) != len(self.estimators):
            raise ValueError(
                "Number of `estimators` and weights must be equal; got"
                f" {len(self.weights)} weights, {len(self.estimators)} estimators"
            )
        kept = [(name, est) for name, est in zip(names, estimators) if est != "drop"]
        if routing:
            routed = process_routing(self, "fit", **fit_params)
            member_params = [dict(routed[name]["fit"]) for name, _ in kept]
        else:
            for _, est in kept:
                if sample_weight is not None and not has_fit_parameter(est, "sample_weight"):
                    raise TypeError(f"Underlying estimator {type(est).__name__} does not support sample weights.")
            member_params = [weight_params(sample_weight)] * len(kept)
        messages = [("Voting", f"({i} of {len(kept)}) Processing {name}") if self.verbose else None
                    for i, (name, _) in enumerate(kept, 1)]
        self.estimators_ = parallel_fit(
            [est for _, est in kept], X, y, self.n_jobs, None, owner=self,
            fused=self.fused, fit_params=member_params, messages=messages)
        self.named_estimators_ = Bunch()
        fitted = iter(self.estimators_)
        for name, est in self.estimators:
            member = est if est == "drop" else next(fitted)
            self.named_estimators_[name] = member
            if hasattr(member, "feature_names_in_"):
                self.feature_names_in_ = member.feature_names_in_
        return self


@register
class VotingClassifier(_VotingFitMixin, SklearnEnsembleMixin, _SkVotingClassifier):
    """scikit-learn's ``VotingClassifier`` with device placement for nets.

    Everything of :class:`sklearn.ensemble.VotingClassifier` holds; in addition:

    * ``devices`` places the i-th member fitted in parallel on
      ``devices[i % len(devices)]`` (the member's ``device`` parameters, at any
      depth, are set on a clone; the user's estimators are not changed);
    * with ``n_jobs > 1`` each loky worker runs torch with
      ``cpu_count // n_jobs`` threads, so parallel net fits do not
      oversubscribe the cores;
    * raw skorch nets among the members get float32 X, and the members' soft
      probabilities are checked before any member is trained.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members; ``"drop"`` drops one.
    voting : {"hard", "soft"}, default="hard"
        Majority vote of labels, or argmax of the (weighted) mean probability.
    weights : array-like of shape (n_estimators,), default=None
        Member weights.
    n_jobs : int, default=None
        Members fitted in parallel (joblib; any backend, e.g. Dask).
    flatten_transform : bool, default=True
        As in scikit-learn.
    verbose : bool, default=False
        Print the time of each member's fit.
    devices : list of str, "auto" or None, default=None
        Devices for the members' nets; ``None`` keeps each member's own.
    fused : bool, default=True
        Train members that are MLP nets of one architecture differing only
        in their seeds as one batched module (on the CPU the same members as
        separate fits bit for bit, faster; not with sample weights).

    Attributes
    ----------
    estimators_ : list of classifiers
        The fitted members (not ``"drop"``).
    named_estimators_ : Bunch
        Fitted members by name.
    le_ : LabelEncoder
        Encoder of the labels.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when the members record them.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skensemble.ensemble import VotingClassifier
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> vote = VotingClassifier(
    ...     [("lr", LogisticRegression(max_iter=500)),
    ...      ("net", MLPNetClassifier((16,), max_epochs=50, lr=0.01, random_state=0))],
    ...     voting="soft", devices=["cpu"]).fit(X, y)
    >>> vote.score(X, y) > 0.9
    True
    """

    _parameter_constraints = {
        **parameter_constraints(_SkVotingClassifier),
        "devices": [list, StrOptions({"auto"}), None],
        "fused": ["boolean"],
    }

    def __init__(
        self,
        estimators,
        *,
        voting="hard",
        weights=None,
        n_jobs=None,
        flatten_transform=True,
        verbose=False,
        devices=None,
        fused=True,
    ):
        super().__init__(
            estimators,
            voting=voting,
            weights=weights,
            n_jobs=n_jobs,
            flatten_transform=flatten_transform,
            verbose=verbose,
        )
        self.devices = devices
        self.fused = fused

    def _members_need_proba(self):
        return self.voting == "soft"

    @fit_context(prefer_skip_nested_validation=False)  # the members are validated by their own fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the members (same-shape nets fused, the others in parallel with ``n_jobs``), as in scikit-learn.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (any type).
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every member's ``fit`` (each must take it).
        **fit_params : dict
            With scikit-learn's metadata routing enabled, whatever the members
            request.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        y_type = type_of_target(y, input_name="y")
        if y_type in ("unknown", "continuous"):
            raise ValueError(
                f"Unknown label type: {y_type}. Maybe you are trying to fit a classifier, "
                "which expects discrete classes on a regression target with continuous values.")
        if y_type not in ("binary", "multiclass"):
            raise NotImplementedError(
                f"{type(self).__name__} only supports binary or multiclass classification. "
                "Multilabel and multi-output classification are not supported.")
        self.le_ = LabelEncoder().fit(y)
        self.classes_ = self.le_.classes_
        with worker_errors(self):
            return self._fit_members(self._X(X), self.le_.transform(y), sample_weight, dict(fit_params))


@register
class VotingRegressor(_VotingFitMixin, SklearnEnsembleMixin, _SkVotingRegressor):
    """scikit-learn's ``VotingRegressor`` with device placement for nets.

    Everything of :class:`sklearn.ensemble.VotingRegressor` holds; as in
    :class:`VotingClassifier`, ``devices`` places the i-th member fitted in
    parallel on ``devices[i % len(devices)]``, parallel workers run torch with
    ``cpu_count // n_jobs`` threads, and raw skorch members get float32 X.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members; ``"drop"`` drops one.
    weights : array-like of shape (n_estimators,), default=None
        Member weights of the averaged prediction.
    n_jobs : int, default=None
        Members fitted in parallel (joblib; any backend, e.g. Dask).
    verbose : bool, default=False
        Print the time of each member's fit.
    devices : list of str, "auto" or None, default=None
        Devices for the members' nets; ``None`` keeps each member's own.
    fused : bool, default=True
        Train members that are MLP nets of one architecture differing only
        in their seeds as one batched module (not with sample weights).

    Attributes
    ----------
    estimators_ : list of regressors
        The fitted members (not ``"drop"``).
    named_estimators_ : Bunch
        Fitted members by name.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when the members record them.

    See Also
    --------
    VotingClassifier : The same for classifiers.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from skensemble.ensemble import VotingRegressor
    >>> from skensemble.nets import MLPNetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> vote = VotingRegressor(
    ...     [("ridge", Ridge()),
    ...      ("net", MLPNetRegressor((16,), max_epochs=50, lr=0.01, random_state=0))],
    ...     devices=["cpu"]).fit(X, y)
    >>> vote.score(X, y) > 0.4
    True
    """

    _parameter_constraints = {
        **parameter_constraints(_SkVotingRegressor),
        "devices": [list, StrOptions({"auto"}), None],
        "fused": ["boolean"],
    }

    def __init__(self, estimators, *, weights=None, n_jobs=None, verbose=False, devices=None, fused=True):
        super().__init__(estimators, weights=weights, n_jobs=n_jobs, verbose=verbose)
        self.devices = devices
        self.fused = fused

    def _members_need_proba(self):
        return False

    @fit_context(prefer_skip_nested_validation=False)  # the members are validated by their own fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the members (same-shape nets fused, the others in parallel with ``n_jobs``); y may have several columns.

        scikit-learn's ``VotingRegressor`` accepts one target only; the
        average works for any number, so ``y`` of shape (n_samples, n_targets)
        is kept (a single column is flattened, with scikit-learn's warning).
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = np.asarray(y)
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            y = column_or_1d(y, warn=True)
        self._y_1d = y.ndim == 1
        with worker_errors(self):
            return self._fit_members(self._X(X), y, sample_weight, dict(fit_params))

    def _member_predictions(self, X):
        """Each member's predictions as ``(n_estimators, n_samples, n_targets)``."""
        check_is_fitted(self)
        X = self._X(X)
        predictions = [np.asarray(est.predict(X), dtype=np.float64) for est in self.estimators_]
        return np.stack([p.reshape(len(p), -1) for p in predictions])

    def predict(self, X):
        """Weighted mean of the members' predictions, shaped like the ``y`` seen at fit."""
        out = np.average(self._member_predictions(X), axis=0, weights=weights_not_none(self))
        return out.ravel() if self._y_1d else out

    def transform(self, X):
        """Each member's predictions side by side: ``(n_samples, n_estimators * n_targets)``."""
        predictions = self._member_predictions(X)
        return np.moveaxis(predictions, 0, 1).reshape(predictions.shape[1], -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
