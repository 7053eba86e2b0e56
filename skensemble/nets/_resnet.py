"""Residual networks for tables (Gorishniy et al., 2021)."""

import numbers

from ..persistence import register
from .._compat.sklearn import Interval, StrOptions, parameter_constraints
from ..utils._params import store_params
from ._base import BaseNet
from ._embeddings import EMBEDDING_CONSTRAINTS, NumEmbeddingsMixin
from ._modules import ACTIVATIONS, ResNetModule
from ._skorch import SkorchClassifier, SkorchRegressor
from ._targets import NetClassifierMixin, NetRegressorMixin


class _ResNetParams(NumEmbeddingsMixin):
    _parameter_constraints = {
        **parameter_constraints(BaseNet),
        "width": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_blocks": [Interval(numbers.Integral, 0, None, closed="left")],
        "hidden_factor": [Interval(numbers.Real, 0, None, closed="neither")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        **EMBEDDING_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        width=128,
        n_blocks=1,
        hidden_factor=2.0,
        activation="relu",
        dropout=0.0,
        num_embeddings=None,
        d_embedding=16,
        n_bins=48,
        preprocessing="always",
        max_epochs=100,
        lr=None,
        batch_size=128,
        optimizer="adam",
        weight_decay=0.0,
        l1=0.0,
        early_stopping=True,
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

    def _module_spec(self, n_features, n_outputs):
        return ResNetModule, {
            "n_features": n_features,
            "n_outputs": n_outputs,
            "width": int(self.width),
            "n_blocks": int(self.n_blocks),
            "hidden_factor": float(self.hidden_factor),
            "activation": self.activation,
            "dropout": self.dropout,
            "embeddings": self._embedding_spec(),
        }


@register
class ResNetClassifier(NetClassifierMixin, _ResNetParams, BaseNet):
    """Residual network classifier for tables: the strong plain deep baseline.

    After Gorishniy et al. (2021), "Revisiting Deep Learning Models for
    Tabular Data": a linear layer to a residual stream of ``width`` units,
    ``n_blocks`` blocks of batch norm -> linear -> activation -> dropout ->
    linear with a skip connection, and a head.  Sizes are inferred at
    ``fit``; everything else behaves as in :class:`MLPNetClassifier`.
    Structured pruning (``PrunedClassifier(granularity="neuron")``) cuts the
    residual stream and the blocks' hidden units together;
    ``granularity="layer"`` removes whole blocks.

    Parameters
    ----------
    width : int, default=128
        Size of the residual stream.
    n_blocks : int, default=1
        Number of residual blocks.  One block (two before 2026-12-07) was
        measured on the tabular benchmark (``benchmarks/results/resnet_defaults.md``):
        log loss within 10% of the best default net on all six
        classification tables (two blocks: three), and RMSE 0.4-1.5% lower
        for :class:`ResNetRegressor` on the three regression tables (3 splits).
    hidden_factor : float, default=2.0
        Hidden size of each block as a multiple of ``width``.
    activation : {"relu", "leaky_relu", "gelu", "tanh", "logistic", "silu", "identity"}, default="relu"
        Activation inside the blocks and before the head.
    dropout : float in [0, 1), default=0.0
        Dropout inside each block (after the activation and on the block's output).
    num_embeddings : {None, "periodic", "piecewise_linear"}, default=None
        Numerical feature embeddings ahead of the first layer (Gorishniy et
        al., 2022): learned periodic features, or piecewise-linear encodings
        on quantile bins of the training rows (``num_embedding_bins_``).
    d_embedding : int, default=16
        Size of each feature's embedding.
    n_bins : int, default=48
        Quantile bins per feature for ``"piecewise_linear"``.
    preprocessing : {"always", "auto"} or None, default="always"
        How tables reach the net.  ``"always"``: every table, numeric or
        raw, is encoded by a :class:`TableEncoder` fitted at ``fit``
        (``table_encoder_``): numeric columns robust-scaled and smoothly
        clipped (so columns of any scale need no scaler), a missing value
        taken as the column's median with an indicator where the training
        rows had missing values, categorical columns one-hot with codes for
        missing and unseen values.  ``"auto"``: only tables with text,
        category or boolean columns or missing values are encoded; numeric
        tables without missing values go to the net as they are.  ``None``:
        no encoder; text and missing values are refused.  ``"always"`` was
        measured better on the benchmark's tables and on scikit-learn's
        (``benchmarks/results/tabular_defaults.md``; CHANGELOG).
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
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers) and stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs; the best epoch's weights are restored.
        On by default: without it the residual net overfitted real tables
        (log loss 0.62 and 1.80 against 0.28 and 0.55 with it on two of them;
        ``benchmarks/results/tabular_defaults.md``).
    validation_fraction : float in (0, 1), default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks; they are copied at each fit.
    net_params : dict, default=None
        Any further skorch argument; it wins over the settings above.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"``.
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
        Seeds weight initialisation, shuffling and the validation split.
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
    table_encoder_ : TableEncoder
        The encoder of the raw table (only when ``preprocessing`` fitted one).
    num_embedding_bins_ : list of list of float
        Bin edges per feature of the piecewise-linear embeddings (only with
        ``num_embeddings="piecewise_linear"``).
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : ResNetModule
        The fitted torch module.
    history_ : skorch.History
        Per-epoch training history.
    n_epochs_ : int
        Epochs trained.
    device_ : str
        The device the net was trained on.

    See Also
    --------
    ResNetRegressor : The same network for regression.
    MLPNetClassifier : A plain fully connected net.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skensemble.nets import ResNetClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), ResNetClassifier(width=32, max_epochs=30,
    ...                                                        random_state=0)).fit(X, y)
    >>> len(clf[-1].module_.blocks)
    1
    >>> clf.score(X, y) > 0.9
    True
    """

    _net_class = SkorchClassifier


@register
class ResNetRegressor(NetRegressorMixin, _ResNetParams, BaseNet):
    """Residual network regressor for tables (Gorishniy et al., 2021).

    The network of :class:`ResNetClassifier`; targets are standardised
    inside the net and the loss is the mean squared error, as in
    :class:`MLPNetRegressor`.

    Parameters
    ----------
    width : int, default=128
        Size of the residual stream.
    n_blocks : int, default=1
        Number of residual blocks.  One block (two before 2026-12-07): RMSE
        0.4-1.5% lower on the tabular benchmark's three regression tables
        (3 splits); for classification see :class:`ResNetClassifier`.
    hidden_factor : float, default=2.0
        Hidden size of each block as a multiple of ``width``.
    activation : {"relu", "leaky_relu", "gelu", "tanh", "logistic", "silu", "identity"}, default="relu"
        Activation inside the blocks and before the head.
    dropout : float in [0, 1), default=0.0
        Dropout inside each block (after the activation and on the block's output).
    num_embeddings : {None, "periodic", "piecewise_linear"}, default=None
        Numerical feature embeddings ahead of the first layer (Gorishniy et
        al., 2022): learned periodic features, or piecewise-linear encodings
        on quantile bins of the training rows (``num_embedding_bins_``).
    d_embedding : int, default=16
        Size of each feature's embedding.
    n_bins : int, default=48
        Quantile bins per feature for ``"piecewise_linear"``.
    preprocessing : {"always", "auto"} or None, default="always"
        How tables reach the net.  ``"always"``: every table, numeric or
        raw, is encoded by a :class:`TableEncoder` fitted at ``fit``
        (``table_encoder_``): numeric columns robust-scaled and smoothly
        clipped (so columns of any scale need no scaler), a missing value
        taken as the column's median with an indicator where the training
        rows had missing values, categorical columns one-hot with codes for
        missing and unseen values.  ``"auto"``: only tables with text,
        category or boolean columns or missing values are encoded; numeric
        tables without missing values go to the net as they are.  ``None``:
        no encoder; text and missing values are refused.  ``"always"`` was
        measured better on the benchmark's tables and on scikit-learn's
        (``benchmarks/results/tabular_defaults.md``; CHANGELOG).
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
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers) and stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs; the best epoch's weights are restored.
        On by default: without it the residual net overfitted real tables
        (log loss 0.62 and 1.80 against 0.28 and 0.55 with it on two of them;
        ``benchmarks/results/tabular_defaults.md``).
    validation_fraction : float in (0, 1), default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks; they are copied at each fit.
    net_params : dict, default=None
        Any further skorch argument; it wins over the settings above.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"``.
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
        Seeds weight initialisation, shuffling and the validation split.
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
    table_encoder_ : TableEncoder
        The encoder of the raw table (only when ``preprocessing`` fitted one).
    num_embedding_bins_ : list of list of float
        Bin edges per feature of the piecewise-linear embeddings (only with
        ``num_embeddings="piecewise_linear"``).
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : ResNetModule
        The fitted torch module.
    history_ : skorch.History
        Per-epoch training history.
    n_epochs_ : int
        Epochs trained.
    device_ : str
        The device the net was trained on.

    See Also
    --------
    ResNetClassifier : The same network for classification.
    MLPNetRegressor : A plain fully connected net.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skensemble.nets import ResNetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = ResNetRegressor(width=32, max_epochs=50, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.4
    True
    """

    _net_class = SkorchRegressor
