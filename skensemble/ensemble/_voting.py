"""Voting ensembles of nets and any scikit-learn classifiers or regressors."""

import numpy as np
from sklearn.ensemble import VotingClassifier as _SkVotingClassifier
from sklearn.ensemble import VotingRegressor as _SkVotingRegressor
from sklearn.utils.validation import column_or_1d

from contextlib import contextmanager

from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from ..persistence import register
from ..utils._compat import BaseVoting, StrOptions, check_is_fitted, raise_for_params
from ._base import SklearnEnsembleMixin, worker_errors
from ..utils._config import get_config
from ._fused import fused_fit, fusion_groups


class _Prefitted(FrozenEstimator):
    """A member already trained fused; scikit-learn's fit loop passes it through."""


class _FusedMembersMixin:
    """Members that are MLP nets of one architecture, differing only in seeds, trained fused.

    scikit-learn's voting ``fit`` fits clones of the validated members; the
    groups that can be batched are trained together first (on the data and
    targets scikit-learn's loop would give them) and handed to the loop
    already fitted, then unwrapped, so ``estimators_`` holds plain fitted nets.
    """

    def _validate_estimators(self):
        names, estimators = super()._validate_estimators()
        data = self.__dict__.get("_fuse_on")
        if data is None or not self.fused or not get_config()["fused_training"]:
            return names, estimators
        X, y = data
        if hasattr(self, "le_"):  # a classifier's members get the encoded labels
            y = LabelEncoder().fit_transform(y)
        estimators = list(estimators)
        for group in fusion_groups(estimators):
            for i, est in zip(group, fused_fit([clone(estimators[i]) for i in group], X, y)):
                estimators[i] = _Prefitted(est)
        return names, estimators

    @contextmanager
    def _fusing(self, X, y, fit_params):
        self._fuse_on = None if fit_params.get("sample_weight") is not None else (X, y)
        try:
            yield
        finally:
            del self._fuse_on
        self.estimators_ = [e.estimator if isinstance(e, _Prefitted) else e for e in self.estimators_]
        self.named_estimators_ = Bunch(**{k: e.estimator if isinstance(e, _Prefitted) else e
                                          for k, e in self.named_estimators_.items()})


@register
class VotingClassifier(_FusedMembersMixin, SklearnEnsembleMixin, _SkVotingClassifier):
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
        **_SkVotingClassifier._parameter_constraints,
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

    def fit(self, X, y, **fit_params):
        """Fit the members (same-shape nets fused, the others in parallel with ``n_jobs``), as in scikit-learn.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        with self._fusing(self._X(X), y, fit_params):
            super().fit(X, y, **fit_params)
        return self


@register
class VotingRegressor(_FusedMembersMixin, SklearnEnsembleMixin, _SkVotingRegressor):
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
        **_SkVotingRegressor._parameter_constraints,
        "devices": [list, StrOptions({"auto"}), None],
        "fused": ["boolean"],
    }

    def __init__(self, estimators, *, weights=None, n_jobs=None, verbose=False, devices=None, fused=True):
        super().__init__(estimators, weights=weights, n_jobs=n_jobs, verbose=verbose)
        self.devices = devices
        self.fused = fused

    def _members_need_proba(self):
        return False

    def fit(self, X, y, **fit_params):
        """Fit the members (in parallel with ``n_jobs``) on (X, y); y may have several columns.

        scikit-learn's ``VotingRegressor`` accepts one target only; the
        average works for any number, so ``y`` of shape (n_samples, n_targets)
        is kept (a single column is flattened, with scikit-learn's warning).
        """
        raise_for_params(fit_params, self, "fit", allow=["sample_weight"])
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = np.asarray(y)
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            y = column_or_1d(y, warn=True)
        self._y_1d = y.ndim == 1
        X = self._X(X)
        with worker_errors(self), self._fusing(X, y, fit_params):
            BaseVoting.fit(self, X, y, **fit_params)
        return self

    def _member_predictions(self, X):
        """Each member's predictions as ``(n_estimators, n_samples, n_targets)``."""
        check_is_fitted(self)
        X = self._X(X)
        predictions = [np.asarray(est.predict(X), dtype=np.float64) for est in self.estimators_]
        return np.stack([p.reshape(len(p), -1) for p in predictions])

    def predict(self, X):
        """Weighted mean of the members' predictions, shaped like the ``y`` seen at fit."""
        out = np.average(self._member_predictions(X), axis=0, weights=self._weights_not_none)
        return out.ravel() if self._y_1d else out

    def transform(self, X):
        """Each member's predictions side by side: ``(n_samples, n_estimators * n_targets)``."""
        predictions = self._member_predictions(X)
        return np.moveaxis(predictions, 0, 1).reshape(predictions.shape[1], -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
