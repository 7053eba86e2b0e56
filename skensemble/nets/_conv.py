"""Convolutional net classifier for flat rows reshaped to signals or images."""

import math
import numbers

from ..persistence import register
from ..utils._compat import Interval, StrOptions
from ._base import BaseNet
from ._mlp import _FITTED_ATTRS
from ._modules import ConvModule
from ._skorch import SkorchClassifier
from ._targets import NetClassifierMixin


@register
class ConvNetClassifier(NetClassifierMixin, BaseNet):
    __doc__ = f"""Convolutional classifier taking the usual 2-D X.

    Each row of X is reshaped inside the net to ``input_shape``:
    ``(channels, length)`` for 1-D signals (``Conv1d``) or
    ``(channels, height, width)`` for images (``Conv2d``).  Each conv block is
    conv -> [batch norm] -> activation -> pool by 2 (while the spatial size is
    at least 2); a dense head with ``hidden_layer_sizes`` follows.

    Parameters
    ----------
    input_shape : tuple of int or None, default=None
        Shape of one sample.  One entry may be -1, inferred from the number of
        features as in ``reshape``; ``None`` means ``(1, n_features)``, a
        one-channel 1-D signal.
    channels : tuple of int, default=(16, 32)
        Output channels of each conv block.
    kernel_size : int, default=3
        Kernel size of every convolution ("same" padding for odd sizes).
    pooling : {{"max", "avg"}} or None, default="max"
        Pooling after each conv block.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden units of the dense head.
    activation, dropout, batch_norm, max_epochs, lr, batch_size, optimizer, \
weight_decay, l1, early_stopping, validation_fraction, n_iter_no_change, \
callbacks, net_params, device, amp, random_state, verbose
        As in :class:`MLPNetClassifier` (``dropout`` applies to the dense head,
        ``batch_norm`` to the conv blocks).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.{_FITTED_ATTRS}
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skensemble.nets import ConvNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ConvNetClassifier((1, 8, 8), channels=(8,), max_epochs=5, random_state=0)
    >>> clf.fit(X[:500], y[:500]).predict(X[:2]).shape
    (2,)
    """

    _net_class = SkorchClassifier
    _parameter_constraints = {
        **BaseNet._parameter_constraints,
        **BaseNet._hidden_constraints,
        "input_shape": [tuple, list, None],
        "channels": [tuple, list],
        "kernel_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"max", "avg"}), None],
    }

    def __init__(
        self,
        input_shape=None,
        *,
        channels=(16, 32),
        kernel_size=3,
        pooling="max",
        hidden_layer_sizes=(64,),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        max_epochs=100,
        lr=1e-3,
        batch_size=128,
        optimizer="adam",
        weight_decay=0.0,
        l1=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        callbacks=None,
        net_params=None,
        device="cpu",
        amp=False,
        random_state=None,
        verbose=0,
    ):
        self.input_shape = input_shape
        self.channels = channels
        self.kernel_size = kernel_size
        self.pooling = pooling
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.l1 = l1
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.net_params = net_params
        self.device = device
        self.amp = amp
        self.random_state = random_state
        self.verbose = verbose

    def _resolve_shape(self, n_features):
        """The concrete sample shape for ``n_features`` columns, checked."""
        shape = (1, -1) if self.input_shape is None else tuple(self.input_shape)
        if len(shape) not in (2, 3) or sum(s == -1 for s in shape) > 1 or any(
            s < 1 and s != -1 for s in shape
        ):
            raise ValueError(
                "input_shape must be (channels, length) or (channels, height, width) "
                f"of positive sizes, with at most one -1; got {self.input_shape!r}."
            )
        known = math.prod(s for s in shape if s != -1)
        if -1 in shape and n_features % known == 0:
            shape = tuple(n_features // known if s == -1 else s for s in shape)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"input_shape={self.input_shape!r} does not fit X with "
                f"{n_features} features per sample."
            )
        return tuple(int(s) for s in shape)

    def _module_spec(self, n_features, n_outputs):
        return ConvModule, {
            "input_shape": self._resolve_shape(n_features),
            "n_outputs": n_outputs,
            "channels": tuple(int(c) for c in self.channels),
            "kernel_size": self.kernel_size,
            "pooling": self.pooling,
            "hidden_layer_sizes": tuple(int(h) for h in self.hidden_layer_sizes),
            "activation": self.activation,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
        }
