"""skorch nets with the extras skensemble's estimators configure.

These are private: users see :class:`~skensemble.nets.MLPNetClassifier` and
friends, which build one of these at ``fit`` and keep it as ``net_``.
"""

import math

from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback


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


class SkorchClassifier(_L1Mixin, NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` with an optional L1 weight penalty."""


class SkorchRegressor(_L1Mixin, NeuralNetRegressor):
    """skorch ``NeuralNetRegressor`` with an optional L1 weight penalty."""
