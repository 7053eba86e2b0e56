"""Target handling shared by the net classifiers and regressors."""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
import torch
from torch import nn

from .._compat.sklearn import fit_context, check_is_fitted


def softmax(logits):
    """Row-wise softmax of float64 ``logits`` (n_samples, n_classes), as a float64 array.

    SciPy's ``softmax`` costs about 30 us per call on one row, a tenth of a
    small net's prediction; torch's kernel on the same float64 values a few.
    """
    return torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float64)).softmax(dim=1).numpy()


def log_softmax(logits):
    """Row-wise log-softmax of float64 ``logits`` (n_samples, n_classes), as a float64 array."""
    return torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float64)).log_softmax(dim=1).numpy()


def softmax_tensor(logits):
    """Row-wise softmax of a tensor of logits (a prediction's ``finish``, see ``BaseNet._forward``)."""
    return logits.softmax(dim=1)


def log_softmax_tensor(logits):
    """Row-wise log-softmax of a tensor of logits."""
    return logits.log_softmax(dim=1)


def encode_labels(classes, y):
    """``y`` as indices into the fitted ``classes`` (int64); an unseen label raises scikit-learn's error."""
    encoder = LabelEncoder()
    encoder.classes_ = np.asarray(classes)
    return encoder.transform(column_or_1d(y)).astype(np.int64)


def check_two_classes(classes, owner):
    """Raise a clear error when a classifier sees fewer than two classes."""
    if len(classes) < 2:
        raise ValueError(
            f"{owner} needs samples of at least 2 classes in the data, but the "
            f"data contains only one class: {classes[0]!r}."
        )


