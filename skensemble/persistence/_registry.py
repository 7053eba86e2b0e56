"""Allow-lists for loading: the only classes a saved file can name.

A manifest names classes by key; loading looks the key up here and never
imports a name from the file.  The lists are closed: a class is loadable
because code registered it (skensemble registers its own estimators, torch
modules and layers where they are defined, with :func:`register`,
:func:`register_module` and :func:`register_layer`), never because a file
names it.  Anything else must come through skops with its trusted-types check.

This module imports nothing from skensemble's estimator packages.
"""

import torch
from skorch import callbacks as skorch_callbacks
from skorch.dataset import ValidSplit
from sklearn.ensemble import StackingClassifier as SkStackingClassifier
from sklearn.ensemble import StackingRegressor as SkStackingRegressor
from sklearn.ensemble import VotingClassifier as SkVotingClassifier
from sklearn.ensemble import VotingRegressor as SkVotingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from torch import nn

_ESTIMATORS = {}
_KEYS = {}  # class -> key, the reverse of _ESTIMATORS
_MODULES = {}


def class_key(cls):
    """The key that names ``cls`` in a file: public package path and class name.

    ``mypackage._impl.MyEstimator`` is saved as ``mypackage.MyEstimator``.
    skensemble's own classes are named by the subpackage that documents them,
    wherever their module lies inside it: ``skensemble.nets._mlp.MLPNetClassifier``
    is ``skensemble.nets.MLPNetClassifier`` and
    ``skensemble.compression.pruning._pruned.PrunedClassifier`` is
    ``skensemble.compression.PrunedClassifier``, the key it had before the
    compression families moved into folders.  Keys are part of the file
    format: ``persistence/tests`` pins every one of them.
    """
    public = cls.__module__.split("._")[0].split(".")
    if public[0] == "skensemble" and "tests" not in public:
        public = public[:2]
    return f"{'.'.join(public)}.{cls.__qualname__}"


def register(cls=None, *, key=None):
    """Make an estimator class saveable and loadable by :func:`skensemble.save`/``load``.

    Usable as a decorator.  The estimator's attributes (``vars``) are saved
    as data (parameters as unfitted clones); a class controls its own fitted
    state with two optional methods:

    ``_save_state(self, writer, state, path) -> (state, extra)``
        Called before anything of the object is written, with ``state``, a
        copy of its attributes.  Return the attributes to save as data and a
        JSON-serialisable ``extra`` dict describing what the method stored
        itself through ``writer`` (``add_tensors``, ``add_file``,
        ``module``, ``skip_weights``, ``encode``).
    ``_load_state(self, reader, extra)``
        Called after the saved attributes are set, with the ``extra`` dict;
        restores the rest through ``reader`` (``tensors_under``, ``file``,
        ``module``, ``decode``).

    Parameters
    ----------
    cls : type
        The class.
    key : str, default=None
        The name in files; the default is the public package path plus the
        class name (see :func:`class_key`).  Keep it stable across releases.
    """

    def add(cls):
        name = key or class_key(cls)
        if _ESTIMATORS.get(name, cls) is not cls:
            raise ValueError(f"Another class is already registered as {name!r}.")
        _ESTIMATORS[name] = cls
        _KEYS[cls] = name
        return cls

    return add if cls is None else add(cls)


def register_module(cls, *, key=None):
    """Trust a torch module class at load without the user naming it.

    A class that keeps its whole computation in an ``nn.Sequential``
    attribute named ``layers`` of registered layers (:func:`register_layer`;
    torch's common layers are) is saved as that layer list; any other is
    saved as its constructor arguments plus the layers that differ from a
    fresh build (see ``skensemble.persistence._modules``).
    """
    name = key or cls.__name__
    if _MODULES.get(name, cls) is not cls:
        raise ValueError(f"Another module class is already registered as {name!r}.")
    _MODULES[name] = cls
    return cls


def register_layer(cls, args, *, key=None):
    """Make a layer class saveable: ``args(layer)`` gives its constructor arguments as data."""
    LAYERS[key or cls.__name__] = (cls, args)
    return cls


def register_splitter(cls, *, key=None):
    """Make a skorch ``ValidSplit`` subclass saveable: saved as its ``cv``, ``stratified`` and ``random_state``."""
    SPLITTERS[key or class_key(cls)] = cls
    return cls


