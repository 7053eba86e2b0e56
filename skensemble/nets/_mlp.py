"""Multi-layer perceptron estimators."""

from .._compat.sklearn import parameter_constraints
from ..persistence import register
from ..utils._params import store_params
from ._base import BaseNet
from ._embeddings import EMBEDDING_CONSTRAINTS, NumEmbeddingsMixin
from ._modules import MLPModule
from ._skorch import SkorchClassifier, SkorchRegressor
from ._targets import NetClassifierMixin, NetRegressorMixin

class _MLPParams(NumEmbeddingsMixin):
    def __init__(
        self,
        hidden_layer_sizes=(128,),
        *,
        activation="relu",
        dropout=0.0,
        batch_norm=False,
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

    _parameter_constraints = {**parameter_constraints(BaseNet), **BaseNet._hidden_constraints,
                              **EMBEDDING_CONSTRAINTS}

    def _module_spec(self, n_features, n_outputs):
        return MLPModule, {
            "n_features": n_features,
            "n_outputs": n_outputs,
            "hidden_layer_sizes": tuple(int(h) for h in self.hidden_layer_sizes),
            "activation": self.activation,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "embeddings": self._embedding_spec(),
        }


@register
class MLPNetClassifier(NetClassifierMixin, _MLPParams, BaseNet):
    """Multi-layer perceptron classifier: a scikit-learn estimator around skorch.

    Input and output sizes are inferred at ``fit``.  X may be any numeric
    array or DataFrame (it is cast to float32); labels may be strings or any
    integers, and ``predict`` returns them as given.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(128,)
        Units of each hidden layer.
    activation : {"relu", "leaky_relu", "gelu", "tanh", "logistic", "silu", "identity"}, default="relu"
        Activation after each hidden layer.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
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
    table_encoder_ : TableEncoder
        The encoder of the raw table (only when ``preprocessing`` fitted one).
    num_embedding_bins_ : list of list of float
        Bin edges per feature of the piecewise-linear embeddings (only with
        ``num_embeddings="piecewise_linear"``).
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
    ConvNetClassifier : Convolutional net for signals and images.
    MLPNetRegressor : The same network for regression.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPNetClassifier((16,), max_epochs=50, lr=0.01, random_state=0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> clf.score(X, y) > 0.9
    True
    """

    _net_class = SkorchClassifier


@register
class MLPNetRegressor(NetRegressorMixin, _MLPParams, BaseNet):
    """Multi-layer perceptron regressor: a scikit-learn estimator around skorch.

    Targets (one or several columns) are standardised for training and scaled
    back at ``predict``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(128,)
        Units of each hidden layer.
    activation : {"relu", "leaky_relu", "gelu", "tanh", "logistic", "silu", "identity"}, default="relu"
        Activation after each hidden layer.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
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
    table_encoder_ : TableEncoder
        The encoder of the raw table (only when ``preprocessing`` fitted one).
    num_embedding_bins_ : list of list of float
        Bin edges per feature of the piecewise-linear embeddings (only with
        ``num_embeddings="piecewise_linear"``).
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
    MLPNetClassifier : The same network for classification.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skensemble.nets import MLPNetRegressor
    >>> X, y = make_regression(200, 5, noise=0.1, random_state=0)
    >>> reg = MLPNetRegressor((32,), max_epochs=200, lr=0.01, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    _net_class = SkorchRegressor
