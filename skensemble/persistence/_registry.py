"""Allow-lists for loading: the only classes a saved file can name.

A manifest names classes by key; loading looks the key up here and never
imports a name from the file.  Anything else must come through skops with its
trusted-types check.
"""

import torch
from skorch import callbacks as skorch_callbacks
from sklearn.ensemble import StackingClassifier as SkStackingClassifier
from sklearn.ensemble import VotingClassifier as SkVotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from torch import nn


def estimator_classes():
    """Estimator and helper classes whose state skensemble saves attribute by attribute."""
    from .. import compression, ensemble, nets

    classes = [
        nets.MLPNetClassifier, nets.MLPNetRegressor, nets.ConvNetClassifier,
        compression.PrunedClassifier, compression.QuantizedClassifier,
        compression.DistilledClassifier, compression.MagnitudeImportance,
        compression.TaylorImportance, compression.RandomImportance,
        compression.NoiseAugmenter, compression.MixupAugmenter, compression.MungeAugmenter,
        ensemble.VotingClassifier, ensemble.StackingClassifier,
        ensemble.CascadeClassifier, ensemble.EnsembleSelectionClassifier,
        Pipeline, FrozenEstimator, SkVotingClassifier, SkStackingClassifier,
    ]
    return {f"{c.__module__.split('._')[0]}.{c.__qualname__}": c for c in classes}


def module_classes():
    from ..nets._modules import ConvModule, MLPModule

    return {"MLPModule": MLPModule, "ConvModule": ConvModule}


# Layers a saved module may contain, with the constructor arguments kept.
LAYERS = {
    "Linear": (nn.Linear, lambda m: {"in_features": m.in_features, "out_features": m.out_features,
                                     "bias": m.bias is not None}),
    "Conv1d": (nn.Conv1d, None),
    "Conv2d": (nn.Conv2d, None),
    "BatchNorm1d": (nn.BatchNorm1d, None),
    "BatchNorm2d": (nn.BatchNorm2d, None),
    "ReLU": (nn.ReLU, lambda m: {}),
    "LeakyReLU": (nn.LeakyReLU, lambda m: {"negative_slope": m.negative_slope}),
    "GELU": (nn.GELU, lambda m: {"approximate": m.approximate}),
    "Tanh": (nn.Tanh, lambda m: {}),
    "Sigmoid": (nn.Sigmoid, lambda m: {}),
    "SiLU": (nn.SiLU, lambda m: {}),
    "Identity": (nn.Identity, lambda m: {}),
    "Dropout": (nn.Dropout, lambda m: {"p": m.p}),
    "MaxPool1d": (nn.MaxPool1d, lambda m: {"kernel_size": m.kernel_size, "stride": m.stride}),
    "MaxPool2d": (nn.MaxPool2d, lambda m: {"kernel_size": m.kernel_size, "stride": m.stride}),
    "AvgPool1d": (nn.AvgPool1d, lambda m: {"kernel_size": m.kernel_size, "stride": m.stride}),
    "AvgPool2d": (nn.AvgPool2d, lambda m: {"kernel_size": m.kernel_size, "stride": m.stride}),
    "Flatten": (nn.Flatten, lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim}),
}


def _conv_args(m):
    return {"in_channels": m.in_channels, "out_channels": m.out_channels,
            "kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding,
            "dilation": m.dilation, "groups": m.groups, "bias": m.bias is not None,
            "padding_mode": m.padding_mode}


def _norm_args(m):
    return {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum,
            "affine": m.affine, "track_running_stats": m.track_running_stats}


for _name in ("Conv1d", "Conv2d"):
    LAYERS[_name] = (LAYERS[_name][0], _conv_args)
for _name in ("BatchNorm1d", "BatchNorm2d"):
    LAYERS[_name] = (LAYERS[_name][0], _norm_args)

# Classes that parameters may hold (optimizers, learning-rate schedules).
TYPES = {
    "torch.optim.Adam": torch.optim.Adam,
    "torch.optim.AdamW": torch.optim.AdamW,
    "torch.optim.SGD": torch.optim.SGD,
    "torch.optim.RMSprop": torch.optim.RMSprop,
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
