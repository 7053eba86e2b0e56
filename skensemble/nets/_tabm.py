"""TabM: k MLPs that share most of their weights, trained at once (Gorishniy et al., ICLR 2025).

The module is the ``tabm`` package's ``TabM`` (from the method's authors);
skensemble makes it a scikit-learn estimator trained by its one engine.  In
training mode the module returns every member's output, ``(batch, k,
n_outputs)``, and :class:`MemberMeanLoss` takes the mean of the members'
losses; in eval mode it returns the ensemble: for classification the log of
the members' mean probability (so the softmax of it is that mean), for
regression the members' mean.  Validation losses (early stopping) are thus
the ensemble's, as TabM's recipe monitors.
"""

import math
import numbers

import numpy as np
import tabm
import torch
from torch import nn
from torch.nn import functional as F

from .._compat.sklearn import Interval, StrOptions, check_is_fitted, parameter_constraints
from ..persistence import register, register_layer, register_module
from ..utils._params import store_params
from ..utils._torch import eval_mode
from ._base import BaseNet
from ._embeddings import EMBEDDING_CONSTRAINTS, NumEmbeddingsMixin, make_num_embeddings
from ._modules import SeededDropout
from ._loader import MemberBatchLoader
from ._skorch import SkorchClassifier, SkorchRegressor
from ._targets import NetClassifierMixin, NetRegressorMixin

ARCH_TYPES = ("tabm", "tabm-mini", "tabm-packed")


class TabMModule(nn.Module):
    """``tabm.TabM`` on numeric features: the members in training mode, the ensemble in eval mode.

    Parameters
    ----------
    n_features, n_outputs : int
        Input and output sizes.
    k : int
        Number of members.
    arch_type : {"tabm", "tabm-mini", "tabm-packed"}
        BatchEnsemble adapters on every layer (``"tabm"``), only ahead of
        the first (``"tabm-mini"``), or k independent MLPs packed in one
        module (``"tabm-packed"``).
    n_blocks, d_block : int
        Hidden layers and their width.
    dropout : float
        Dropout after each hidden layer.
    classification : bool
        Whether the ensemble averages probabilities (``True``) or values.
    embeddings : dict or None
        ``{"kind", "d_embedding", "bins"}`` of the numerical embeddings (see
        :mod:`skensemble.nets._embeddings`); ``None``: the raw features.
    """

    def __init__(self, n_features, n_outputs, k=32, arch_type="tabm", n_blocks=3, d_block=512, dropout=0.1,
                 classification=True, embeddings=None):
        super().__init__()
        self.k = k
        self.classification = classification
        num_embeddings = None if embeddings is None else make_num_embeddings(
            embeddings["kind"], n_features, embeddings["d_embedding"], embeddings.get("bins"))
        self.model = tabm.TabM.make(n_num_features=n_features, d_out=n_outputs, k=k, arch_type=arch_type,
                                    n_blocks=n_blocks, d_block=d_block, dropout=dropout,
                                    num_embeddings=num_embeddings)
        for name, layer in list(self.model.named_modules()):  # masks from the fit's own generator
            if type(layer) is nn.Dropout:
                parent, _, child = name.rpartition(".")
                setattr(self.model.get_submodule(parent), child, SeededDropout(layer.p))

    def members(self, X):
        """Every member's output, ``(batch, k, n_outputs)`` (dropout follows the module's mode).

        ``tabm.TabM.forward`` step by step through its public parts, for a
        2-D batch (every member reads it) or a 3-D one, ``(batch, k,
        n_features)``, that gives each member its own rows (training on the
        members' own batches); its input checks and its
        ``torch.column_stack`` of feature groups (one group here) are left
        out, which the ONNX exporter cannot express.
        """
        model = self.model
        if X.dim() == 3:
            if model.num_module is None:
                return model.output(model.backbone(X))
            batch, k = X.shape[:2]
            return model.output(model.backbone(model.num_module(X.flatten(0, 1)).reshape(batch, k, -1)))
        h = X if model.num_module is None else model.num_module(X).flatten(1)
        return model.output(model.backbone(model.ensemble_view(h)))

    def forward(self, X):
        out = self.members(X)
        if self.training:
            return out
        if self.classification:  # log of the mean probability: softmax of it is the members' mean
            return torch.logsumexp(F.log_softmax(out.float(), dim=-1), dim=1) - math.log(self.k)
        return out.mean(dim=1)


