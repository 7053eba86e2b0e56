"""DistilledRegressor: train a small net on a regressor teacher's predictions."""

import numbers

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import r2_score

from ...nets import MLPNetRegressor
from ...nets._base import BaseNet
from ...persistence import register
from ...utils._access import get_net
from ..._compat.sklearn import HasMethods, Interval, StrOptions, fit_context, check_is_fitted, validate_data
from ...utils._params import store_params
from ...utils._random import draw_seed
from ._augment import AUGMENTERS, get_augmenter
from ...meta._base import NetWrapperRegressorMixin, fit_or_copy
from ._distilled import _BaseDistilled
from ._loss import RegressionDistillationLoss


@register
class DistilledRegressor(NetWrapperRegressorMixin, _BaseDistilled):
    """Distil any scikit-learn regressor into a small net.

    ``fit`` fits the teacher (a clone; a ``FrozenEstimator`` is used as is),
    builds a transfer set of X and ``augment_factor`` augmented copies, has the
    teacher predict it once, up front, and trains the student on
    ``alpha * MSE(teacher) + (1 - alpha) * MSE(y)`` on real samples and on
    ``MSE(teacher)`` alone on the synthetic ones, in the student's
    standardised target units.  Teachers worth distilling (gradient boosting,
    forests, ensembles) are slow to predict, so the transfer set is labelled
    once, in chunks, and capped at ``max_transfer_samples`` rows.

    Parameters
    ----------
    teacher : regressor
        Any regressor: unfitted (cloned and fitted on (X, y)) or a
        ``FrozenEstimator`` of a fitted one (not refitted), e.g. a
        ``HistGradientBoostingRegressor``, a forest, a ``VotingRegressor`` or
        a net.
    student : skensemble net regressor, default=None
        The net to train, cloned.  ``None`` means
        ``MLPNetRegressor(hidden_layer_sizes=(64,))``.  It trains for its own
        ``max_epochs`` over the transfer set; its early stopping is not used.
    alpha : float in [0, 1], default=0.9
        Weight of the teacher term on real samples; ``1 - alpha`` weighs the
        true targets.  Synthetic samples are fitted to the teacher alone.
    augmentation : {"noise", "mixup", "munge"}, callable or None, default="noise"
        How to make synthetic samples: Gaussian noise of 0.2 feature std
        (:class:`NoiseAugmenter`), mixup (:class:`MixupAugmenter`), MUNGE
        (:class:`MungeAugmenter`), or ``f(X, random_state) -> X_new``.
    augment_factor : int, default=4
        Number of augmented copies of X in the transfer set.
    init : {"teacher"} or None, default=None
        ``"teacher"`` starts the student from the teacher's weights; the
        teacher must be a net regressor with the student's architecture.
    max_transfer_samples : int, default=200_000
        Upper bound on the transfer set's rows.
    keep_teacher : bool, default=True
        Keep the fitted teacher as ``teacher_``; with ``False`` it is dropped
        after fit.
    random_state : int, RandomState instance or None, default=None
        Seeds augmentation, training, and the student when it has no
        ``random_state`` of its own (the default student included).
    verbose : int, default=0
        Print the student's epoch table when positive.

    Attributes
    ----------
    teacher_ : regressor or None
        The fitted teacher (``None`` with ``keep_teacher=False``).
    student_ : net
        The trained student; it serves ``predict``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.
    n_transfer_samples_ : int
        Rows of the transfer set (real and synthetic).
    fidelity_ : float
        R^2 of the student's predictions against the teacher's on the
        training samples (1.0: the student reproduces the teacher).
    history_ : skorch History
        The student's training history.

    See Also
    --------
    DistilledClassifier : The same for classifiers.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.ensemble import HistGradientBoostingRegressor
    >>> from skensemble.compression import DistilledRegressor
    >>> from skensemble.nets import MLPNetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> distilled = DistilledRegressor(
    ...     HistGradientBoostingRegressor(max_iter=50, random_state=0),
    ...     MLPNetRegressor((32,), max_epochs=20, lr=0.01), augment_factor=2, random_state=0,
    ... ).fit(X, y)
    >>> distilled.fidelity_ > 0.5
    True
    """

    _parameter_constraints = {
        "teacher": [HasMethods(["fit", "predict"])],
        "student": [HasMethods(["fit", "predict"]), None],
        "alpha": [Interval(numbers.Real, 0, 1, closed="both")],
        "augmentation": [StrOptions(set(AUGMENTERS)), callable, None],
        "augment_factor": [Interval(numbers.Integral, 0, None, closed="left")],
        "init": [StrOptions({"teacher"}), None],
        "max_transfer_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "keep_teacher": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        teacher,
        student=None,
        *,
        alpha=0.9,
        augmentation="noise",
        augment_factor=4,
        init=None,
        max_transfer_samples=200_000,
        keep_teacher=True,
        random_state=None,
        verbose=0,
    ):
        store_params(self, locals())

    def _fit_teacher(self, X, y, sample_weight=None):
        self._check_task(self.teacher, "teacher")
        if isinstance(self.teacher, FrozenEstimator):
            check_is_fitted(self.teacher.estimator)
            return self.teacher
        return fit_or_copy(self.teacher, X, y, sample_weight, owner=type(self).__name__)

    def _make_student(self, seed):
        if self.student is None:
            return MLPNetRegressor((64,), random_state=seed)
        return self._checked_student(BaseNet, "a skensemble net regressor", seed)

    @fit_context(prefer_skip_nested_validation=False)  # teacher and student validate their own
    def fit(self, X, y, sample_weight=None):
        """Fit the teacher, build the transfer set and train the student.

        ``sample_weight`` weighs the teacher's fit (when it is not a fitted
        one): the student learns the weighted teacher on the transfer set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        raw = self._validate_raw(X, y, reset=True, y_numeric=True, multi_output=True)
        X32, y = raw if raw is not None else validate_data(self, X, y, reset=True, dtype=np.float32,
                                                           y_numeric=True, multi_output=True)
        augmenter = get_augmenter(self.augmentation)
        seed = draw_seed(self.random_state)
        student = self._make_student(seed)
        if raw is not None:
            self._check_raw_student(student)
        self._check_init_teacher(self.teacher)
        teacher = self._fit_teacher(X, y, sample_weight)

        student._initialize(X32, y)  # the target scaling comes from the true y; a raw table: the encoder
        X_transfer, teacher_X, columns = self._transfer_set(student, X32, raw is not None, augmenter, seed)
        taught = self._teacher_outputs(
            teacher_X, columns,
            lambda chunk: np.asarray(teacher.predict(chunk), dtype=np.float64).reshape(len(chunk), -1))
        n_real = len(X32)
        truth = np.zeros_like(taught, dtype=np.float32)
        truth[:n_real] = student.encode_targets(y)
        is_real = (np.arange(len(X_transfer)) < n_real).astype(np.float32)
        targets = np.column_stack([student.encode_targets(taught), truth, is_real])

        net = get_net(student)
        self._load_teacher_weights(net, teacher)
        self._train(net, X_transfer, targets, seed, RegressionDistillationLoss, alpha=self.alpha)

        self.student_ = student
        self.teacher_ = teacher if self.keep_teacher else None
        self.n_transfer_samples_ = len(X_transfer)
        student_pred = np.asarray(student.predict(X32)).reshape(n_real, -1)
        self.fidelity_ = float(r2_score(taught[:n_real], student_pred))
        return self

