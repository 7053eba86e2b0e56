"""CascadeClassifier: serial fusion, cheap model first."""

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ..persistence import register
from .._compat.sklearn import (
    fit_context,
    BaseHeterogeneousEnsemble,
    Interval,
    StrOptions,
    check_is_fitted,
    validate_data,
)
from ._base import check_fit_input, member_input, parallel_fit


def _pick_threshold(confidence, correct, weight, target_accuracy):
    """Lowest confidence threshold whose accepted samples reach ``target_accuracy``.

    The accuracy of the accepted samples is weighted by ``weight``.
    """
    if len(confidence) == 0:
        return 1.0
    order = np.argsort(-confidence, kind="stable")
    w = weight[order]
    with np.errstate(invalid="ignore", divide="ignore"):  # leading zero weights
        acc = np.cumsum(correct[order] * w) / np.cumsum(w)
    ok = np.nonzero(acc >= target_accuracy)[0]
    if len(ok) == 0:
        return np.inf  # this stage never decides alone
    return float(confidence[order][ok[-1]])


@register
class CascadeClassifier(ClassifierMixin, BaseHeterogeneousEnsemble):
    """Serial fusion of classifiers ordered from cheap to expensive.

    At predict time each sample goes through the stages in order and stops at
    the first stage whose top-class probability reaches that stage's
    threshold; the last stage decides whatever is left.  Easy samples are then
    served by cheap models, and only hard ones pay for the expensive ones.

    Every member is trained on all training samples (not only on the samples
    earlier stages found hard): that keeps each member a good model on its own,
    lets the members train in parallel, and keeps the thresholds free to change
    after training without refitting.

    Parameters
    ----------
    estimators : list of (str, classifier)
        The stages, cheapest first; each needs ``predict_proba``.
        ``"drop"`` leaves a member out.  Members' parameters are set as
        ``<name>__<parameter>`` (``set_params``, ``GridSearchCV``), and a
        member can be replaced as ``set_params(<name>=estimator)``.
    threshold : float in (0, 1] or list of float, default=0.9
        Confidence a stage needs to decide; one value for all stages or one per
        stage except the last.  Ignored when ``target_accuracy`` is set.
    target_accuracy : float in (0, 1] or None, default=None
        If set, a stratified ``validation_fraction`` of the training data is
        held out, the members are fitted on the rest, and each stage's
        threshold is the lowest one at which the validation samples that stage
        decides are classified with at least this accuracy.
    validation_fraction : float in (0, 1), default=0.2
        Held-out share used with ``target_accuracy``.
    n_jobs : int, default=None
        Members fitted in parallel (joblib).
    devices : list of str, "auto" or None, default=None
        The i-th member's nets go to ``devices[i % len(devices)]``.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split.

    Attributes
    ----------
    estimators_ : list of classifiers
        Fitted stages.
    named_estimators_ : Bunch
        Fitted stages by name.
    thresholds_ : ndarray of shape (n_stages - 1,)
        Thresholds of all stages but the last.
    stage_fractions_ : ndarray of shape (n_stages,)
        Share of samples each stage decided, on the validation split with
        ``target_accuracy``, else on the training data.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skensemble.ensemble import CascadeClassifier
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> cascade = CascadeClassifier(
    ...     [("lr", LogisticRegression(max_iter=2000)),
    ...      ("net", MLPNetClassifier(max_epochs=30, random_state=0))],
    ...     threshold=0.95).fit(X, y)
    >>> bool(cascade.stage_fractions_[0] > 0.5)
    True
    """

    _parameter_constraints = {
        "estimators": [list],
        "threshold": [Interval(numbers.Real, 0, 1, closed="right"), list, tuple],
        "target_accuracy": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_jobs": [numbers.Integral, None],
        "devices": [list, StrOptions({"auto"}), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimators,
        *,
        threshold=0.9,
        target_accuracy=None,
        validation_fraction=0.2,
        n_jobs=None,
        devices=None,
        random_state=None,
    ):
        super().__init__(estimators)
        self.threshold = threshold
        self.target_accuracy = target_accuracy
        self.validation_fraction = validation_fraction
        self.n_jobs = n_jobs
        self.devices = devices
        self.random_state = random_state

    def _fixed_thresholds(self, n_stages):
        if isinstance(self.threshold, (list, tuple)):
            if len(self.threshold) != n_stages - 1:
                raise ValueError(
                    f"threshold has {len(self.threshold)} values; a cascade of {n_stages} "
                    f"stages needs {n_stages - 1} (none for the last stage)."
                )
            return np.asarray(self.threshold, dtype=float)
        return np.full(n_stages - 1, float(self.threshold))

    @fit_context(prefer_skip_nested_validation=False)  # members validate their own parameters
    def fit(self, X, y, sample_weight=None):
        """Fit every stage on the training data and set the thresholds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every member's ``fit`` (each must accept it) and used to
            weigh the validation accuracy when thresholds are picked.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        names, members, X, y, sample_weight = check_fit_input(self, X, y, sample_weight)
        thresholds = self._fixed_thresholds(len(members))  # validates the list early
        w = np.ones(len(y)) if sample_weight is None else sample_weight
        if self.target_accuracy is None:
            X_fit, y_fit, w_fit, X_val, y_val, w_val = X, y, w, X, y, w
        else:
            X_fit, X_val, y_fit, y_val, w_fit, w_val = train_test_split(
                X, y, w, test_size=self.validation_fraction, stratify=y,
                random_state=self.random_state,
            )
        self.estimators_ = parallel_fit(members, X_fit, y_fit, self.n_jobs, self.devices, self,
                                        sample_weight=None if sample_weight is None else w_fit)
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_)))
        if self.target_accuracy is not None:
            thresholds = self._pick_thresholds(X_val, y_val, w_val)
        self.thresholds_ = thresholds
        stages = self._stages(self._member_probas(X_val))[1]
        self.stage_fractions_ = np.bincount(stages, minlength=len(members)) / len(stages)
        return self

    def _pick_thresholds(self, X_val, y_val, w_val):
        probas = self._member_probas(X_val)
        remaining = np.ones(len(y_val), dtype=bool)
        thresholds = []
        for proba in probas[:-1]:
            conf = proba.max(axis=1)
            correct = self.classes_[proba.argmax(axis=1)] == y_val
            t = _pick_threshold(conf[remaining], correct[remaining], w_val[remaining],
                                self.target_accuracy)
            thresholds.append(t)
            remaining &= conf < t
        return np.asarray(thresholds)

    def _member_probas(self, X):
        return [est.predict_proba(X) for est in self.estimators_]

    def _stages(self, probas):
        """Probabilities and deciding stage of each sample, from all members' outputs."""
        n = len(probas[0])
        out = probas[-1].copy()
        stage = np.full(n, len(probas) - 1)
        undecided = np.ones(n, dtype=bool)
        for k, (proba, t) in enumerate(zip(probas[:-1], self.thresholds_)):
            take = undecided & (proba.max(axis=1) >= t)
            out[take] = proba[take]
            stage[take] = k
            undecided &= ~take
        return out, stage

    def _cascade(self, X):
        """Serial prediction: later stages only see the samples still undecided."""
        check_is_fitted(self)
        X = member_input(X, validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False), self.estimators_)
        n = X.shape[0]
        out = np.zeros((n, len(self.classes_)))
        stage = np.zeros(n, dtype=int)
        undecided = np.arange(n)
        for k, est in enumerate(self.estimators_):
            if len(undecided) == 0:
                break
            rows = X.iloc[undecided] if hasattr(X, "iloc") else X[undecided]
            proba = est.predict_proba(rows)
            last = k == len(self.estimators_) - 1
            take = np.ones(len(undecided), bool) if last else proba.max(axis=1) >= self.thresholds_[k]
            out[undecided[take]] = proba[take]
            stage[undecided[take]] = k
            undecided = undecided[~take]
        return out, stage

    def predict_proba(self, X):
        """Probabilities of the stage that decided each sample."""
        return self._cascade(X)[0]

    def predict(self, X):
        """Class labels of the stage that decided each sample."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_stage(self, X):
        """Index of the stage that decides each sample (0 = cheapest)."""
        return self._cascade(X)[1]
