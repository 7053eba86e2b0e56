"""Nets around any torch module: the user's module class with the nets' scikit-learn behaviour."""

import inspect

from torch import nn

from .._compat.sklearn import parameter_constraints
from ..persistence import register
from ..utils._params import store_params
from ._base import BaseNet
from ._skorch import SkorchClassifier, SkorchRegressor
from ._targets import NetClassifierMixin, NetRegressorMixin

# the keyword names through which a module learns the data's sizes at fit
SIZE_ARGUMENTS = ("n_features", "n_outputs")


class _ModuleParams:
    """Parameters of the any-module nets (shared by the classifier and the regressor)."""

    _parameter_constraints = {
        **parameter_constraints(BaseNet),
        "module": [callable],
        "module_params": [dict, None],
    }

    def __init__(
        self,
        module,
        *,
        module_params=None,
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

    def _module_spec(self, n_features, n_outputs):
        module = self.module
        if isinstance(module, nn.Module):
            raise TypeError(
                f"module must be a torch module class (or a function returning a module), not an "
                f"instance of {type(module).__name__}: each fit builds a fresh module from the class "
                "and module_params, so that clones and refits do not share weights."
            )
        kwargs = dict(self.module_params or {})
        try:
            accepted = inspect.signature(module).parameters
        except (TypeError, ValueError):  # a builtin or C callable: pass only what the user gave
            accepted = {}
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        inferred = {"n_features": n_features, "n_outputs": n_outputs}
        for name in SIZE_ARGUMENTS:
            if name not in kwargs and (name in accepted or takes_any):
                kwargs[name] = inferred[name]
        return module, kwargs


@register
class NetClassifier(NetClassifierMixin, _ModuleParams, BaseNet):
    """A classifier around any torch module: your network, scikit-learn's behaviour.

    Everything :class:`MLPNetClassifier` does (validation of X and y, labels
    of any type, ``random_state``, ``sample_weight``, early stopping,
    ``amp``, devices, callbacks) for a module class of your own.  The module
    returns logits (one column per class); the loss is cross-entropy.

    Parameters
    ----------
    module : torch module class or callable returning a module
        The network.  Each fit builds a fresh one as
        ``module(**module_params)``; when the class (or function) takes the
        keyword arguments ``n_features`` and/or ``n_outputs`` and
        ``module_params`` does not set them, they are filled in from the data
        (number of input columns; number of classes).  The module takes a
        float32 batch of shape (n_samples, n_features) and returns logits of
        shape (n_samples, n_classes); another output shape is refused before
        training, with the shape it should have.
    module_params : dict, default=None
        Keyword arguments of ``module``.
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
        Hold out ``validation_fraction`` of the training data (stratified)
        and stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs; the best epoch's weights are restored.
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
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : torch.nn.Module
        The fitted torch module.
    history_ : skorch.History
        Per-epoch training history.
    n_epochs_ : int
        Epochs trained.
    device_ : str
        The device the net was trained on.

    See Also
    --------
    NetRegressor : The same for regression.
    MLPNetClassifier : A fully connected net built in.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from skensemble.nets import NetClassifier
    >>> class Tiny(torch.nn.Module):
    ...     def __init__(self, n_features, n_outputs, width=16):
    ...         super().__init__()
    ...         self.hidden = torch.nn.Linear(n_features, width)
    ...         self.out = torch.nn.Linear(width, n_outputs)
    ...     def forward(self, X):
    ...         return self.out(torch.relu(self.hidden(X)))
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NetClassifier(Tiny, module_params={"width": 32}, max_epochs=50, lr=0.01,
    ...                     random_state=0).fit(X, y)
    >>> clf.module_.out.out_features
    3
    >>> clf.score(X, y) > 0.9
    True
    """

    _net_class = SkorchClassifier


@register
class NetRegressor(NetRegressorMixin, _ModuleParams, BaseNet):
    """A regressor around any torch module: your network, scikit-learn's behaviour.

    Everything :class:`MLPNetRegressor` does (validation, target scaling
    inside the net, one or several targets, ``random_state``,
    ``sample_weight``, early stopping, ``amp``, devices, callbacks) for a
    module class of your own.  The loss is the mean squared error on
    standardised targets.

    Parameters
    ----------
    module : torch module class or callable returning a module
        The network.  Each fit builds a fresh one as
        ``module(**module_params)``; when the class (or function) takes the
        keyword arguments ``n_features`` and/or ``n_outputs`` and
        ``module_params`` does not set them, they are filled in from the data
        (number of input columns; number of targets).  The module takes a
        float32 batch of shape (n_samples, n_features) and returns shape
        (n_samples, n_targets); another output shape is refused before
        training, with the shape it should have.
    module_params : dict, default=None
        Keyword arguments of ``module``.
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
        Hold out ``validation_fraction`` of the training data and stop when
        the validation loss has not improved for ``n_iter_no_change`` epochs;
        the best epoch's weights are restored.
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
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : torch.nn.Module
        The fitted torch module.
    history_ : skorch.History
        Per-epoch training history.
    n_epochs_ : int
        Epochs trained.
    device_ : str
        The device the net was trained on.

    See Also
    --------
    NetClassifier : The same for classification.
    MLPNetRegressor : A fully connected net built in.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import make_regression
    >>> from skensemble.nets import NetRegressor
    >>> def two_layers(n_features, n_outputs):
    ...     return torch.nn.Sequential(torch.nn.Linear(n_features, 32), torch.nn.ReLU(),
    ...                                torch.nn.Linear(32, n_outputs))
    >>> X, y = make_regression(200, 5, noise=0.1, random_state=0)
    >>> reg = NetRegressor(two_layers, max_epochs=200, lr=0.01, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    _net_class = SkorchRegressor
