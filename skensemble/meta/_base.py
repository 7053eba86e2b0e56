"""The meta-estimators around a fitted net (compression's and fine-tuning's): fitting, checking, predicting."""

import contextlib
import copy
import functools
from typing import Callable, NamedTuple

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
    is_classifier,
    is_regressor,
)
from sklearn.frozen import FrozenEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import has_fit_parameter

from ..nets._base import infers_directly
from ..nets._engine import train
from ..nets._targets import (NetClassifierMixin, NetRegressorMixin, encode_labels, log_softmax_tensor,
                             softmax_tensor)
from ..preprocessing._table import check_raw_targets, check_table, has_missing, needs_encoding
from ..utils._access import encodes_every_table, get_net, get_net_estimator, is_net, takes_raw_tables
from .._compat.sklearn import check_is_fitted, validate_data
from ..utils._validation import check_columns, float32_rows, same_fitted_columns


def fit_or_copy(estimator, X, y, sample_weight=None, owner=None):
    """Fit a clone of ``estimator`` (weighted by ``sample_weight``), or deep-copy the fitted one in a FrozenEstimator.

    Either way the user's object is never modified.  A fitted estimator is
    not refitted, so the weights do not reach it (its wrapper's own
    training, if any, uses them).  An estimator whose ``fit`` takes no
    ``sample_weight`` is refused, naming ``owner`` and it.
    """
    if isinstance(estimator, FrozenEstimator):
        check_is_fitted(estimator.estimator)
        return copy.deepcopy(estimator.estimator)
    if sample_weight is None:
        return clone(estimator).fit(X, y)
    if not has_fit_parameter(estimator, "sample_weight"):
        raise TypeError(f"{owner or 'The wrapper'} got sample_weight, but its estimator "
                        f"{type(estimator).__name__} takes no sample_weight in fit.")
    return clone(estimator).fit(X, y, sample_weight=sample_weight)


def net_targets(estimator, y):
    """``y`` as the net inside ``estimator`` trains on it (for fine-tuning the fitted net).

    skensemble's nets encode their own targets (``encode_targets``: class
    indices, or standardised regression targets); for a user's skorch net,
    class labels become indices into its ``classes_`` and regression targets
    float32 columns.
    """
    net_estimator = get_net_estimator(estimator)
    if net_estimator is not None:
        return net_estimator.encode_targets(y)
    if is_classifier(estimator):
        return encode_labels(estimator.classes_, y)
    return np.asarray(y, dtype=np.float32).reshape(len(y), -1)


def train_epochs(estimator, Xn, targets, epochs, seed, *, rebuild_optimizer=False, sample_weight=None):
    """Train the net inside ``estimator`` for ``epochs`` more epochs on its input ``Xn``.

    Through the one training engine (``skensemble.nets._engine.train``): the
    net's callbacks see a training of its own (early stopping restarts its
    count with this budget and may end it; schedulers start over on the
    optimizer in use).
    """
    train(get_net(estimator), Xn, targets, seed=seed, epochs=epochs, rebuild_optimizer=rebuild_optimizer,
          sample_weight=sample_weight)


def direct_outputs(estimator):
    """The raw prediction of skensemble's nets without a second input check, else None.

    For a net classifier, ``logits``; for a net regressor, ``predict`` (in
    the target's units); both with ``check_input=False``.  For anything else
    (a user's skorch net, a pipeline) predictions go through the estimator's
    own methods.
    """
    if isinstance(estimator, NetClassifierMixin):
        return functools.partial(estimator.logits, check_input=False)
    if isinstance(estimator, NetRegressorMixin):
        return functools.partial(estimator.predict, check_input=False)
    return None


def prediction_mode(estimator):
    """One inference mode for a wrapper's whole prediction when its net's module is called directly, else none.

    The check, the table encoding and the module then run in one block, as
    in the nets' own prediction (``BaseNet._forward``); anything else (a
    pipeline, a user's skorch net, a net in training mode) predicts as it
    would alone.
    """
    inner = getattr(estimator, getattr(estimator, "_skensemble_net_attr", ""), None)
    net = getattr(inner, "net_", None)
    if direct_outputs(inner) is not None and net is not None and infers_directly(net):
        return torch.inference_mode()
    return contextlib.nullcontext()


def _estimator_has(attr):
    def check(self):
        est = getattr(self, self._skensemble_net_attr, None)
        if est is None:
            est = getattr(self, "estimator", None) or getattr(self, "student", None)
        return est is None or hasattr(est, attr)

    return check


