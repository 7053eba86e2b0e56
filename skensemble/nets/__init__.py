"""scikit-learn estimators around skorch nets (built in, or any torch module) whose sizes are inferred at fit."""

from ._conv import ConvNetClassifier, ConvNetRegressor
from ._loader import TensorLoader
from ._mlp import MLPNetClassifier, MLPNetRegressor
from ._module_net import NetClassifier, NetRegressor
from ._modules import ConvModule, MLPModule, ResNetModule, SeededDropout
from ._resnet import ResNetClassifier, ResNetRegressor
from ._skorch import NonFiniteLossError
from ._table import TableEncoder
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
    "TableEncoder",
    "TabMClassifier",
    "TabMModule",
    "TabMRegressor",
    "TensorLoader",
]
