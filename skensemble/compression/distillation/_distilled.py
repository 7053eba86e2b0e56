"""DistilledClassifier: train a small net on a teacher's soft targets."""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from skorch import NeuralNet
from skorch.callbacks import EpochScoring
from skorch.dataset import ValidSplit

from ...nets import MLPNetClassifier
from ...nets._base import BaseNet
from ...nets._engine import swapped_callback, train
from ...persistence import register
from ...utils._access import encodes_every_table, takes_raw_tables, get_net, is_net, net_input
from ..._compat.sklearn import fit_context, HasMethods, Interval, StrOptions, validate_data
from ...utils._params import store_params
from ...utils._random import draw_seed, torch_seed
from ._augment import AUGMENTERS, get_augmenter, make_transfer_set
from ...meta._base import BaseNetWrapper, NetWrapperClassifierMixin, fit_or_copy
from ._loss import DistillationLoss, teacher_logits_from_proba

_CHUNK = 8192


def _transfer_split(train_split, seed):
    """The student's validation split applied to transfer rows: unstratified, seeded; ``None`` stays off."""
    if train_split is None:
        return None
    if isinstance(train_split, ValidSplit):
        return ValidSplit(train_split.cv, stratified=False,
                          random_state=train_split.random_state if train_split.random_state is not None
                          else seed)
    return train_split  # the user's own callable: theirs to handle the transfer targets


def _agreement(net, X, y):
    """Share of rows where the student's class is the teacher's (columns of y: teacher logits, label, is_real)."""
    y = np.asarray(y)
    teacher = y[:, : y.shape[1] - 2].argmax(axis=1)
    return float(np.mean(net.predict(X) == teacher))


