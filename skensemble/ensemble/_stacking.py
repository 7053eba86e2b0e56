"""Stacking ensembles of nets and any scikit-learn classifiers or regressors."""

from sklearn.ensemble import StackingClassifier as _SkStackingClassifier
from sklearn.ensemble import StackingRegressor as _SkStackingRegressor

from ..persistence import register
from .._compat.sklearn import StrOptions, parameter_constraints
from ._base import SklearnEnsembleMixin


@register
class StackingClassifier(SklearnEnsembleMixin, _SkStackingClassifier):
    """scikit-learn's ``StackingClassifier`` with device placement for nets.

    The final estimator is trained on out-of-fold predictions of the members
    (``cv``), optionally with the raw features (``passthrough``); members'
    ``stack_method`` is chosen as in scikit-learn.  As in
    :class:`skensemble.ensemble.VotingClassifier`, ``devices`` places the i-th
    member on ``devices[i % len(devices)]``, parallel workers use
    ``cpu_count // n_jobs`` torch threads, and raw skorch members get float32 X.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members; ``"drop"`` drops one.
    final_estimator : classifier, default=None
        Trained on the stacked predictions; ``LogisticRegression()`` if None.
    cv : int, cross-validation generator, iterable, or "prefit", default=None
        How the out-of-fold predictions are made (5-fold by default).
    stack_method : {"auto", "predict_proba", "decision_function", "predict"}, \
default="auto"
        Which member method produces the stacked features.
    n_jobs : int, default=None
        Parallel jobs for member fits and out-of-fold predictions.
    passthrough : bool, default=False
        Also give the final estimator the raw features.
    verbose : int, default=0
        Verbosity.
    devices : list of str, "auto" or None, default=None
        Devices for the members' nets; ``None`` keeps each member's own.

    Attributes
    ----------
    estimators_ : list of estimators
        The members fitted on the whole training data.
    named_estimators_ : Bunch
        Fitted members by name.
    final_estimator_ : estimator
        The fitted final estimator.
    stack_method_ : list of str
        The method used for each member.
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
    >>> from skensemble.ensemble import StackingClassifier
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> stack = StackingClassifier(
    ...     [("lr", LogisticRegression(max_iter=500)),
    ...      ("net", MLPNetClassifier((16,), max_epochs=50, lr=0.01, random_state=0))],
    ...     cv=3).fit(X, y)
    >>> stack.score(X, y) > 0.9
    True
    """

    _parameter_constraints = {
        **parameter_constraints(_SkStackingClassifier),
        "devices": [list, StrOptions({"auto"}), None],
    }

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        cv=None,
        stack_method="auto",
        n_jobs=None,
        passthrough=False,
        verbose=0,
        devices=None,
    ):
        super().__init__(
            estimators,
            final_estimator=final_estimator,
            cv=cv,
            stack_method=stack_method,
            n_jobs=n_jobs,
            passthrough=passthrough,
            verbose=verbose,
        )
        self.devices = devices

    def _members_need_proba(self):
        return self.stack_method == "predict_proba"


@register
class StackingRegressor(SklearnEnsembleMixin, _SkStackingRegressor):
    """scikit-learn's ``StackingRegressor`` with device placement for nets.

    The final estimator is trained on out-of-fold predictions of the members
    (``cv``), optionally with the raw features (``passthrough``).  As in
    :class:`StackingClassifier`, ``devices`` places the i-th member on
    ``devices[i % len(devices)]``, parallel workers use ``cpu_count // n_jobs``
    torch threads, and raw skorch members get float32 X.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members; ``"drop"`` drops one.
    final_estimator : regressor, default=None
        Trained on the stacked predictions; ``RidgeCV()`` if None.
    cv : int, cross-validation generator, iterable, or "prefit", default=None
        How the out-of-fold predictions are made (5-fold by default).
    n_jobs : int, default=None
        Parallel jobs for member fits and out-of-fold predictions.
    passthrough : bool, default=False
        Also give the final estimator the raw features.
    verbose : int, default=0
        Verbosity.
    devices : list of str, "auto" or None, default=None
        Devices for the members' nets; ``None`` keeps each member's own.

    Attributes
    ----------
    estimators_ : list of estimators
        The members fitted on the whole training data.
    named_estimators_ : Bunch
        Fitted members by name.
    final_estimator_ : estimator
        The fitted final estimator.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when the members record them.

    See Also
    --------
    StackingClassifier : The same for classifiers.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from skensemble.ensemble import StackingRegressor
    >>> from skensemble.nets import MLPNetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> stack = StackingRegressor(
    ...     [("ridge", Ridge()),
    ...      ("net", MLPNetRegressor((16,), max_epochs=50, lr=0.01, random_state=0))],
    ...     cv=3).fit(X, y)
    >>> stack.score(X, y) > 0.4
    True
    """

    _parameter_constraints = {
        **parameter_constraints(_SkStackingRegressor),
        "devices": [list, StrOptions({"auto"}), None],
    }

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        cv=None,
        n_jobs=None,
        passthrough=False,
        verbose=0,
        devices=None,
    ):
        super().__init__(
            estimators,
            final_estimator=final_estimator,
            cv=cv,
            n_jobs=n_jobs,
            passthrough=passthrough,
            verbose=verbose,
        )
        self.devices = devices

    def _members_need_proba(self):
        return False
