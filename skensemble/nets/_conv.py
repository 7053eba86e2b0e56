"""Convolutional nets for flat rows reshaped to signals or images."""

import math
import numbers

from ..persistence import register
from .._compat.sklearn import Interval, StrOptions, parameter_constraints
from ..utils._params import store_params
from ._base import BaseNet
from ._modules import ConvModule
from ._skorch import SkorchClassifier, SkorchRegressor
from ._targets import NetClassifierMixin, NetRegressorMixin


class _ConvParams:
    """Parameters and module of the conv nets (shared by the classifier and the regressor)."""

    _parameter_constraints = {
        **parameter_constraints(BaseNet),
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
        lr=None,
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
        store_params(self, locals())

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


@register
class ConvNetClassifier(NetClassifierMixin, _ConvParams, BaseNet):
    """Convolutional classifier taking the usual 2-D X.

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
    pooling : {"max", "avg"} or None, default="max"
        Pooling after each conv block.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden units of the dense head.
    activation : {"relu", "leaky_relu", "gelu", "tanh", "logistic", "silu", "identity"}, default="relu"
        Activation after each hidden layer.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden activation of the dense head.
    batch_norm : bool, default=False
        Batch normalisation after each convolution.
    max_epochs : int, default=100
        Number of passes over the training data (fewer with early stopping).
    lr : float or None, default=None
        Learning rate; ``None``: 0.01 for ``optimizer="sgd"`` (which also gets
        momentum 0.9 with Nesterov, as scikit-learn's ``solver="sgd"``; set
        ``net_params={"optimizer__momentum": ...}`` to change it), 0.001 otherwise.
    batch_size : int, default=128
        Mini-batch size (capped at the number of samples).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        The optimizer.
    weight_decay : float, default=0.0
        L2 penalty, passed to the optimizer as ``weight_decay``.
    l1 : float, default=0.0
        L1 penalty: ``l1 * sum(|W|)`` over weight matrices is added to each
        training batch's loss.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers) and stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs; the best epoch's weights are restored.
    validation_fraction : float in (0, 1), default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks; they are copied at each fit.
    net_params : dict, default=None
        Any further skorch argument, e.g. ``{"optimizer__momentum": 0.9}`` or
        ``{"iterator_train__drop_last": True}``; it wins over the settings above.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA when
        available, else CPU).  Checked at ``fit`` before any training.
    amp : bool, "auto" or {"float16", "bfloat16"}, default=False
        Automatic mixed precision: forward passes (training and prediction)
        run under ``torch.autocast`` while the weights and the loss stay
        float32.  ``True`` and ``"auto"`` pick what the hardware runs
        natively: float16 with gradient scaling on CUDA; on a CPU with
        AVX-512 BF16 or AMX, bfloat16 where a training batch does at least
        100 million multiply-adds (below that float32 was as fast or faster,
        see ``benchmarks/results/amp.md``); float32 on other CPUs (with a
        warning naming the missing capability: there bfloat16 autocast
        trained up to 10x slower, see ``benchmarks/results/nets.md``).  ``"float16"`` or
        ``"bfloat16"`` force that dtype.  The dtype used is ``amp_dtype_``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split.  With
        an int, fits are identical on CPU and torch's global random state is
        left untouched.
    verbose : int, default=0
        Print skorch's epoch table when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    amp_dtype_ : str
        The autocast dtype used in training and prediction (``"float32"``:
        none), from ``amp`` and the hardware.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : torch.nn.Module
        The fitted torch module (``net_.module_``).
    history_ : skorch.History
        Per-epoch training history (``net_.history``).
    n_epochs_ : int
        Epochs trained.
    device_ : str
        The device the net was trained on.

    See Also
    --------
    ConvNetRegressor : The same network for regression.
    MLPNetClassifier : Fully connected net for any table.

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


@register
class ConvNetRegressor(NetRegressorMixin, _ConvParams, BaseNet):
    """Convolutional regressor taking the usual 2-D X.

    Each row of X is reshaped inside the net to ``input_shape``:
    ``(channels, length)`` for 1-D signals (``Conv1d``) or
    ``(channels, height, width)`` for images (``Conv2d``).  Each conv block is
    conv -> [batch norm] -> activation -> pool by 2 (while the spatial size is
    at least 2); a dense head with ``hidden_layer_sizes`` follows.  Targets
    (one or several columns) are standardised for training and scaled back at
    ``predict``.

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
    pooling : {"max", "avg"} or None, default="max"
        Pooling after each conv block.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden units of the dense head.
    activation : {"relu", "leaky_relu", "gelu", "tanh", "logistic", "silu", "identity"}, default="relu"
        Activation after each hidden layer.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden activation of the dense head.
    batch_norm : bool, default=False
        Batch normalisation after each convolution.
    max_epochs : int, default=100
        Number of passes over the training data (fewer with early stopping).
    lr : float or None, default=None
        Learning rate; ``None``: 0.01 for ``optimizer="sgd"`` (which also gets
        momentum 0.9 with Nesterov, as scikit-learn's ``solver="sgd"``; set
        ``net_params={"optimizer__momentum": ...}`` to change it), 0.001 otherwise.
    batch_size : int, default=128
        Mini-batch size (capped at the number of samples).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        The optimizer.
    weight_decay : float, default=0.0
        L2 penalty, passed to the optimizer as ``weight_decay``.
    l1 : float, default=0.0
        L1 penalty: ``l1 * sum(|W|)`` over weight matrices is added to each
        training batch's loss.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers) and stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs; the best epoch's weights are restored.
    validation_fraction : float in (0, 1), default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks; they are copied at each fit.
    net_params : dict, default=None
        Any further skorch argument, e.g. ``{"optimizer__momentum": 0.9}`` or
        ``{"iterator_train__drop_last": True}``; it wins over the settings above.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA when
        available, else CPU).  Checked at ``fit`` before any training.
    amp : bool, "auto" or {"float16", "bfloat16"}, default=False
        Automatic mixed precision: forward passes (training and prediction)
        run under ``torch.autocast`` while the weights and the loss stay
        float32.  ``True`` and ``"auto"`` pick what the hardware runs
        natively: float16 with gradient scaling on CUDA; on a CPU with
        AVX-512 BF16 or AMX, bfloat16 where a training batch does at least
        100 million multiply-adds (below that float32 was as fast or faster,
        see ``benchmarks/results/amp.md``); float32 on other CPUs (with a
        warning naming the missing capability: there bfloat16 autocast
        trained up to 10x slower, see ``benchmarks/results/nets.md``).  ``"float16"`` or
        ``"bfloat16"`` force that dtype.  The dtype used is ``amp_dtype_``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split.  With
        an int, fits are identical on CPU and torch's global random state is
        left untouched.
    verbose : int, default=0
        Print skorch's epoch table when positive.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    amp_dtype_ : str
        The autocast dtype used in training and prediction (``"float32"``:
        none), from ``amp`` and the hardware.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : torch.nn.Module
        The fitted torch module (``net_.module_``).
    history_ : skorch.History
        Per-epoch training history (``net_.history``).
    n_epochs_ : int
        Epochs trained.
    device_ : str
        The device the net was trained on.

    See Also
    --------
    ConvNetClassifier : The same network for classification.
    MLPNetRegressor : Fully connected regressor for any table.

    Examples
    --------
    >>> import numpy as np
    >>> from skensemble.nets import ConvNetRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 32))
    >>> y = X[:, :4].sum(axis=1) - X[:, -4:].sum(axis=1)
    >>> reg = ConvNetRegressor((1, 32), channels=(8,), max_epochs=60, lr=0.01, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.8
    True
    """

    _net_class = SkorchRegressor
