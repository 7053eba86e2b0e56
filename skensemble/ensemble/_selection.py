"""Ensemble selection (Caruana et al., 2004): greedy forward selection for classifiers and regressors."""

import numbers

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.utils import Bunch
from sklearn.utils.parallel import Parallel, delayed

from ..persistence import register
from .._compat.sklearn import (
    fit_context,
    BaseHeterogeneousEnsemble,
    Interval,
    StrOptions,
    check_is_fitted,
    validate_data,
)
from ._fused import fused_fit, fusion_groups
from ._base import (
    check_fit_input,
    member_input,
    parallel_fit,
    place_all,
    resolve_devices,
    threads_per_job,
    torch_threads,
    weight_params,
    worker_errors,
)


def _oof_predictions(estimator, X, y, folds, n_threads, sample_weight, method):
    with torch_threads(n_threads):
        out = cross_val_predict(estimator, X, y, cv=folds, method=method,
                                params=weight_params(sample_weight))
    return np.asarray(out, dtype=np.float64).reshape(len(out), -1)


def _rows(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def _oof_fused(members, X, y, folds, method):
    """Out-of-fold outputs of same-shape nets, each fold's members trained fused."""
    y = np.asarray(y)
    outputs = [None] * len(members)
    for train, test in folds:
        fitted = fused_fit([clone(m) for m in members], _rows(X, train), y[train])
        for k, est in enumerate(fitted):
            out = np.asarray(getattr(est, method)(_rows(X, test)), dtype=np.float64).reshape(len(test), -1)
            if outputs[k] is None:
                outputs[k] = np.zeros((len(y), out.shape[1]))
            outputs[k][test] = out
    return outputs


def _scorer(scoring, classes, sample_weight):
    """``score(y, averaged outputs)``, weighted by ``sample_weight`` when given."""
    kw = weight_params(sample_weight)
    if callable(scoring):
        return lambda y, p: scoring(y, p, **kw)
    if scoring == "neg_log_loss":
        return lambda y, p: -log_loss(y, np.clip(p, 1e-15, 1), labels=classes, **kw)
    if scoring == "accuracy":
        return lambda y, p: accuracy_score(y, classes[np.argmax(p, axis=1)], **kw)
    if scoring == "r2":
        return lambda y, p: r2_score(y, p.reshape(np.shape(y)), **kw)
    return lambda y, p: -mean_squared_error(y, p.reshape(np.shape(y)), **kw)  # neg_mean_squared_error


class _BaseEnsembleSelection(BaseHeterogeneousEnsemble):
    """Caruana's greedy selection, whatever the task; the subclass says what is averaged."""

    @fit_context(prefer_skip_nested_validation=False)  # members validate their own parameters
    def fit(self, X, y, sample_weight=None):
        """Select and weight members on out-of-fold predictions, then refit them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Class labels, or targets for the regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every member's ``fit`` (each must accept it) and used
            to weigh the selection score.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        names, members, X, y, sample_weight = check_fit_input(self, X, y, sample_weight)
        self._y_1d = np.ndim(y) == 1
        folds = list(check_cv(self.cv, y, classifier=is_classifier(self)).split(X, y))
        placed = place_all([clone(m) for m in members], resolve_devices(self.devices))
        n_threads = threads_per_job(self.n_jobs)
        method = "predict_proba" if is_classifier(self) else "predict"
        probas = [None] * len(placed)
        # fused folds need every class in every training fold (cross_val_predict aligns the others)
        every_class = not is_classifier(self) or all(
            len(np.unique(np.asarray(y)[train])) == len(self.classes_) for train, _ in folds)
        if self.fused and sample_weight is None and every_class:
            for group in fusion_groups(placed):
                for i, out in zip(group, _oof_fused([placed[i] for i in group], X, y, folds, method)):
                    probas[i] = out
        rest = [i for i, p in enumerate(probas) if p is None]
        with worker_errors(self):
            done = Parallel(n_jobs=self.n_jobs)(
                delayed(_oof_predictions)(placed[i], X, y, folds, n_threads, sample_weight, method)
                for i in rest
            )
        for i, out in zip(rest, done):
            probas[i] = out
        classes = getattr(self, "classes_", None)
        score = _scorer(self.scoring, classes, sample_weight)
        # among equal scores (frequent with accuracy), the lower log loss wins
        tiebreak = _scorer("neg_log_loss", classes, sample_weight) if classes is not None else score
        self.oof_scores_ = {n: float(score(y, p)) for n, p in zip(names, probas)}
        counts = np.zeros(len(members))
        total = np.zeros_like(probas[0])
        self.trajectory_ = []
        for round_ in range(1, self.ensemble_size + 1):
            candidates = [(score(y, (total + p) / round_), tiebreak(y, (total + p) / round_))
                          for p in probas]
            best = max(range(len(candidates)), key=candidates.__getitem__)
            counts[best] += 1
            total += probas[best]
            self.trajectory_.append(float(candidates[best][0]))
            if self.verbose:
                print(f"[EnsembleSelection] round {round_}: + {names[best]} -> {candidates[best][0]:.5f}")
        self.weights_ = counts / counts.sum()
        chosen = [i for i in range(len(members)) if counts[i] > 0]
        fitted = parallel_fit([members[i] for i in chosen], X, y, self.n_jobs, self.devices, self,
                              sample_weight=sample_weight, fused=self.fused)
        self.estimators_ = ["drop"] * len(members)
        for i, est in zip(chosen, fitted):
            self.estimators_[i] = est
        self.named_estimators_ = Bunch(**{names[i]: self.estimators_[i] for i in chosen})
        return self

    def _average(self, X, method):
        """Weighted mean of the selected members' ``method`` outputs."""
        check_is_fitted(self)
        members = [e for e in self.estimators_ if e != "drop"]
        X = member_input(X, validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False), members)
        # members may answer (n,) or (n, 1) for one target: average them as columns
        total = 0.0
        for w, est in zip(self.weights_, self.estimators_):
            if est != "drop":
                out = np.asarray(getattr(est, method)(X), dtype=np.float64)
                total = total + w * out.reshape(len(out), -1)
        return total