class PredictionInput(NamedTuple):
    """What a compression estimator predicts with: ``estimator`` (the fitted inner model), ``X`` as it
    takes it, and ``outputs``: its logits or predictions on that X without a second validation (``None``
    where the inner model is not one of skensemble's nets)."""

    estimator: object
    X: object
    outputs: Callable | None


class BaseNetWrapper(MetaEstimatorMixin, BaseEstimator):
    """What the compression meta-estimators share, whatever the task.

    Subclasses (through a task mixin) set the fitted attribute named by
    ``_skensemble_net_attr`` (the compressed estimator) and the input
    attributes in ``fit``; predictions come from that attribute.
    """

    _skensemble_net_attr = "estimator_"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self._encodes_raw_tables():  # raw tables go through to the net that encodes them
            tags.input_tags.allow_nan = tags.input_tags.string = True
        return tags

    def _check_fitted(self):
        """scikit-learn's ``NotFittedError`` before fit; after it, one attribute read (no tags on the way)."""
        if getattr(self, self._skensemble_net_attr, None) is None:
            check_is_fitted(self)

    def _encodes_raw_tables(self):
        """Whether the net inside encodes raw tables (text, missing values): the wrapped estimator's tags say.

        Subclasses whose net is not ``estimator`` (distillation's student) or
        not built from its parameters (fine-tuning's pretrained net) override it.
        """
        return takes_raw_tables(self.estimator)

    def _encodes_every_table(self):
        """Whether the net inside encodes numeric tables too: they then reach it as given, like raw ones."""
        return encodes_every_table(self.estimator)

    def _refuses_missing(self):
        """Whether prediction refuses missing values the net inside would take (distillation's teacher cannot)."""
        return False

    def _validate_raw(self, X, y=None, *, reset, **y_params):
        """Validate a raw table (text, missing values) for a net that encodes it, else None.

        The table is checked for its columns (count and names) and kept as
        it is; ``y`` is validated apart.  ``None`` when X is numeric and
        complete or the wrapped net takes no raw tables: the caller then
        validates X as float32.  At ``fit`` (``reset``) the choice is kept
        (``_raw_input``) so that prediction validates the same way; a fitted
        net inside with a table encoder (``table_encoder_``) takes the table
        too, since its module only ever saw encoded rows.
        """
        if reset:
            raw = self._encodes_raw_tables() and (needs_encoding(X) or self._encodes_every_table())
            self._raw_input = raw
        else:
            inner = getattr(self, self._skensemble_net_attr, None)
            raw = getattr(self, "_raw_input", False) or getattr(inner, "table_encoder_", None) is not None
        if not raw:
            return None
        X = check_table(X)  # a 1-D or sparse X gets scikit-learn's message before the column count
        if not reset:
            check_columns(self, X)
            refused = getattr(self, "_missing_refused", None)  # decided at fit; files before 2026-12-06: now
            if (self._refuses_missing() if refused is None else refused) and has_missing(X):
                raise ValueError(f"Input X contains NaN. {type(self).__name__} was fitted by a model that takes no "
                                 "missing values, so it predicts on none either.")
            return X
        validate_data(self, X, y, reset=True, skip_check_array=True)  # names, counts; y=None refused
        self._fit_missing = has_missing(X)  # whether fit took missing values (see _refuses_missing)
        # once, at fit: a teacher's tags can cost 0.1 ms (a VotingClassifier asks its members'), per prediction
        self._missing_refused = self._refuses_missing()
        return X, check_raw_targets(X, y, **y_params)

    def _check_fit_input(self, X, y, verb):
        """Validate X and y (parameters: by fit's fit_context), and that ``estimator`` is a net; return y."""
        y = self._validate_targets(X, y)
        if not is_net(self.estimator):
            raise TypeError(
                f"{type(self).__name__} {verb} torch nets, but estimator is a "
                f"{type(self.estimator).__name__}. Pass a skensemble net, a skorch "
                "net, or a FrozenEstimator/Pipeline holding one."
            )
        self._check_task(self.estimator, "estimator")
        return y

    def _check_task(self, estimator, name):
        """Refuse a classifier where a regressor is needed, and the reverse."""
        wrong = is_regressor(estimator) if is_classifier(self) else is_classifier(estimator)
        if wrong:
            kind, other = ("classifier", "Regressor") if is_classifier(self) else ("regressor", "Classifier")
            raise ValueError(
                f"{type(self).__name__} needs a {kind} as {name}, but got "
                f"{type(estimator).__name__}; use the {type(self).__name__.replace(kind.title(), other)} "
                "for it."
            )

    def _net_predicting(self, X):
        """The net inside, when it can take ``X`` itself: a batch both check alike, and a net this wrapper predicts with.

        For an array of the fitted width or a DataFrame of the fitted columns
        (the net was fitted on the same columns), when the wrapper passes raw
        tables and missing values to the net (decided at fit, ``_validate_raw``)
        or refuses missing values and the array has none,
        the net's own prediction is this wrapper's (``direct_outputs``) with
        one check instead of two: a wrapper then costs no more than its net at
        batch 1.  Anything else, and a batch the net refuses, takes the
        wrapper's path, whose errors name the wrapper.
        """
        inner = getattr(self, self._skensemble_net_attr, None)
        if not (isinstance(inner, (NetClassifierMixin, NetRegressorMixin))  # what direct_outputs predicts with
                and same_fitted_columns(self, X)):
            return None
        refused = getattr(self, "_missing_refused", None)
        if refused is False:  # the wrapper takes what its net takes
            return inner
        if refused is True and isinstance(X, np.ndarray) and not has_missing(X):  # nothing for it to refuse
            return inner  # (a distilled net's teacher refused NaN: this check costs 1-2 us at batch 1, the path 18)
        return None

    def _by_net(self, X, method):
        """``method`` of the net inside on ``X`` when the net takes X itself (:meth:`_net_predicting`), else None."""
        net = self._net_predicting(X)
        if net is None:
            return None
        try:
            return getattr(net, method)(X)
        except ValueError:  # refused: the wrapper's path says why, naming the wrapper
            return None

    def _prediction_input(self, X):
        """Validate ``X`` once; return a :class:`PredictionInput`: X, the fitted estimator and a direct path.

        When that estimator is one of skensemble's nets, X comes back as
        float32 and ``outputs`` gives its logits (classifiers) or predictions
        (regressors) without validating again (a second validation costs
        about as much as a small net's forward pass at batch 1).  Otherwise X
        is returned as given (a pipeline inside may need its DataFrame) and
        ``outputs`` is None.
        """
        self._check_fitted()
        inner = getattr(self, self._skensemble_net_attr)
        outputs = direct_outputs(inner)
        raw = self._validate_raw(X, reset=False)
        if raw is not None:  # checked for its columns here; the net encodes it
            return PredictionInput(inner, X if outputs is None else inner._encode_checked(raw), outputs)
        if outputs is not None:
            return PredictionInput(inner, float32_rows(self, X), outputs)
        validate_data(self, X, reset=False, dtype=None, skip_check_array=False)
        return PredictionInput(inner, X, None)


