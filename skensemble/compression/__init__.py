"""Compression meta-estimators: pruning, distillation and quantization.

One folder per family (:mod:`.pruning`, :mod:`.quantization`,
:mod:`.distillation`); the families never import each other.  Their base is
``skensemble.meta`` (shared with fine-tuning), the module graph they cut along
is ``skensemble.graph`` and ONNX export is ``skensemble.export``.
"""

import warnings as _warnings
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
]

_MOVED_TO_EXPORT = ("OnnxRuntimeModel", "onnx_inputs", "to_onnx")


def __getattr__(name):
    """``to_onnx``, ``onnx_inputs`` and ``OnnxRuntimeModel`` moved to :mod:`skensemble.export` (0.2)."""
    if name in _MOVED_TO_EXPORT:
        _warnings.warn(f"skensemble.compression.{name} moved to skensemble.export.{name}; the old name "
                       "goes away in the next release.", FutureWarning, stacklevel=2)
        from .. import export

        return getattr(export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
