"""Compression meta-estimators: pruning, distillation and quantization."""

from ._augment import MixupAugmenter, MungeAugmenter, NoiseAugmenter
from ._distillation import DistilledClassifier
from ._distillation_regressor import DistilledRegressor
from ._distillation_loss import DistillationLoss
from ._onnx import OnnxRuntimeModel, to_onnx
from ._importance import (
    Importance,
    MagnitudeImportance,
    RandomImportance,
    TaylorImportance,
)
from ._pruning import PrunedClassifier, PrunedRegressor
from ._quantization import QuantizedClassifier, QuantizedRegressor
from ._torch_int8 import Int8WeightOnlyLinear
from ._schedule import sparsity_schedule
from ._surgery import StructuralPruningError, count_params, find_groups, remove_units

__all__ = [
    "DistillationLoss",
    "DistilledClassifier",
    "DistilledRegressor",
    "MixupAugmenter",
    "MungeAugmenter",
    "NoiseAugmenter",
    "OnnxRuntimeModel",
    "Importance",
    "Int8WeightOnlyLinear",
    "MagnitudeImportance",
    "PrunedClassifier",
    "PrunedRegressor",
    "QuantizedClassifier",
    "QuantizedRegressor",
    "RandomImportance",
    "StructuralPruningError",
    "TaylorImportance",
    "count_params",
    "find_groups",
    "remove_units",
    "sparsity_schedule",
    "to_onnx",
]