def estimator_classes():
    """Registered estimator classes by key."""
    return dict(_ESTIMATORS)


def estimator_key(cls):
    """The key a registered estimator class is saved under, or None when it is not registered."""
    return _KEYS.get(cls)


def module_classes():
    """Registered torch module classes by key."""
    return dict(_MODULES)


for _cls in (Pipeline, FrozenEstimator, SkVotingClassifier, SkStackingClassifier,
             SkVotingRegressor, SkStackingRegressor):
    register(_cls)


def _conv_args(m):
    return {"in_channels": m.in_channels, "out_channels": m.out_channels,
            "kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding,
            "dilation": m.dilation, "groups": m.groups, "bias": m.bias is not None,
            "padding_mode": m.padding_mode}


def _norm_args(m):
    return {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum,
            "affine": m.affine, "track_running_stats": m.track_running_stats}


def _pool_args(m):
    return {"kernel_size": m.kernel_size, "stride": m.stride}


def _no_args(m):
    return {}


# Layers a saved module may contain, with the constructor arguments kept.
LAYERS = {
    "Linear": (nn.Linear, lambda m: {"in_features": m.in_features, "out_features": m.out_features,
                                     "bias": m.bias is not None}),
    "Conv1d": (nn.Conv1d, _conv_args),
    "Conv2d": (nn.Conv2d, _conv_args),
    "BatchNorm1d": (nn.BatchNorm1d, _norm_args),
    "BatchNorm2d": (nn.BatchNorm2d, _norm_args),
    "ReLU": (nn.ReLU, _no_args),
    "LeakyReLU": (nn.LeakyReLU, lambda m: {"negative_slope": m.negative_slope}),
    "GELU": (nn.GELU, lambda m: {"approximate": m.approximate}),
    "Tanh": (nn.Tanh, _no_args),
    "Sigmoid": (nn.Sigmoid, _no_args),
    "SiLU": (nn.SiLU, _no_args),
    "Identity": (nn.Identity, _no_args),
    "Dropout": (nn.Dropout, lambda m: {"p": m.p}),
    "MaxPool1d": (nn.MaxPool1d, _pool_args),
    "MaxPool2d": (nn.MaxPool2d, _pool_args),
    "AvgPool1d": (nn.AvgPool1d, _pool_args),
    "AvgPool2d": (nn.AvgPool2d, _pool_args),
    "Flatten": (nn.Flatten, lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim}),
    "LayerNorm": (nn.LayerNorm, lambda m: {"normalized_shape": list(m.normalized_shape), "eps": m.eps,
                                           "elementwise_affine": m.elementwise_affine,
                                           "bias": getattr(m, "bias", None) is not None}),
    "Embedding": (nn.Embedding, lambda m: {"num_embeddings": m.num_embeddings,
                                           "embedding_dim": m.embedding_dim,
                                           "padding_idx": m.padding_idx}),
}

# Classes that parameters may hold (optimizers, learning-rate schedules).
TYPES = {
    **{f"torch.optim.{name}": getattr(torch.optim, name)  # every optimizer a net trains with (issue 41)
       for name in ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam",
                    "Rprop", "Adafactor", "LBFGS")},
    **{f"torch.optim.lr_scheduler.{name}": getattr(torch.optim.lr_scheduler, name)
       for name in ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                    "CosineAnnealingWarmRestarts", "ReduceLROnPlateau", "OneCycleLR",
                    "CyclicLR", "LinearLR", "ConstantLR", "PolynomialLR")},
}

# skorch callbacks whose configuration is plain data: saved as their class and
# parameters, rebuilt unfitted at load.  Callbacks that hold callables or read
# files at fit (Initializer, Checkpoint, LoadInitState, loggers) are not here.
CALLBACKS = {
    f"skorch.callbacks.{name}": getattr(skorch_callbacks, name)
    for name in ("EarlyStopping", "LRScheduler", "GradientNormClipping", "EpochScoring",
                 "BatchScoring", "PassthroughScoring", "ProgressBar", "EpochTimer", "PrintLog",
                 "Freezer", "Unfreezer")
}

# Validation splitters (skorch's train_split) saved as their class and three plain parameters.
SPLITTERS = {"skorch.dataset.ValidSplit": ValidSplit}
