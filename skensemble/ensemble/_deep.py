"""Deep ensembles (Lakshminarayanan et al., 2017): one net, K seeds, predictions averaged, trained fused."""

import numbers

import numpy as np
from sklearn.base import ClassifierMixin, MetaEstimatorMixin, RegressorMixin, BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets

from ..nets import MLPNetClassifier, MLPNetRegressor
from ..persistence import register
from .._compat.sklearn import HasMethods, Interval, StrOptions, fit_context, check_is_fitted, validate_data
from ..utils._config import get_config
from ._base import parallel_fit, worker_errors
from ._fused import fusable_reason, fused_fit, warn_if_optimizer_prevents_fusion

_MAX_SEED = np.iinfo(np.int32).max


def _seeded(estimator, seed):
    """A clone of ``estimator`` with every ``random_state`` parameter, at any depth, set to ``seed``."""
    estimator = clone(estimator)
    keys = [k for k in estimator.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    return estimator.set_params(**dict.fromkeys(keys, seed)) if keys else estimator


class _BaseDeepEnsemble(MetaEstimatorMixin, BaseEstimator):
    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "fused": ["boolean", StrOptions({"auto"})],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, n_estimators=5, *, fused="auto", n_jobs=None, random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.fused = fused
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _members(self):
        base = self.estimator if self.estimator is not None else self._default_estimator()
        rng = check_random_state(self.random_state)
        return [_seeded(base, int(rng.randint(_MAX_SEED))) for _ in range(self.n_estimators)]

    def _fit_members(self, X, y, sample_weight=None):
        members = self._members()
        reason = fusable_reason(members[0])
        if sample_weight is not None and reason is None:
            reason = "sample_weight is given (fused members train unweighted)"
        allowed = get_config()["fused_training"]  # skensemble.set_config(fused_training=False): never fused
        if allowed and self.fused is True and reason is not None:
            raise ValueError(f"fused=True, but these members cannot be trained fused: {reason}. "
                             "Use fused='auto' (fused when possible) or fused=False.")
        self.fused_ = allowed and self.fused is not False and reason is None and len(members) > 1
        if allowed and self.fused == "auto":
            warn_if_optimizer_prevents_fusion(members)
        if self.fused_:
            return fused_fit(members, X, y)
        with worker_errors(self):
            return parallel_fit(members, X, y, self.n_jobs, None, owner=self, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        base = self.estimator if self.estimator is not None else self._default_estimator()
        inner = get_tags(base)
        tags.input_tags = inner.input_tags
        tags.target_tags.multi_output = inner.target_tags.multi_output
        return tags


@register
class DeepEnsembleClassifier(ClassifierMixin, _BaseDeepEnsemble):
    """A deep ensemble: the same net trained from ``n_estimators`` seeds, probabilities averaged.

    Members are clones of ``estimator`` that differ only in their
    ``random_state`` (drawn from ``random_state``).  When the members are
    MLP nets that can be batched (:class:`~skensemble.nets.MLPNetClassifier`
    without early stopping, batch norm, mixed precision, callbacks or
    ``net_params``), they are trained together as one stacked module
    (``fused``): on the CPU the members are those of separate fits bit for
    bit, about twice as fast for small nets.  Any other estimator is
    fitted member by member, in parallel with ``n_jobs``.

    Parameters
    ----------
    estimator : classifier, default=None
        The member; None is ``MLPNetClassifier()``.
    n_estimators : int, default=5
        Number of members.
    fused : bool or "auto", default="auto"
        Train the members as one batched module: ``"auto"`` when possible,
        ``True`` always (a clear error naming why when it is not possible),
        ``False`` never.
    n_jobs : int, default=None
        Parallel member fits (joblib) when not fused.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds.

    Attributes
    ----------
    estimators_ : list of classifiers
        The fitted members.
    fused_ : bool
        Whether the members were trained fused.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X had them.

    See Also
    --------
    skensemble.ensemble.VotingClassifier : Members of different kinds.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skensemble.ensemble import DeepEnsembleClassifier
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> ens = DeepEnsembleClassifier(MLPNetClassifier((16,), max_epochs=30), n_estimators=3,
    ...                              random_state=0).fit(X, y)
    >>> ens.fused_, len(ens.estimators_), ens.predict_proba(X[:2]).shape
    (True, 3, (2, 3))
    """

    @staticmethod
    def _default_estimator():
        return MLPNetClassifier()

    @fit_context(prefer_skip_nested_validation=False)  # members validate their own parameters
    def fit(self, X, y, sample_weight=None):
        """Fit the members on ``(X, y)``, fused when possible (not with ``sample_weight``, which each member's
        fit takes).

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        _, y_checked = validate_data(self, X, y, reset=True, dtype=None, ensure_all_finite=False)
        check_classification_targets(y_checked)
        self.classes_ = np.unique(y_checked)
        self.estimators_ = self._fit_members(X, y, sample_weight)
        return self

    def predict_proba(self, X):
        """The members' mean class probabilities.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
        return np.mean([m.predict_proba(X) for m in self.estimators_], axis=0)

    def predict(self, X):
        """The class of highest mean probability.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


@register
class DeepEnsembleRegressor(RegressorMixin, _BaseDeepEnsemble):
    """A deep ensemble of regressors: ``n_estimators`` seeds, predictions averaged, spread reported.

    As :class:`DeepEnsembleClassifier`, for regression: members trained
    fused when they are batchable MLP nets, the mean prediction, and with
    ``return_std=True`` the members' standard deviation (an uncertainty
    estimate).

    Parameters
    ----------
    estimator : regressor, default=None
        The member; None is ``MLPNetRegressor()``.
    n_estimators : int, default=5
        Number of members.
    fused : bool or "auto", default="auto"
        Train the members as one batched module: ``"auto"`` when possible,
        ``True`` always (an error naming why when it is not possible),
        ``False`` never.
    n_jobs : int, default=None
        Parallel member fits (joblib) when not fused.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds.

    Attributes
    ----------
    estimators_ : list of regressors
        The fitted members.
    fused_ : bool
        Whether the members were trained fused.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X had them.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skensemble.ensemble import DeepEnsembleRegressor
    >>> from skensemble.nets import MLPNetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> ens = DeepEnsembleRegressor(MLPNetRegressor((16,), max_epochs=20), n_estimators=3,
    ...                             random_state=0).fit(X, y)
    >>> mean, std = ens.predict(X[:4], return_std=True)
    >>> mean.shape, bool((std > 0).all())
    ((4,), True)
    """

    @staticmethod
    def _default_estimator():
        return MLPNetRegressor()

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the members on ``(X, y)``, fused when possible (not with ``sample_weight``, which each member's
        fit takes).

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        validate_data(self, X, y, reset=True, dtype=None, ensure_all_finite=False, y_numeric=True,
                      multi_output=True)
        self.estimators_ = self._fit_members(X, y, sample_weight)
        return self

    def predict(self, X, return_std=False):
        """The members' mean prediction (and their standard deviation with ``return_std``).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        std : ndarray of the same shape, only with ``return_std=True``
        """
        check_is_fitted(self)
        validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
        predictions = np.array([m.predict(X) for m in self.estimators_], dtype=np.float64)
        mean = predictions.mean(axis=0)
        return (mean, predictions.std(axis=0)) if return_std else mean
