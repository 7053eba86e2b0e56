"""Compression meta-estimators: pruning, distillation and quantization.

One folder per family (:mod:`.pruning`, :mod:`.quantization`,
:mod:`.distillation`); the families never import each other.  Shared here:
``_base`` (the meta-estimators' base and fine-tuning), ``_graph`` (recording a
module's computation) and ``_dependency`` (which tensors must be cut
together; also used by ``skensemble.transfer``), ``_onnx`` (export).
"""

from ._export import to_onnx
from ._onnx import OnnxRuntimeModel
from ._skl2onnx import onnx_inputs
from .distillation import (
    DistillationLoss,
    DistilledClassifier,
    DistilledRegressor,
    MixupAugmenter,
    MungeAugmenter,
    NoiseAugmenter,
)
from .pruning import (
    Importance,
    MagnitudeImportance,
    PrunedClassifier,
    PrunedRegressor,
    RandomImportance,
    StructuralPruningError,
    TaylorImportance,
    count_params,
    find_groups,
    remove_units,
    sparsity_schedule,
)
from .quantization import Int8WeightOnlyLinear, QuantizedClassifier, QuantizedRegressor

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
    "onnx_inputs",
    "find_groups",
    "remove_units",
    "sparsity_schedule",
    "to_onnx",
]