register_module(TabMModule)
# the ensemble linears a pruned TabM keeps with fewer units (weights are loaded over the scalings' init)
register_layer(tabm.LinearBatchEnsemble, lambda m: {
    "in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None, "k": m.k,
    "scaling_init": "ones"})
register_layer(tabm.LinearEnsemble, lambda m: {
    "in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None, "k": m.k})
register_layer(tabm.ElementwiseAffine, lambda m: {
    "shape": list(m.weight.shape), "bias": m.bias is not None, "scaling_init": "ones"})


class MemberMeanLoss(nn.Module):
    """The mean over the k members of ``loss``; 2-D predictions (the ensemble, in eval mode) as they are.

    With ``reduction="none"`` it returns one loss per row (the members'
    mean), which the engine's weighted training weighs.

    Parameters
    ----------
    loss : type of torch loss, default=nn.CrossEntropyLoss
        The per-member loss.
    reduction : {"mean", "none"}, default="mean"
        How the rows' losses are reduced.
    """

    def __init__(self, loss=nn.CrossEntropyLoss, reduction="mean"):
        super().__init__()
        self.reduction = reduction
        self.loss = loss(reduction="none")

    def forward(self, y_pred, y_true):
        if y_pred.dim() == 3:
            batch, k = y_pred.shape[:2]
            target = y_true.repeat_interleave(k, dim=0)
            per_row = self.loss(y_pred.reshape(batch * k, *y_pred.shape[2:]), target).reshape(batch, k, -1)
            per_row = per_row.mean(dim=(1, 2))
        else:
            per_row = self.loss(y_pred, y_true)
            if per_row.dim() > 1:
                per_row = per_row.mean(dim=tuple(range(1, per_row.dim())))
        return per_row.mean() if self.reduction == "mean" else per_row


class MemberMeanSquaredError(MemberMeanLoss):
    """:class:`MemberMeanLoss` of the squared error (regression)."""

    def __init__(self, reduction="mean"):
        super().__init__(nn.MSELoss, reduction)


class _MemberBatchLoss:
    """skorch net side of the members' own batches: a ``(batch, k, ...)`` batch is ``batch * k`` plain rows.

    With a 3-D X (:class:`MemberBatchLoader`), the members' outputs
    ``(batch, k, n_outputs)`` and the targets ``(batch, k, ...)`` are
    flattened to ``batch * k`` rows before the loss: each member's loss on
    its own rows, averaged as :class:`MemberMeanLoss` averages the members'
    losses; whatever reads targets row by row (sample weights packed as a
    last column, distillation's teacher outputs) reads them unchanged.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if torch.is_tensor(X) and X.dim() == 3 and y_pred.dim() == 3 and y_true is not None:
            y_true = torch.as_tensor(y_true, device=y_pred.device)
            y_pred, y_true = y_pred.flatten(0, 1), y_true.flatten(0, 1)
        return super().get_loss(y_pred, y_true, X=X, training=training)


class TabMSkorchClassifier(_MemberBatchLoss, SkorchClassifier):
    """skensemble's skorch classifier taking the members' own batches."""


class TabMSkorchRegressor(_MemberBatchLoss, SkorchRegressor):
    """skensemble's skorch regressor taking the members' own batches."""


class _TabMParams(NumEmbeddingsMixin):
    _parameter_constraints = {
        **parameter_constraints(BaseNet),
        **EMBEDDING_CONSTRAINTS,
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "arch_type": [StrOptions(set(ARCH_TYPES))],
        "n_blocks": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "d_block": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "share_training_batches": ["boolean"],
    }

    def __init__(
        self,
        *,
        k=8,
        arch_type="tabm",
        n_blocks=None,
        d_block=256,
        dropout=0.1,
        share_training_batches=False,
        num_embeddings="piecewise_linear",
        d_embedding=16,
        n_bins=48,
        preprocessing="always",
        max_epochs=100,
        lr=2e-3,
        batch_size=256,
        optimizer="adamw",
        weight_decay=3e-4,
        l1=0.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=16,
        callbacks=None,
        net_params=None,
        device="cpu",
        amp=False,
        random_state=None,
        verbose=0,
    ):
        store_params(self, locals())

    def _module_spec(self, n_features, n_outputs):
        n_blocks = self.n_blocks
        if n_blocks is None:  # the tabm package's default: one block fewer behind embeddings
            n_blocks = 3 if self.num_embeddings is None else 2
        return TabMModule, {
            "n_features": n_features,
            "n_outputs": n_outputs,
            "k": int(self.k),
            "arch_type": self.arch_type,
            "n_blocks": int(n_blocks),
            "d_block": int(self.d_block),
            "dropout": float(self.dropout),
            "classification": self._classification,
            "embeddings": self._embedding_spec(),
        }

    def _extra_net_params(self, n_outputs):
        """Training batches of the members' own rows (:class:`MemberBatchLoader`) unless they share them."""
        if self.share_training_batches:
            return {}
        return {"iterator_train": MemberBatchLoader, "iterator_train__k": int(self.k)}

    def _member_outputs(self, X):
        """Not public: every member's raw output for validated float32 ``X``, ``(n, k, n_outputs)``."""
        net = self.net_
        Xt = torch.as_tensor(np.array(X, dtype=np.float32), device=net.device)
        with torch.no_grad(), eval_mode(net.module_), net._autocast():
            outs = [net.module_.members(chunk).float().cpu() for chunk in Xt.split(1024)]
        return torch.cat(outs).numpy().astype(np.float64)


@register
class TabMClassifier(NetClassifierMixin, _TabMParams, BaseNet):
    """TabM classifier: an ensemble of k MLPs sharing their weights, trained in one pass.

    TabM (Gorishniy et al., ICLR 2025, "TabM: Advancing Tabular Deep
    Learning with Parameter-Efficient Ensembling") on the ``tabm`` package
    of its authors: k members are trained on the mean of their
    cross-entropies and predict the mean of their probabilities.  Defaults
    follow the paper's recipe (AdamW at 2e-3, weight decay 3e-4, batch 256,
    early stopping on the ensemble's validation loss with patience 16) with
    its piecewise-linear embeddings, and k = 8 members of width 256 (chosen
    on the benchmark's tables: ``benchmarks/results/tabular_pytabkit.md``).
    Labels may be strings or any integers; X any numeric array or DataFrame.

    Parameters
    ----------
    k : int, default=8
        Number of members.  The paper's 32 scored no better on the benchmark's
        nine tables (``benchmarks/results/tabm_members_*.md``: k = 8 trained
        from the start 0.04 accuracy points above k = 32 and 0.7% lower RMSE,
        5 splits) at about 3x the fit time.
    arch_type : {"tabm", "tabm-mini", "tabm-packed"}, default="tabm"
        ``"tabm"``: every dense layer is a BatchEnsemble layer (a shared
        weight matrix with per-member scaling vectors); ``"tabm-mini"``:
        one per-member scaling ahead of a shared MLP; ``"tabm-packed"``: k
        independent MLPs run as one.
    n_blocks : int or None, default=None
        Hidden layers; ``None``: 3, or 2 with ``num_embeddings`` (the
        ``tabm`` package's defaults).
    d_block : int, default=256
        Width of each hidden layer (the paper's 512 without embeddings took
        3.5x longer for the same accuracy on the benchmark's HMDA table).
    dropout : float in [0, 1), default=0.1
        Dropout after each hidden layer (masks drawn per member).
    share_training_batches : bool, default=False
        Whether the members train on the same batches.  ``False`` (the TabM
        authors' choice): each member sees the rows in its own order every
        epoch (a batch is ``(batch_size, k, n_features)``: :class:`MemberBatchLoader`),
        at the same cost per epoch; measured better on the benchmark's
        tables (4 splits: -2.5% mean RMSE, +0.08 accuracy points; CHANGELOG).
        ``True``: every member reads the batch of the plain loader.
    num_embeddings : {None, "periodic", "piecewise_linear"}, default="piecewise_linear"
        Numerical feature embeddings ahead of the backbone (shared by the
        members): learned periodic features, or piecewise-linear encodings on
        quantile bins of the training rows (``num_embedding_bins_``; TabM's
        strongest variant in its paper, "TabM†").
    d_embedding : int, default=16
        Size of each feature's embedding.
    n_bins : int, default=48
        Quantile bins per feature for ``"piecewise_linear"`` (fewer where the
        column has fewer distinct values).
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
        Most passes over the training data (early stopping usually ends sooner).
    lr : float or None, default=0.002
        Learning rate (TabM's recipe; ``None``: the optimizer's default of the other nets).
    batch_size : int, default=256
        Mini-batch size (capped at the number of samples).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adamw"
        The optimizer.
    weight_decay : float, default=3e-4
        Decoupled weight decay (AdamW's), TabM's recipe.
    l1 : float, default=0.0
        L1 penalty on the weight matrices, added to each batch's loss.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training rows (stratified for
        classifiers), stop when the ensemble's validation loss has not
        improved for ``n_iter_no_change`` epochs and restore the best epoch.
    validation_fraction : float in (0, 1), default=0.1
        Share of the rows held out for early stopping.
    n_iter_no_change : int, default=16
        Patience of early stopping, in epochs (TabM's recipe).
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks; they are copied at each fit.
    net_params : dict, default=None
        Any further skorch argument; it wins over the settings above.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"``.
    amp : bool, "auto" or {"float16", "bfloat16"}, default=False
        Automatic mixed precision, as in :class:`MLPNetClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffles, the dropout masks and the
        validation split.
    verbose : int, default=0
        Print skorch's epoch table when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    table_encoder_ : TableEncoder
        The encoder of the raw table (only when ``preprocessing`` fitted one).
    num_embedding_bins_ : list of list of float
        The piecewise-linear embeddings' bin edges per feature (only with
        ``num_embeddings="piecewise_linear"``).
    amp_dtype_ : str
        The autocast dtype used (``"float32"``: none).
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : TabMModule
        The fitted torch module; ``module_.model`` is the ``tabm.TabM``.
    history_ : skorch.History
        Per-epoch training history.
    n_epochs_ : int
        Epochs trained (early stopping included).
    device_ : str
        The device the net was trained on.

    See Also
    --------
    TabMRegressor : The same net for regression.
    DeepEnsembleClassifier : k independent nets.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skensemble.nets import TabMClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TabMClassifier(k=4, d_block=32, batch_size=32, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    >>> clf.score(X, y) > 0.9
    True
    """

    _net_class = TabMSkorchClassifier
    _criterion = MemberMeanLoss
    _classification = True


@register
class TabMRegressor(NetRegressorMixin, _TabMParams, BaseNet):
    """TabM regressor: an ensemble of k MLPs sharing their weights, trained in one pass.

    TabM (Gorishniy et al., ICLR 2025) on the ``tabm`` package of its
    authors: k members are trained on the mean of their squared errors (on
    standardised targets) and predict their mean; ``predict(X,
    return_std=True)`` also returns the members' spread.  Defaults follow
    the paper's recipe (see :class:`TabMClassifier`).

    Parameters
    ----------
    k : int, default=8
        Number of members.  The paper's 32 scored no better on the benchmark's
        nine tables (``benchmarks/results/tabm_members_*.md``: k = 8 trained
        from the start 0.04 accuracy points above k = 32 and 0.7% lower RMSE,
        5 splits) at about 3x the fit time.
    arch_type : {"tabm", "tabm-mini", "tabm-packed"}, default="tabm"
        ``"tabm"``: every dense layer is a BatchEnsemble layer (a shared
        weight matrix with per-member scaling vectors); ``"tabm-mini"``:
        one per-member scaling ahead of a shared MLP; ``"tabm-packed"``: k
        independent MLPs run as one.
    n_blocks : int or None, default=None
        Hidden layers; ``None``: 3, or 2 with ``num_embeddings`` (the
        ``tabm`` package's defaults).
    d_block : int, default=256
        Width of each hidden layer (the paper's 512 without embeddings took
        3.5x longer for the same accuracy on the benchmark's HMDA table).
    dropout : float in [0, 1), default=0.1
        Dropout after each hidden layer (masks drawn per member).
    share_training_batches : bool, default=False
        Whether the members train on the same batches.  ``False`` (the TabM
        authors' choice): each member sees the rows in its own order every
        epoch (a batch is ``(batch_size, k, n_features)``: :class:`MemberBatchLoader`),
        at the same cost per epoch; measured better on the benchmark's
        tables (4 splits: -2.5% mean RMSE, +0.08 accuracy points; CHANGELOG).
        ``True``: every member reads the batch of the plain loader.
    num_embeddings : {None, "periodic", "piecewise_linear"}, default="piecewise_linear"
        Numerical feature embeddings ahead of the backbone (shared by the
        members): learned periodic features, or piecewise-linear encodings on
        quantile bins of the training rows (``num_embedding_bins_``; TabM's
        strongest variant in its paper, "TabM†").
    d_embedding : int, default=16
        Size of each feature's embedding.
    n_bins : int, default=48
        Quantile bins per feature for ``"piecewise_linear"`` (fewer where the
        column has fewer distinct values).
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
        Most passes over the training data (early stopping usually ends sooner).
    lr : float or None, default=0.002
        Learning rate (TabM's recipe; ``None``: the optimizer's default of the other nets).
    batch_size : int, default=256
        Mini-batch size (capped at the number of samples).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adamw"
        The optimizer.
    weight_decay : float, default=3e-4
        Decoupled weight decay (AdamW's), TabM's recipe.
    l1 : float, default=0.0
        L1 penalty on the weight matrices, added to each batch's loss.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training rows (stratified for
        classifiers), stop when the ensemble's validation loss has not
        improved for ``n_iter_no_change`` epochs and restore the best epoch.
    validation_fraction : float in (0, 1), default=0.1
        Share of the rows held out for early stopping.
    n_iter_no_change : int, default=16
        Patience of early stopping, in epochs (TabM's recipe).
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks; they are copied at each fit.
    net_params : dict, default=None
        Any further skorch argument; it wins over the settings above.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"``.
    amp : bool, "auto" or {"float16", "bfloat16"}, default=False
        Automatic mixed precision, as in :class:`MLPNetClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffles, the dropout masks and the
        validation split.
    verbose : int, default=0
        Print skorch's epoch table when positive.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    table_encoder_ : TableEncoder
        The encoder of the raw table (only when ``preprocessing`` fitted one).
    num_embedding_bins_ : list of list of float
        The piecewise-linear embeddings' bin edges per feature (only with
        ``num_embeddings="piecewise_linear"``).
    amp_dtype_ : str
        The autocast dtype used (``"float32"``: none).
    net_ : skorch.NeuralNet
        The fitted skorch net.
    module_ : TabMModule
        The fitted torch module; ``module_.model`` is the ``tabm.TabM``.
    history_ : skorch.History
        Per-epoch training history.
    n_epochs_ : int
        Epochs trained (early stopping included).
    device_ : str
        The device the net was trained on.

    See Also
    --------
    TabMClassifier : The same net for classification.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skensemble.nets import TabMRegressor
    >>> X, y = make_regression(200, 5, noise=0.1, random_state=0)
    >>> reg = TabMRegressor(k=4, d_block=32, random_state=0).fit(X, y)
    >>> mean, std = reg.predict(X[:2], return_std=True)
    >>> mean.shape, std.shape
    ((2,), (2,))
    """

    _net_class = TabMSkorchRegressor
    _criterion = MemberMeanSquaredError
    _classification = False

    def predict(self, X, *, return_std=False, check_input=True):
        """Predicted targets (the members' mean), and their standard deviation over the members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.
        return_std : bool, default=False
            Also return the standard deviation of the k members' predictions.
        check_input : bool, default=True
            Validate X (see :meth:`MLPNetRegressor.predict`).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The ensemble's predictions in the units of the ``y`` seen at fit.
        y_std : ndarray of the same shape
            Only with ``return_std=True``: the members' standard deviation.
        """
        if not return_std:
            return super().predict(X, check_input=check_input)
        if check_input:
            check_is_fitted(self)
            X = self._validate_X(X, reset=False)
        members = self._member_outputs(X)
        mean = self.decode_outputs(members.mean(axis=1))
        std = members.std(axis=1) * self._y_scale
        return mean, (std.ravel() if self._y_1d else std)
