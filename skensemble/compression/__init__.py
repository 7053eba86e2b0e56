"""Compression meta-estimators: pruning, distillation and quantization."""

from ._augment import MixupAugmenter, MungeAugmenter, NoiseAugmenter
from ._distillation import DistilledClassifier
from ._distillation_loss import DistillationLoss
from ._onnx import OnnxRuntimeModel, to_onnx
from ._importance import (
    Importance,
    MagnitudeImportance,
    RandomImportance,
    TaylorImportance,
)
from ._pruning import PrunedClassifier
from ._quantization import QuantizedClassifier
from ._quantize_backends import Int8WeightOnlyLinear
from ._schedule import sparsity_schedule
from ._surgery import StructuralPruningError, count_params, find_groups, remove_units

__all__ = [
    "DistillationLoss",
    "DistilledClassifier",
    "MixupAugmenter",
    "MungeAugmenter",
    "NoiseAugmenter",
    "OnnxRuntimeModel",
    "Importance",
    "Int8WeightOnlyLinear",
    "MagnitudeImportance",
    "PrunedClassifier",
    "QuantizedClassifier",
    "RandomImportance",
    "StructuralPruningError",
    "TaylorImportance",
    "count_params",
    "find_groups",
    "remove_units",
    "sparsity_schedule",
    "to_onnx",
]