class NetWrapperClassifierMixin(ClassifierMixin):
    """Targets and predictions of the compression classifiers."""

    def _validate_targets(self, X, y):
        raw = self._validate_raw(X, y, reset=True)
        _, y = raw if raw is not None else validate_data(self, X, y, reset=True, dtype=np.float32)
        check_classification_targets(y)
        return y

    def _set_target_attributes(self, estimator):
        self.classes_ = estimator.classes_

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the compressed model."""
        return self._class_outputs(X, "predict_proba", softmax_tensor)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the compressed model."""
        return self._class_outputs(X, "predict_log_proba", log_softmax_tensor)

    def predict(self, X):
        """Class labels predicted by the compressed model."""
        labels = self._by_net(X, "predict")
        if labels is not None:
            return labels
        with prediction_mode(self):
            inner, X, logits = self._prediction_input(X)
            return inner.predict(X) if logits is None else inner.classes_[np.argmax(logits(X), axis=1)]

    def _class_outputs(self, X, method, finish):
        """``method``'s output: by the net alone, else checked here and finished in torch (``finish``)."""
        out = self._by_net(X, method)
        if out is not None:
            return out
        with prediction_mode(self):
            inner, X, logits = self._prediction_input(X)
            if logits is None:
                return getattr(inner, method)(X)
            return inner._forward(X, check_input=False, finish=finish)  # the softmax in torch


class NetWrapperRegressorMixin(RegressorMixin):
    """Targets and predictions of the compression regressors (one or several targets)."""

    def _validate_targets(self, X, y):
        raw = self._validate_raw(X, y, reset=True, y_numeric=True, multi_output=True)
        if raw is not None:
            return raw[1]
        _, y = validate_data(self, X, y, reset=True, dtype=np.float32, y_numeric=True,
                             multi_output=True)
        return y

    def _set_target_attributes(self, estimator):
        pass

    def predict(self, X):
        """Targets predicted by the compressed model, shaped like the ``y`` seen at fit."""
        predictions = self._by_net(X, "predict")
        if predictions is not None:
            return predictions
        with prediction_mode(self):
            inner, X, direct = self._prediction_input(X)
            return inner.predict(X) if direct is None else direct(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
