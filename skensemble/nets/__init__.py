"""scikit-learn estimators around skorch nets (built in, or any torch module) whose sizes are inferred at fit."""

import warnings as _warnings

from ._conv import ConvNetClassifier, ConvNetRegressor
from ._loader import TensorLoader
from ._mlp import MLPNetClassifier, MLPNetRegressor
from ._module_net import NetClassifier, NetRegressor
from ._modules import ConvModule, MLPModule, ResNetModule, SeededDropout
from ._resnet import ResNetClassifier, ResNetRegressor
from ._skorch import NonFiniteLossError
from ._tabm import TabMClassifier, TabMModule, TabMRegressor

__all__ = [
    "ConvModule",
    "ConvNetClassifier",
    "ConvNetRegressor",
    "MLPModule",
    "MLPNetClassifier",
    "MLPNetRegressor",
    "NetClassifier",
    "NetRegressor",
    "NonFiniteLossError",
    "ResNetClassifier",
    "ResNetModule",
    "ResNetRegressor",
    "SeededDropout",
    "TabMClassifier",
    "TabMModule",
    "TabMRegressor",
    "TensorLoader",
]


def __getattr__(name):
    """``TableEncoder`` moved to :mod:`skensemble.preprocessing` (0.2)."""
    if name == "TableEncoder":
        _warnings.warn("skensemble.nets.TableEncoder moved to skensemble.preprocessing.TableEncoder; the old "
                       "name goes away in the next release.", FutureWarning, stacklevel=2)
        from ..preprocessing import TableEncoder

        return TableEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