class _BaseDistilled(BaseNetWrapper):
    """What distillation shares, whatever the task: the student, its training, its saved state."""

    _skensemble_net_attr = "student_"

    def _checked_student(self, allowed, what, seed):
        """A clone of ``student`` after checking its type (``allowed`` classes).

        A skensemble net without a ``random_state`` of its own is seeded with
        ``seed`` (drawn from ``random_state``), so that a fixed
        ``random_state`` makes the whole distillation reproducible.
        """
        if not isinstance(self.student, allowed):
            raise TypeError(f"student must be {what}; got {type(self.student).__name__}.")
        self._check_task(self.student, "student")
        student = clone(self.student)
        if isinstance(student, BaseNet) and student.random_state is None:
            student.set_params(random_state=seed)
        return student

    def _check_init_teacher(self, teacher):
        """``init="teacher"`` needs a torch-net teacher: refuse any other before fitting it."""
        if self.init == "teacher" and not is_net(teacher):
            raise ValueError("init='teacher' needs a torch-net teacher with the student's architecture.")

    def _load_teacher_weights(self, net, teacher):
        """With ``init="teacher"``, start the student's net from the teacher's weights."""
        if self.init != "teacher":
            return
        try:
            net.module_.load_state_dict(copy.deepcopy(get_net(teacher).module_.state_dict()))
        except RuntimeError as exc:
            raise ValueError(
                f"init='teacher' needs the student to have the teacher's architecture: {exc}"
            ) from None

    def _teacher_outputs(self, X_transfer, columns, predict):
        """``predict(chunk)`` over the transfer set in chunks (the teacher labels it once)."""
        outs = []
        for start in range(0, len(X_transfer), _CHUNK):
            chunk = (X_transfer.iloc[start : start + _CHUNK] if hasattr(X_transfer, "iloc")
                     else X_transfer[start : start + _CHUNK])
            if columns is not None:  # a teacher fitted on a DataFrame gets its column names
                import pandas as pd

                chunk = pd.DataFrame(chunk, columns=columns)
            outs.append(predict(chunk))
        return np.concatenate(outs)

    def _encodes_raw_tables(self):
        """The student encodes raw tables (the default student, a tabular MLP, does)."""
        return self.student is None or takes_raw_tables(self.student)

    def _encodes_every_table(self):
        """The student encodes numeric tables too (``preprocessing="always"``): it is trained on the table."""
        return encodes_every_table(self.student)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if not takes_raw_tables(self.teacher):  # the teacher reads the raw table too (its fit checks its own)
            tags.input_tags.allow_nan = tags.input_tags.string = False
        return tags

    def _refuses_missing(self):
        """Fitted without missing values, by a teacher that says it takes none: the student predicts on none either.

        A teacher that imputes without saying so in its tags (a ``Pipeline``
        starting with a ``ColumnTransformer``) shows it by fitting on them.
        Files written before this was recorded refuse nothing.
        """
        return not getattr(self, "_fit_missing", True) and not takes_raw_tables(self.teacher)

    def _check_raw_student(self, student):
        """A raw table (text, missing values) needs a student that encodes it."""
        if not takes_raw_tables(student):
            raise ValueError(
                f"{type(self).__name__} got a raw table (text or category columns, or missing values), which its "
                f"student {type(student).__name__} cannot take: use a tabular net (MLPNet, ResNet or TabM with "
                "preprocessing='always', their default) as the student, or encode the table in a Pipeline.")

    def _transfer_set(self, student, X, raw, augmenter, seed):
        """The transfer set in the student's input space, the teacher's view of it, and its column names.

        ``X`` is the validated training data (a raw table when ``raw``; the
        student is initialized, so its encoder is fitted).  Without a raw
        table teacher and student read the same rows (the teacher with the
        column names it was fitted with).
        """
        X_base = X if not raw else student.table_encoder_.transform(X)
        X_transfer = make_transfer_set(X_base, augmenter, self.augment_factor, self.max_transfer_samples, seed)
        if not raw:
            return X_transfer, X_transfer, getattr(self, "feature_names_in_", None)
        return X_transfer, self._teacher_table(student, X, X_transfer), None

    @staticmethod
    def _teacher_table(student, X, X_transfer):
        """The teacher's view of the transfer set: the raw rows, then the synthetic rows decoded to a raw table.

        The transfer set is made in the student's encoded space (where the
        augmentations' distances mean something); each synthetic row is
        decoded by the student's table encoder (``inverse_transform``) for a
        teacher that reads raw tables.
        """
        import pandas as pd

        n_real = len(X)
        if len(X_transfer) == n_real:
            return X
        synthetic = student.table_encoder_.inverse_transform(X_transfer[n_real:])
        if isinstance(X, pd.DataFrame):
            synthetic.index = range(n_real, n_real + len(synthetic))
            # categorical columns keep their dtype; numbers stay as decoded (an int column's rows are not truncated)
            kinds = {c: t for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)
                     or pd.api.types.is_bool_dtype(t)}
            return pd.concat([X.reset_index(drop=True), synthetic.astype(kinds, errors="ignore")])
        return np.vstack([np.asarray(X, dtype=object), synthetic.to_numpy(dtype=object)])

    def _train(self, net, X_transfer, targets, seed, criterion, **criterion_params):
        """Train the student's net on the transfer set with ``criterion``, then restore its own.

        Validation: when the student's net holds out validation rows (its
        ``early_stopping=True``, or a ``ValidSplit`` in its ``net_params``),
        the same fraction of the *transfer set* is held out, unstratified
        (the targets are the teacher's outputs), and ``valid_loss`` is the
        distillation loss on those rows: the student's early stopping and
        schedulers work on it.  A classifier's ``valid_acc`` is then its
        agreement with the teacher's class on them.  A student without
        validation trains on every transfer row.
        """
        criterion_before, split_before, verbose_before = net.criterion, net.train_split, net.verbose
        classes_inferred = getattr(net, "classes_inferred_", None)
        net.verbose = max(net.verbose, self.verbose)  # skorch's epoch table when verbose
        net.set_params(criterion=criterion, train_split=_transfer_split(net.train_split, seed),
                       **{f"criterion__{k}": v for k, v in criterion_params.items()})
        agreement = EpochScoring(_agreement, name="valid_acc", lower_is_better=False)
        try:
            with swapped_callback(net, "valid_acc", agreement):
                train(net, X_transfer, targets, seed=seed)
        finally:
            net.criterion, net.train_split, net.verbose = criterion_before, split_before, verbose_before
            for k in criterion_params:
                delattr(net, f"criterion__{k}")
            net.initialize_criterion()
            if classes_inferred is not None:
                net.classes_inferred_ = classes_inferred

    def _save_state(self, writer, state, path):
        """The teacher is not needed to predict: it is not saved (``teacher_`` loads as None)."""
        if "teacher_" in state:
            state["teacher_"] = None
        return state, {}

    @property
    def history_(self):
        """The student's skorch training history."""
        return get_net(self.student_).history


