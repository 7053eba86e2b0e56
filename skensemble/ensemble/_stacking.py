"""Stacking ensemble of nets and any scikit-learn classifiers."""

from sklearn.ensemble import StackingClassifier as _SkStackingClassifier

from sklearn.utils.metaestimators import available_if

from ..utils._compat import StrOptions
from ._base import as_float32_if, check_members, worker_errors, needs_float32, place_all, resolve_devices


class StackingClassifier(_SkStackingClassifier):
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
        **_SkStackingClassifier._parameter_constraints,
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

    def _validate_estimators(self):
        check_members(self.estimators, type(self).__name__,
                      need_proba=self.stack_method == "predict_proba")
        names, estimators = super()._validate_estimators()
        return names, place_all(estimators, resolve_devices(self.devices))

    def _float32(self):
        return needs_float32([e for _, e in self.estimators])

    def fit(self, X, y, **fit_params):
        """Fit the members and the final estimator on out-of-fold predictions."""
        with worker_errors(self):
            return super().fit(as_float32_if(X, self._float32()), y, **fit_params)

    @available_if(lambda self: hasattr(super(StackingClassifier, self), "predict"))
    def predict(self, X, **predict_params):
        """Class labels predicted by the final estimator."""
        return super().predict(as_float32_if(X, self._float32()), **predict_params)

    @available_if(lambda self: hasattr(super(StackingClassifier, self), "predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the final estimator."""
        return super().predict_proba(as_float32_if(X, self._float32()))

    @available_if(lambda self: hasattr(super(StackingClassifier, self), "transform"))
    def transform(self, X):
        """The stacked member predictions."""
        return super().transform(as_float32_if(X, self._float32()))
