"""FineTunedClassifier and FineTunedRegressor: start from a fitted net, train it on a new task."""

import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from skorch import NeuralNet

from ..meta._base import (
    BaseNetWrapper,
    NetWrapperClassifierMixin,
    NetWrapperRegressorMixin,
    train_epochs,
)
from ..nets import NetClassifier, NetRegressor
from ..preprocessing import TableEncoder
from ..nets._base import OPTIMIZERS, optimizer_arguments, resolve_lr, sgd_defaults
from ..preprocessing._table import check_table
from ..persistence import register
from ..utils._access import get_net, get_net_estimator, is_net
from .._compat.sklearn import (
    HasMethods,
    Interval,
    StrOptions,
    fit_context,
    check_is_fitted,
    check_sample_weight,
)
from ..utils._random import draw_seed
from ._freeze import (
    find_head,
    find_input_layer,
    frozen_layers,
    frozen_norms_in_eval,
    layer_groups,
    reinitialized,
    replace_linear,
    set_trainable,
    with_following_norms,
)


def _source(estimator):
    """The fitted net to start from (never the user's object), and the fitted pipeline head."""
    if isinstance(estimator, FrozenEstimator):
        check_is_fitted(estimator.estimator)
        source = estimator.estimator
    elif isinstance(estimator, NeuralNet) and getattr(estimator, "initialized_", False):
        source = estimator  # a skorch net holding weights the user loaded
    else:
        raise TypeError(
            "Fine-tuning starts from a fitted net: pass FrozenEstimator(fitted_net) (a skensemble "
            "net, a skorch net or a Pipeline ending in one), or an initialized skorch net holding "
            f"pretrained weights; got an unfitted {type(estimator).__name__}."
        )
    preprocessing = None
    if isinstance(source, Pipeline):
        preprocessing, source = source[:-1], source.steps[-1][1]
    if not is_net(source) or (not isinstance(source, NeuralNet) and get_net_estimator(source) is not source):
        raise TypeError(
            f"{type(source).__name__} is not a net this estimator can fine-tune: pass a skensemble "
            "net or a skorch net (for a compressed model, the net inside it, e.g. "
            "FrozenEstimator(pruned.estimator_))."
        )
    return copy.deepcopy(source), copy.deepcopy(preprocessing)


# the source net's training settings a fine-tuning keeps (its own parameters set the rest)
_KEPT_SETTINGS = ("l1", "early_stopping", "validation_fraction", "n_iter_no_change", "callbacks", "amp")


def _kept_settings(source):
    """The training settings of a skensemble source net that fine-tuning keeps: early stopping,
    callbacks, ``l1``, ``amp`` and ``net_params`` other than the module's and optimizer's (the
    fine-tuning's own ``optimizer``, ``lr``, ``max_epochs``, ``batch_size`` and ``weight_decay``
    replace those).  A raw skorch source keeps none (its settings are skorch's, not these)."""
    if isinstance(source, NeuralNet):
        return {}
    params = source.get_params(deep=False)
    kept = {k: params[k] for k in _KEPT_SETTINGS if k in params}
    net_params = {k: v for k, v in (params.get("net_params") or {}).items()
                  if not k.startswith(("module__", "optimizer__"))}
    if net_params:
        kept["net_params"] = net_params
    return kept


def _builder(source, n_features, replace_input):
    """What builds the source's module, and its arguments (the sizes that change left to infer)."""
    if isinstance(source, NeuralNet):
        builder = source.module if isinstance(source.module, type) else type(source.module_)
        kwargs = dict(source.get_params_for("module")) if isinstance(source.module, type) else {}
    else:
        builder, kwargs = source._module_spec(n_features, source._n_outputs())
    kwargs = dict(kwargs)
    kwargs.pop("n_outputs", None)
    if replace_input:
        kwargs.pop("n_features", None)
    return builder, kwargs