class LogitsClassifierMixin(ClassifierMixin):
    """``predict_proba``, ``predict_log_proba`` and ``predict`` from ``logits(X)``.

    Subclasses define ``logits`` (X to float64 logits, after checking X) and
    ``classes_``; probabilities are a float64 softmax, so they sum to one.
    """

    def predict_proba(self, X):
        """Class probabilities (float64), columns ordered as ``classes_``."""
        return softmax(self.logits(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return log_softmax(self.logits(X))

    def predict(self, X):
        """Predicted class labels (the original labels of ``y``)."""
        logits = self.logits(X)
        return self.classes_[np.argmax(logits, axis=1)]


class NetClassifierMixin(LogitsClassifierMixin):
    """Label encoding and fitting for net classifiers."""

    _criterion = nn.CrossEntropyLoss
    _stratify = True

    def predict_proba(self, X):
        """Class probabilities (float64), columns ordered as ``classes_``."""
        return self._forward(X, finish=softmax_tensor)  # in torch, before the outputs become an array

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return self._forward(X, finish=log_softmax_tensor)

    def _prepare_y(self, y, sample_weight=None, classes=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y if classes is None else classes)
        check_two_classes(encoder.classes_, type(self).__name__)
        self.classes_ = encoder.classes_
        return encoder.transform(y).astype(np.int64), len(self.classes_)

    def _extra_net_params(self, n_outputs):
        return {**super()._extra_net_params(n_outputs), "classes": np.arange(n_outputs)}

    def _n_outputs(self):
        return len(self.classes_)

    def encode_targets(self, y):
        """``y`` as the net trains on it: indices into ``classes_`` (int64).

        Meta-estimators that train the fitted net further (pruning's
        fine-tuning) use it.  A label the net was not fitted on raises
        scikit-learn's "previously unseen labels" error.
        """
        check_is_fitted(self, "classes_")
        return encode_labels(self.classes_, y)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the net on ``X`` (n_samples, n_features) and class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (any numeric dtype, or a DataFrame).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the training loss (a weighted mean of the
            per-sample losses); ``None`` weighs samples equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(*self._validate_fit_data(X, y, sample_weight=sample_weight), sample_weight)

    def _validate_fit_data(self, X, y, reset=True, sample_weight=None):
        return self._validate_net_data(X, y, reset, sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``(X, y)``; the first call builds the net.

        skorch's and scikit-learn's incremental habit: call it repeatedly
        with new batches of data.  The first call fixes the classes (all of
        them in ``classes``, or those of its ``y``); later calls must use
        only those labels and the same features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            Every class the calls will see; needed on the first call when its
            ``y`` lacks some of them, ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            This epoch's loss is the weighted mean of per-sample losses.

        Returns
        -------
        self : object
            The estimator.
        """
        if classes is not None and not hasattr(self, "net_"):
            unseen = np.setdiff1d(column_or_1d(y), classes)
            if len(unseen):
                raise ValueError(f"y has labels {unseen.tolist()} that are not in classes.")
        return self._partial_fit(X, y, classes, sample_weight)

    def logits(self, X, *, check_input=True):
        """The net's raw outputs (logits, before the softmax) as float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.
        check_input : bool, default=True
            Validate X (fitted state, feature count and names, NaN, dtype).
            A caller that already validated X as a float32 array with the
            features seen at fit can pass ``False`` and skip a second check
            (skensemble's compression meta-estimators do).

        Returns
        -------
        logits : ndarray of shape (n_samples, n_classes)
            Columns ordered as ``classes_``.
        """
        return self._forward(X, check_input=check_input)


class NetRegressorMixin(RegressorMixin):
    """Target scaling and ``predict`` for net regressors.

    Targets are standardised before training (and predictions scaled back), so
    the default learning rate suits targets of any scale.
    """

    _criterion = nn.MSELoss
    _stratify = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _prepare_y(self, y, sample_weight=None, classes=None):
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        # weighted like the loss: a zero-weight row must not move the scaling
        self._y_mean = np.average(y2, axis=0, weights=sample_weight)
        scale = np.sqrt(np.average((y2 - self._y_mean) ** 2, axis=0, weights=sample_weight))
        self._y_scale = np.where(scale > 0, scale, 1.0)
        return ((y2 - self._y_mean) / self._y_scale).astype(np.float32), y2.shape[1]

    def _n_outputs(self):
        return len(self._y_mean)

    def encode_targets(self, y):
        """``y`` as the net trains on it: standardised with the fit's mean and scale (float32, 2-D).

        Meta-estimators that train the fitted net further (pruning's
        fine-tuning) use it; :meth:`decode_outputs` is its inverse.
        """
        check_is_fitted(self, "_y_mean")
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if y2.shape[1] != len(self._y_mean):
            raise ValueError(f"y has {y2.shape[1]} target columns; the net was fitted on {len(self._y_mean)}.")
        return ((y2 - self._y_mean) / self._y_scale).astype(np.float32)

    def decode_outputs(self, outputs):
        """Raw module outputs in the units and shape of the ``y`` seen at fit.

        The inverse of :meth:`encode_targets`; compression meta-estimators
        that run the module themselves (quantized models) use it.
        """
        out = np.asarray(outputs, dtype=np.float64) * self._y_scale + self._y_mean
        return out.ravel() if self._y_1d else out

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the net on ``X`` (n_samples, n_features) and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (any numeric dtype, or a DataFrame).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the training loss; ``None`` weighs samples
            equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(*self._validate_fit_data(X, y, sample_weight=sample_weight), sample_weight)

    def _validate_fit_data(self, X, y, reset=True, sample_weight=None):
        return self._validate_net_data(X, y, reset, sample_weight, y_numeric=True, multi_output=True)

    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``(X, y)``; the first call builds the net.

        The targets' standardisation (mean and scale) is taken from the
        first call's ``y``; later calls must have the same features and
        target columns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            This epoch's loss is the weighted mean of per-sample losses.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._partial_fit(X, y, sample_weight=sample_weight)

    def predict(self, X, *, check_input=True):
        """Predicted targets, shaped like the ``y`` seen at fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.
        check_input : bool, default=True
            Validate X (fitted state, feature count and names, NaN, dtype).
            A caller that already validated X as a float32 array with the
            features seen at fit can pass ``False`` and skip a second check
            (skensemble's compression meta-estimators do).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions in the units of the ``y`` seen at fit.
        """
        return self.decode_outputs(self._forward(X, check_input=check_input))