@register
class DistilledClassifier(NetWrapperClassifierMixin, _BaseDistilled):
    """Distil any scikit-learn classifier into a small net.

    ``fit`` fits the teacher (a clone; a ``FrozenEstimator`` is used as is),
    builds a transfer set of X and ``augment_factor`` augmented copies, has the
    teacher label it once, up front, and trains the student on
    ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(y)`` (the hard
    term on real samples only).  The teacher labels the transfer set once
    rather than every epoch because the teachers worth distilling (forests,
    boosting, ensembles) are slow to predict; the transfer set is capped at
    ``max_transfer_samples`` rows and labelled in chunks, so memory stays
    bounded.

    Parameters
    ----------
    teacher : classifier
        Any classifier with ``predict_proba``: unfitted (cloned and fitted on
        (X, y)) or a ``FrozenEstimator`` of a fitted one (not refitted).  For a
        torch-net teacher trained with cross-entropy, its logits are used.
    student : skensemble net or skorch NeuralNetClassifier, default=None
        The net to train, cloned. ``None`` means
        ``MLPNetClassifier(hidden_layer_sizes=(64,))``.  It trains for its own
        ``max_epochs`` over the transfer set; its early stopping is not used.
    temperature : float > 0, default=4.0
        Softmax temperature T of both teacher and student in the soft term.
    alpha : float in [0, 1], default=0.9
        Weight of the soft term; ``1 - alpha`` weighs the hard-label term.
    augmentation : {"noise", "mixup", "munge"}, callable or None, default="noise"
        How to make synthetic samples: Gaussian noise of 0.2 feature std
        (:class:`NoiseAugmenter`), mixup (:class:`MixupAugmenter`), MUNGE
        (:class:`MungeAugmenter`), or ``f(X, random_state) -> X_new``.
    augment_factor : int, default=4
        Number of augmented copies of X in the transfer set.
    init : {"teacher"} or None, default=None
        ``"teacher"`` starts the student from the teacher's weights
        (born-again networks); the two nets must have the same architecture.
    max_transfer_samples : int, default=200_000
        Upper bound on the transfer set's rows.
    keep_teacher : bool, default=True
        Keep the fitted teacher as ``teacher_``.  With ``False`` it is dropped
        after fit; note that a ``FrozenEstimator`` teacher still travels with
        the parameters, so save ``student_`` alone to ship the small model.
    random_state : int, RandomState instance or None, default=None
        Seeds augmentation, training, and the student when it has no
        ``random_state`` of its own (the default student included).
    verbose : int, default=0
        Print the student's epoch table when positive.

    Attributes
    ----------
    teacher_ : classifier or None
        The fitted teacher (``None`` with ``keep_teacher=False``).
    student_ : net
        The trained student; it serves ``predict`` and ``predict_proba``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.
    n_transfer_samples_ : int
        Rows of the transfer set (real and synthetic).
    fidelity_ : float
        Share of training samples on which student and teacher predict the
        same class.
    history_ : skorch History
        The student's training history.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skensemble.compression import DistilledClassifier
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> distilled = DistilledClassifier(
    ...     RandomForestClassifier(random_state=0),
    ...     MLPNetClassifier((32,), max_epochs=10), augment_factor=1, random_state=0,
    ... ).fit(X, y)
    >>> distilled.fidelity_ > 0.8
    True
    """

    _parameter_constraints = {
        "teacher": [HasMethods(["fit", "predict"])],
        "student": [HasMethods(["fit", "predict"]), None],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
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
        temperature=4.0,
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

    # --- teacher ----------------------------------------------------------
    def _fit_teacher(self, X, y, sample_weight=None):
        teacher = self.teacher
        if not hasattr(teacher, "predict_proba"):
            raise TypeError(
                f"The teacher {type(teacher).__name__} has no predict_proba; distillation "
                "needs class probabilities (e.g. SVC(probability=True)), not a regressor "
                "or a classifier without probability estimates."
            )
        if isinstance(teacher, FrozenEstimator):
            fitted = teacher
        else:
            fitted = fit_or_copy(teacher, X, y, sample_weight, owner=type(self).__name__)
        classes = getattr(fitted, "classes_", None)
        if classes is None or not np.array_equal(np.asarray(classes), np.unique(y)):
            raise ValueError(
                f"The teacher's classes_ {classes!r} differ from the labels in y "
                f"{np.unique(y)!r}; fit the teacher on the same labels."
            )
        return fitted

    def _teacher_logits(self, teacher, X_transfer, columns):
        """Teacher logits for the transfer set: a net's own logits, else log-probabilities."""
        if is_net(teacher) and isinstance(getattr(get_net(teacher), "criterion_", None),
                                          torch.nn.CrossEntropyLoss):
            net = get_net(teacher)
            return self._teacher_outputs(
                X_transfer, columns,
                lambda chunk: net.forward(net_input(teacher, chunk)).detach().cpu().float().numpy())
        return self._teacher_outputs(
            X_transfer, columns, lambda chunk: teacher_logits_from_proba(teacher.predict_proba(chunk)))

    # --- student ----------------------------------------------------------
    def _make_student(self, seed):
        if self.student is None:
            return MLPNetClassifier((64,), random_state=seed)
        return self._checked_student((BaseNet, NeuralNet),
                                     "a skensemble net or a skorch NeuralNetClassifier", seed)

    def _initialize_student(self, student, X32, y, classes):
        if isinstance(student, BaseNet):
            student._initialize(X32, y)
        else:
            student.set_params(classes=np.arange(len(classes)), train_split=None)
            with torch_seed(draw_seed(self.random_state), student.device):
                student.initialize()
        return get_net(student)

    @fit_context(prefer_skip_nested_validation=False)  # teacher and student validate their own
    def fit(self, X, y, sample_weight=None):
        """Fit the teacher, build the transfer set and train the student.

        ``sample_weight`` weighs the teacher's fit (when it is not a fitted
        one): the student learns the weighted teacher on the transfer set.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        raw = self._validate_raw(X, y, reset=True)
        X32, y = validate_data(self, X, y, reset=True, dtype=np.float32) if raw is None else raw
        check_classification_targets(y)
        augmenter = get_augmenter(self.augmentation)
        seed = draw_seed(self.random_state)
        student = self._make_student(seed)
        if raw is not None:
            self._check_raw_student(student)
        teacher = self._fit_teacher(X, y, sample_weight)
        encoder = LabelEncoder().fit(y)
        classes = encoder.classes_
        self._check_init_teacher(teacher)

        net = self._initialize_student(student, X32, y, classes)  # a raw table: the student's encoder is fitted
        X_transfer, teacher_X, columns = self._transfer_set(student, X32, raw is not None, augmenter, seed)
        logits = self._teacher_logits(teacher, teacher_X, columns)
        n_real = len(X32)
        # hard labels of real rows; synthetic rows carry the teacher's class (unused: is_real = 0)
        labels = np.concatenate([encoder.transform(y), logits[n_real:].argmax(axis=1)])
        is_real = (np.arange(len(X_transfer)) < n_real).astype(np.float32)
        targets = np.column_stack([logits, labels, is_real]).astype(np.float32)

        self._load_teacher_weights(net, teacher)
        self._train(net, X_transfer, targets, seed, DistillationLoss,
                    temperature=self.temperature, alpha=self.alpha)

        self.student_ = student
        self.teacher_ = teacher if self.keep_teacher else None
        self.classes_ = classes
        self.n_transfer_samples_ = len(X_transfer)
        teacher_pred = classes[logits[:n_real].argmax(axis=1)]
        self.fidelity_ = float(np.mean(self.predict(X) == teacher_pred))
        return self