class _BaseFineTuned(BaseNetWrapper):
    """Parameters and fit of fine-tuning, whatever the task."""

    _skensemble_net_attr = "estimator_"

    def _encodes_raw_tables(self):
        """Raw tables only where the pretrained net was fitted with a table encoder: the new net reuses it.

        Read in place (``_source`` copies the net; tags are read at every validation).
        """
        source = self.estimator.estimator if isinstance(self.estimator, FrozenEstimator) else self.estimator
        if isinstance(source, Pipeline):
            source = source.steps[-1][1]
        return hasattr(source, "table_encoder_")

    _parameter_constraints = {
        "estimator": [HasMethods(["predict"])],
        "freeze": [StrOptions({"body", "none"}), list, tuple],
        "input_layer": [StrOptions({"keep", "replace"})],
        "reinit": [Interval(numbers.Integral, 0, None, closed="left"), StrOptions({"auto"}), list, tuple],
        "head": [str, None],
        "unfreeze_every": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "body_lr_factor": [Interval(numbers.Real, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        freeze="none",
        head=None,
        input_layer="keep",
        reinit="auto",
        unfreeze_every=None,
        body_lr_factor=1.0,
        max_epochs=30,
        lr=None,
        batch_size=64,
        optimizer="adam",
        weight_decay=0.0,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.freeze = freeze
        self.head = head
        self.input_layer = input_layer
        self.reinit = reinit
        self.unfreeze_every = unfreeze_every
        self.body_lr_factor = body_lr_factor
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.verbose = verbose

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Copy the fitted net, give it a new head for ``y`` and train what ``freeze`` leaves free.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The new task's data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The new task's targets.
        sample_weight : array-like of shape (n_samples,), default=None
            The fine-tuning's loss is the weighted mean of per-sample losses.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        y = self._validate_targets(X, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        seed = draw_seed(self.random_state)
        source, preprocessing = _source(self.estimator)
        Xn = X if preprocessing is None else preprocessing.transform(X)
        encoder = getattr(source, "table_encoder_", None)
        if encoder is not None:  # the pretrained net's raw-table encoding stays in front of the new net
            Xn = check_table(Xn)  # an array-like as an array (a DataFrame as it is)
            encoder = self._table_encoder(encoder, Xn, sample_weight)
            Xn = encoder.transform(Xn)
            steps = [] if preprocessing is None else list(preprocessing.steps)
            preprocessing = Pipeline(steps + [("table", encoder)])
        source_net = get_net(source)
        Xn = np.asarray(Xn, dtype=np.float32)
        n_source = self._check_features(source, source_net, Xn.shape[1])
        if n_source != Xn.shape[1] and getattr(source, "num_embeddings", None) is not None:
            raise ValueError(
                f"{type(self).__name__}(input_layer='replace') cannot read new features with "
                f"{type(source).__name__}(num_embeddings={source.num_embeddings!r}): its embeddings belong to "
                f"the {n_source} features it was fitted on (X gives {Xn.shape[1]}), ahead of the input layer. "
                "Pretrain a net with num_embeddings=None to transfer it to other features.")
        builder, kwargs = _builder(source, n_source, replace_input=n_source != Xn.shape[1])
        net_est = self._net_class(
            builder, module_params=kwargs, max_epochs=self.max_epochs, lr=self.lr,
            batch_size=self.batch_size, optimizer=self.optimizer, weight_decay=self.weight_decay,
            device=str(source_net.device), random_state=seed, verbose=self.verbose,
            **_kept_settings(source),
        )
        net_est._initialize(Xn, y, sample_weight)  # a regressor's target scale is weighted, as in fit
        device = net_est.net_.device
        module = copy.deepcopy(source_net.module_).to(device)
        try:
            new_layers = [find_head(module, torch.zeros(2, n_source, device=device), self.head)]
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__} cannot fine-tune {type(source).__name__}: it replaces the "
                             f"net's nn.Linear output layer with a new head. {exc}") from None
        if n_source != Xn.shape[1]:
            new_layers.append(find_input_layer(module, torch.zeros(2, n_source, device=device)))
            replace_linear(module, new_layers[1], seed + 1, in_features=Xn.shape[1])
        replace_linear(module, new_layers[0], seed, out_features=net_est._n_outputs())
        net_est.net_.module_ = module
        trained_new = with_following_norms(module, new_layers)  # a new layer's norm learns with it
        self.reinitialized_layers_ = reinitialized(module, trained_new, self.reinit, seed + 2)
        trained_new += self.reinitialized_layers_
        frozen = frozen_layers(module, trained_new, self.freeze)
        self._train(net_est, Xn, y, trained_new, frozen, seed, sample_weight)
        self.estimator_ = net_est if preprocessing is None else Pipeline(
            list(preprocessing.steps) + [("net", net_est)])
        self._set_target_attributes(net_est)
        self.head_ = new_layers[0]
        self.input_layer_ = new_layers[1] if len(new_layers) > 1 else None
        self.frozen_layers_ = self._frozen_now
        self.n_trainable_params_ = sum(p.numel() for p in module.parameters() if p.requires_grad)
        return self

    def _save_state(self, writer, state, path):
        """A raw skorch source net cannot be saved as data: the file keeps the fine-tuned net only."""
        if isinstance(state.get("estimator"), NeuralNet):
            warnings.warn(
                f"{path}.estimator (the pretrained skorch net) is not saved: the loaded model "
                "predicts, but set_params(estimator=...) is needed before fitting it again.",
                UserWarning,
            )
            state["estimator"] = None
        return state, {}

    def _table_encoder(self, encoder, X, sample_weight):
        """The pretrained net's table encoder (a copy); a new one fitted on ``X`` where its columns are new.

        New columns (other names or another count) can only reach a fresh
        input layer, so with ``input_layer="replace"`` they get their own
        :class:`~skensemble.preprocessing.TableEncoder`; with ``"keep"`` the pretrained
        encoder refuses them, naming the columns.
        """
        names = getattr(encoder, "feature_names_in_", None)
        named = hasattr(X, "columns") and names is not None
        if named:
            same = [str(c) for c in X.columns] == list(names)
        else:
            same = np.shape(X)[1] == encoder.n_features_in_
        if not same and not named and self.input_layer == "keep":  # other names: the encoder's error names them
            raise ValueError(
                f"X has {np.shape(X)[1]} features, but the pretrained net was fitted on {encoder.n_features_in_} "
                "(its table encoder's columns); with input_layer='keep' the new task needs the same columns. Set "
                "input_layer='replace' to train a fresh input layer for these features.")
        if same or self.input_layer == "keep":
            return copy.deepcopy(encoder)
        return TableEncoder().fit(X, sample_weight=sample_weight)

    def _check_features(self, source, source_net, n_given):
        """The number of features the pretrained net reads; an error when X differs and is kept."""
        n = source._n_module_inputs() if hasattr(source, "_n_module_inputs") else getattr(source, "n_features_in_", None)
        if n is None:  # a skorch net: its first parameter's input size
            n = next(p for p in source_net.module_.parameters() if p.dim() >= 2).shape[1]
        if n != n_given and self.input_layer == "keep":
            raise ValueError(
                f"X has {n_given} features (after the pretrained pipeline's preprocessing), but the "
                f"pretrained net was fitted on {n}; "
                "with input_layer='keep' the new task needs the same features. Set "
                "input_layer='replace' to train a fresh input layer for these features."
            )
        return n

    def _optimizer(self, module, new_layers, trainable_body):
        cls = OPTIMIZERS[self.optimizer] if isinstance(self.optimizer, str) else self.optimizer
        lr = resolve_lr(self.lr, cls)
        new = [p for name in new_layers for p in module.get_submodule(name).parameters()]
        groups = [{"params": new, "lr": lr}]
        body = [p for name in trainable_body for p in module.get_submodule(name).parameters()]
        if body:
            groups.append({"params": body, "lr": lr * self.body_lr_factor})
        arguments = {k.removeprefix("optimizer__"): v for k, v in optimizer_arguments(cls, self.weight_decay).items()}
        return cls(groups, lr=lr, **arguments, **sgd_defaults(cls, ()))

    def _train(self, net_est, Xn, y, new_layers, frozen, seed, sample_weight=None):
        """Train in stages: every ``unfreeze_every`` epochs the next frozen group from the top thaws."""
        net, module = net_est.net_, net_est.net_.module_
        targets = net_est.encode_targets(y)
        to_thaw = [g for g in reversed(layer_groups(module, new_layers)) if set(g) <= set(frozen)]
        frozen = list(frozen)
        set_trainable(module, frozen, False)
        stages = [self.max_epochs]
        if self.unfreeze_every is not None:
            stages = [self.unfreeze_every] * (self.max_epochs // self.unfreeze_every)
            stages += [self.max_epochs % self.unfreeze_every] if self.max_epochs % self.unfreeze_every else []
        for stage, epochs in enumerate(stages):
            if stage and to_thaw:
                group = to_thaw.pop(0)
                frozen = [name for name in frozen if name not in group]
                set_trainable(module, group, True)
            leaves = [n for g in layer_groups(module, new_layers) for n in g]
            net.optimizer_ = self._optimizer(module, new_layers, [n for n in leaves if n not in frozen])
            with frozen_norms_in_eval(module, frozen):
                train_epochs(net_est, Xn, targets, epochs, seed + stage, sample_weight=sample_weight)
        self._frozen_now = frozen


@register
class FineTunedClassifier(NetWrapperClassifierMixin, _BaseFineTuned):
    """Transfer learning: a fitted net, a new head for new classes, and training of what is left free.

    ``fit`` copies the pretrained net (the user's object is never changed),
    replaces its output layer by a fresh ``Linear`` with one output per new
    class, freezes the layers ``freeze`` names (their weights, and the
    running statistics of their batch norms, stay exactly as pretrained),
    and trains the rest for ``max_epochs``: the head at ``lr`` and unfrozen
    pretrained layers at ``lr * body_lr_factor``.  With ``unfreeze_every``,
    frozen layers thaw one group at a time from the top (gradual unfreezing,
    Howard & Ruder 2018).  The pretrained net's training settings carry over:
    its early stopping (restarted at each stage), callbacks, ``l1``, ``amp``
    and ``net_params`` other than the module's and optimizer's.  The input layer is kept, so the new task needs
    the pretraining's features.

    Parameters
    ----------
    estimator : FrozenEstimator or skorch net
        The pretrained net: ``FrozenEstimator`` of a fitted skensemble net,
        skorch net, or ``Pipeline`` ending in one (its fitted preprocessing
        is kept), or an initialized skorch net holding weights you loaded.
    freeze : {"body", "none"} or list of str, default="none"
        ``"body"``: every layer but the new ones (head, replaced input layer); ``"none"``: nothing
        (full fine-tuning); a list: the named layers or submodules
        (``["first", "blocks.0"]``).
    head : str or None, default=None
        The output layer to replace; None finds the ``Linear`` layer that
        produces the module's output.
    input_layer : {"keep", "replace"}, default="keep"
        ``"keep"``: the pretrained input layer is kept, so X must have the
        pretraining's features.  ``"replace"``: when X has other features, a
        fresh ``Linear`` input layer is trained for them (never frozen, at
        ``lr``); the layers between input and head carry the transfer.
    reinit : int, "auto" or list of str, default="auto"
        Pretrained layers to re-initialize and train from scratch with the
        head (never frozen, at ``lr``): an int re-initializes that many layer
        groups (a layer with its norms) just below the head; a list names
        layers or submodules; ``"auto"``: the top group, where another
        pretrained group stays below it (else none).  The defaults
        (``freeze="none"``, ``reinit="auto"``, ``body_lr_factor=1.0``) are the
        recipe ``benchmarks/results/transfer.md`` supports: -0.6 to +0.5
        points from training from scratch on every task and row count, 8-26
        points above training the head only.  Useful when the top layers are tied to the
        source task (a conv net's dense layers to pixel positions, the last
        hidden layer to the source's classes).
    unfreeze_every : int or None, default=None
        Epochs between unfreezing steps; None keeps ``freeze`` for the whole
        training.
    body_lr_factor : float, default=1.0
        Learning rate of trainable pretrained layers as a fraction of ``lr``.
    max_epochs : int, default=30
        Epochs of fine-tuning.
    lr : float or None, default=None
        Learning rate of the head; ``None``: 0.01 for ``optimizer="sgd"`` (with
        momentum 0.9, Nesterov), 0.001 otherwise.
    batch_size : int, default=64
        Mini-batch size (capped at the number of samples).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        The optimizer.
    weight_decay : float, default=0.0
        L2 penalty of the optimizer.
    random_state : int, RandomState instance or None, default=None
        Seeds the new head and the training.
    verbose : int, default=0
        Print skorch's epoch table when positive.

    Attributes
    ----------
    estimator_ : NetClassifier or Pipeline
        The fine-tuned net (behind the pretrained net's preprocessing, if any).
    classes_ : ndarray of shape (n_classes,)
        Class labels of the new task.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.
    head_ : str
        Name of the replaced output layer.
    input_layer_ : str or None
        Name of the replaced input layer, when one was replaced.
    reinitialized_layers_ : list of str
        Pretrained layers re-initialized by ``reinit``.
    frozen_layers_ : list of str
        Layers still frozen at the end of training.
    n_trainable_params_ : int
        Parameters trained in the last stage.

    See Also
    --------
    FineTunedRegressor : The same for regression.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.frozen import FrozenEstimator
    >>> from skensemble.nets import MLPNetClassifier
    >>> from skensemble.transfer import FineTunedClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> source = MLPNetClassifier((64,), max_epochs=30, random_state=0).fit(X[y < 5], y[y < 5])
    >>> tuned = FineTunedClassifier(FrozenEstimator(source), freeze="none", max_epochs=30,
    ...                             random_state=0).fit(X[y >= 5], y[y >= 5])
    >>> tuned.classes_
    array([5, 6, 7, 8, 9])
    >>> tuned.score(X[y >= 5], y[y >= 5]) > 0.9
    True
    """

    _net_class = NetClassifier


@register
class FineTunedRegressor(NetWrapperRegressorMixin, _BaseFineTuned):
    """Transfer learning for regression: a fitted net with a new head trained on new targets.

    As :class:`FineTunedClassifier`: the pretrained net is copied, its
    output layer replaced by a fresh ``Linear`` with one output per target,
    the layers ``freeze`` names kept exactly as pretrained, and the rest
    trained on the new targets (standardised inside the net).  The source
    net may be a classifier or a regressor.

    Parameters
    ----------
    estimator : FrozenEstimator or skorch net
        The pretrained net: ``FrozenEstimator`` of a fitted skensemble net,
        skorch net, or ``Pipeline`` ending in one (its fitted preprocessing
        is kept), or an initialized skorch net holding weights you loaded.
    freeze : {"body", "none"} or list of str, default="none"
        ``"body"``: every layer but the new ones (head, replaced input layer); ``"none"``: nothing; a
        list: the named layers or submodules.
    head : str or None, default=None
        The output layer to replace; None finds it.
    input_layer : {"keep", "replace"}, default="keep"
        ``"keep"``: X must have the pretraining's features; ``"replace"``: a
        fresh input layer is trained when X has other features.
    reinit : int, "auto" or list of str, default="auto"
        Pretrained layers to re-initialize and train from scratch with the
        head (never frozen, at ``lr``): an int re-initializes that many layer
        groups (a layer with its norms) just below the head; a list names
        layers or submodules; ``"auto"``: the top group, where another
        pretrained group stays below it (else none).  The defaults
        (``freeze="none"``, ``reinit="auto"``, ``body_lr_factor=1.0``) are the
        recipe ``benchmarks/results/transfer.md`` supports: -0.6 to +0.5
        points from training from scratch on every task and row count, 8-26
        points above training the head only.  Useful when the top layers are tied to the
        source task (a conv net's dense layers to pixel positions, the last
        hidden layer to the source's classes).
    unfreeze_every : int or None, default=None
        Epochs between unfreezing steps; None keeps ``freeze``.
    body_lr_factor : float, default=1.0
        Learning rate of trainable pretrained layers as a fraction of ``lr``.
    max_epochs : int, default=30
        Epochs of fine-tuning.
    lr : float or None, default=None
        Learning rate of the head; ``None``: 0.01 for ``optimizer="sgd"`` (with
        momentum 0.9, Nesterov), 0.001 otherwise.
    batch_size : int, default=64
        Mini-batch size (capped at the number of samples).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        The optimizer.
    weight_decay : float, default=0.0
        L2 penalty of the optimizer.
    random_state : int, RandomState instance or None, default=None
        Seeds the new head and the training.
    verbose : int, default=0
        Print skorch's epoch table when positive.

    Attributes
    ----------
    estimator_ : NetRegressor or Pipeline
        The fine-tuned net (behind the pretrained net's preprocessing, if any).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.
    head_ : str
        Name of the replaced output layer.
    input_layer_ : str or None
        Name of the replaced input layer, when one was replaced.
    reinitialized_layers_ : list of str
        Pretrained layers re-initialized by ``reinit``.
    frozen_layers_ : list of str
        Layers still frozen at the end of training.
    n_trainable_params_ : int
        Parameters trained in the last stage.

    See Also
    --------
    FineTunedClassifier : The same for classification.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.frozen import FrozenEstimator
    >>> from skensemble.nets import MLPNetRegressor
    >>> from skensemble.transfer import FineTunedRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> source = MLPNetRegressor((32,), max_epochs=50, random_state=0).fit(X[:300], y[:300])
    >>> tuned = FineTunedRegressor(FrozenEstimator(source), freeze="none", max_epochs=30,
    ...                            random_state=0).fit(X[300:], y[300:] ** 0.5)
    >>> tuned.head_
    'layers.2'
    """

    _net_class = NetRegressor