@register
class EnsembleSelectionClassifier(ClassifierMixin, _BaseEnsembleSelection):
    """Ensemble selection from a library of models (Caruana et al., 2004).

    ``fit`` computes each member's out-of-fold probabilities (``cv``), then
    greedily adds, with replacement, the member whose addition most improves
    the score of the averaged probabilities, ``ensemble_size`` times.  The
    number of times a member was picked, divided by ``ensemble_size``, is its
    weight.  Members with a weight are then refitted on all the data, and
    ``predict_proba`` is the weighted mean of their probabilities.

    Parameters
    ----------
    estimators : list of (str, classifier)
        The library; each member needs ``predict_proba``.
        ``"drop"`` leaves a member out.  Members' parameters are set as
        ``<name>__<parameter>`` (``set_params``, ``GridSearchCV``), and a
        member can be replaced as ``set_params(<name>=estimator)``.
    ensemble_size : int, default=50
        Number of greedy selection rounds.
    cv : int, cross-validation generator or iterable, default=5
        Splits for the out-of-fold probabilities (stratified for integers).
    scoring : {"accuracy", "neg_log_loss"} or callable, default="accuracy"
        What selection maximises; a callable gets ``(y_true, proba)`` (and
        ``sample_weight=`` when ``fit`` is given weights).  Ties
        (frequent with accuracy) go to the candidate with the lower log loss.
        Log loss alone tends to pick only the most confident members (nets).
    n_jobs : int, default=None
        Members' out-of-fold predictions and refits run in parallel.
    devices : list of str, "auto" or None, default=None
        The i-th member's nets go to ``devices[i % len(devices)]``.
    fused : bool, default=True
        Train members that are MLP nets of one architecture differing only
        in their seeds as one batched module (out-of-fold fits and the
        refit; on the CPU the same members as separate fits bit for bit; not
        with sample weights).
    verbose : int, default=0
        Print the selection trajectory when positive.

    Attributes
    ----------
    weights_ : ndarray of shape (n_estimators,)
        Learned member weights (sum to 1).
    estimators_ : list
        Fitted members in the order of ``estimators``; ``"drop"`` where the
        weight is 0.
    named_estimators_ : Bunch
        Fitted members (weight > 0) by name.
    oof_scores_ : dict
        Out-of-fold score of each member alone.
    trajectory_ : list of float
        Out-of-fold score of the ensemble after each selection round.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.

    See Also
    --------
    EnsembleSelectionRegressor : The same for regressors.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skensemble.ensemble import EnsembleSelectionClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> sel = EnsembleSelectionClassifier(
    ...     [("lr", LogisticRegression(max_iter=500)),
    ...      ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))],
    ...     ensemble_size=10, cv=3).fit(X, y)
    >>> float(sel.weights_.sum())
    1.0
    """

    _parameter_constraints = {
        "estimators": [list],
        "ensemble_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "scoring": [StrOptions({"neg_log_loss", "accuracy"}), callable],
        "n_jobs": [numbers.Integral, None],
        "devices": [list, StrOptions({"auto"}), None],
        "fused": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        *,
        ensemble_size=50,
        cv=5,
        scoring="accuracy",
        n_jobs=None,
        devices=None,
        fused=True,
        verbose=0,
    ):
        super().__init__(estimators)
        self.ensemble_size = ensemble_size
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.devices = devices
        self.fused = fused
        self.verbose = verbose

    def predict_proba(self, X):
        """Weighted mean of the selected members' probabilities."""
        return self._average(X, "predict_proba")

    def predict(self, X):
        """Class with the highest weighted mean probability."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


@register
class EnsembleSelectionRegressor(RegressorMixin, _BaseEnsembleSelection):
    """Ensemble selection from a library of regressors (Caruana et al., 2004).

    ``fit`` computes each member's out-of-fold predictions (``cv``), then
    greedily adds, with replacement, the member whose addition most improves
    the score of the averaged predictions, ``ensemble_size`` times.  The
    number of times a member was picked, divided by ``ensemble_size``, is its
    weight.  Members with a weight are then refitted on all the data, and
    ``predict`` is the weighted mean of their predictions.

    Parameters
    ----------
    estimators : list of (str, regressor)
        The library.
        ``"drop"`` leaves a member out.  Members' parameters are set as
        ``<name>__<parameter>`` (``set_params``, ``GridSearchCV``), and a
        member can be replaced as ``set_params(<name>=estimator)``.
    ensemble_size : int, default=50
        Number of greedy selection rounds.
    cv : int, cross-validation generator or iterable, default=5
        Splits for the out-of-fold predictions.
    scoring : {"r2", "neg_mean_squared_error"} or callable, default="r2"
        What selection maximises; a callable gets ``(y_true, y_pred)`` (and
        ``sample_weight=`` when ``fit`` is given weights).
    n_jobs : int, default=None
        Members' out-of-fold predictions and refits run in parallel.
    devices : list of str, "auto" or None, default=None
        The i-th member's nets go to ``devices[i % len(devices)]``.
    fused : bool, default=True
        Train members that are MLP nets of one architecture differing only
        in their seeds as one batched module (out-of-fold fits and the
        refit; on the CPU the same members as separate fits bit for bit; not
        with sample weights).
    verbose : int, default=0
        Print the selection trajectory when positive.

    Attributes
    ----------
    weights_ : ndarray of shape (n_estimators,)
        Learned member weights (sum to 1).
    estimators_ : list
        Fitted members in the order of ``estimators``; ``"drop"`` where the
        weight is 0.
    named_estimators_ : Bunch
        Fitted members (weight > 0) by name.
    oof_scores_ : dict
        Out-of-fold score of each member alone.
    trajectory_ : list of float
        Out-of-fold score of the ensemble after each selection round.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.

    See Also
    --------
    EnsembleSelectionClassifier : The same for classifiers.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from skensemble.ensemble import EnsembleSelectionRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> sel = EnsembleSelectionRegressor(
    ...     [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))],
    ...     ensemble_size=10, cv=3).fit(X, y)
    >>> float(sel.weights_.sum())
    1.0
    """

    _parameter_constraints = {
        "estimators": [list],
        "ensemble_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "scoring": [StrOptions({"r2", "neg_mean_squared_error"}), callable],
        "n_jobs": [numbers.Integral, None],
        "devices": [list, StrOptions({"auto"}), None],
        "fused": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        *,
        ensemble_size=50,
        cv=5,
        scoring="r2",
        n_jobs=None,
        devices=None,
        fused=True,
        verbose=0,
    ):
        super().__init__(estimators)
        self.ensemble_size = ensemble_size
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.devices = devices
        self.fused = fused
        self.verbose = verbose

    def predict(self, X):
        """Weighted mean of the selected members' predictions, shaped like the ``y`` seen at fit."""
        out = self._average(X, "predict")
        return out.ravel() if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
