"""skorch nets with the extras skensemble's estimators configure.

These are private: users see :class:`~skensemble.nets.MLPNetClassifier` and
friends, which build one of these at ``fit`` and keep it as ``net_``.
"""

import math

import numpy as np
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EpochScoring
from skorch.dataset import ValidSplit
from skorch.utils import to_tensor


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error as soon as a batch loss is NaN or inf.

    The estimator is then left unfitted rather than holding a net that
    predicts garbage.
    """

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if training and loss is not None and not math.isfinite(loss.item()):
            epoch = len(net.history)
            raise NonFiniteLossError(
                f"The training loss became {loss.item()} in epoch {epoch}: the fit diverged. "
                "Lower lr, scale the inputs (e.g. StandardScaler) or add weight_decay."
            )


class _L1Mixin:
    """Add ``l1 * sum(|W|)`` over weight matrices and kernels to the training loss."""

    def __init__(self, *args, l1=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l1 = l1

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training and self.l1:
            penalty = sum(
                p.abs().sum() for p in self.module_.parameters() if p.dim() > 1
            )
            loss = loss + self.l1 * penalty
        return loss


def pack_sample_weight(y, sample_weight):
    """Targets with the sample weights as an extra last column (float32).

    The weights are scaled to mean 1, so the weighted mean loss of a batch is
    on the scale of the unweighted one and ``lr`` keeps its meaning.
    """
    y2 = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
    weight = (sample_weight / sample_weight.mean()).astype(np.float32)
    return np.column_stack([y2, weight])


class LabelValidSplit(ValidSplit):
    """``ValidSplit`` that stratifies on the first column of 2-D targets.

    With sample weights the targets carry a weight column; the split must
    stratify on the labels alone.
    """

    def __call__(self, dataset, y=None, groups=None):
        if y is not None and np.ndim(y) == 2:
            y = np.asarray(y)[:, 0]
        return super().__call__(dataset, y, groups)


class _SampleWeightMixin:
    """Weighted mean of per-sample losses when the targets carry weights.

    With ``sample_weighted=True`` the last target column is the sample weight
    (see :func:`pack_sample_weight`) and the criterion is built with
    ``reduction="none"``.
    """

    def __init__(self, *args, sample_weighted=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.sample_weighted = sample_weighted

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not self.sample_weighted:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true = to_tensor(y_true, device=self.device)
        weight = y_true[:, -1]
        per_sample = self.criterion_(y_pred, self._target(y_true[:, :-1]))
        if per_sample.dim() > 1:  # e.g. (n_samples, n_outputs) for regression
            per_sample = per_sample.mean(dim=tuple(range(1, per_sample.dim())))
        return (per_sample * weight).mean()


def _weighted_accuracy(net, X, y):
    y = np.asarray(y)
    if y.ndim == 1:  # training on plain targets after a weighted fit
        return float(np.mean(net.predict(X) == y))
    return float(np.average(net.predict(X) == y[:, 0], weights=y[:, -1]))


class SkorchClassifier(_L1Mixin, _SampleWeightMixin, NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` with an optional L1 penalty and sample weights."""

    @property
    def _default_callbacks(self):
        callbacks = super()._default_callbacks
        if not self.sample_weighted:
            return callbacks
        # skorch's validation accuracy would compare labels with the weight column
        weighted = EpochScoring(_weighted_accuracy, name="valid_acc", lower_is_better=False)
        return [(n, weighted if n == "valid_acc" else cb) for n, cb in callbacks]

    @staticmethod
    def _target(y):
        return y[:, 0].long()


class SkorchRegressor(_L1Mixin, _SampleWeightMixin, NeuralNetRegressor):
    """skorch ``NeuralNetRegressor`` with an optional L1 penalty and sample weights."""

    @staticmethod
    def _target(y):
        return y
