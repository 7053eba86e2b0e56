"""Compression meta-estimators: pruning (and, as they land, distillation, quantization)."""

from ._importance import (
    Importance,
    MagnitudeImportance,
    RandomImportance,
    TaylorImportance,
)
from ._pruning import PrunedClassifier
from ._schedule import sparsity_schedule
from ._surgery import StructuralPruningError, count_params, find_groups, remove_units

__all__ = [
    "Importance",
    "MagnitudeImportance",
    "PrunedClassifier",
    "RandomImportance",
    "StructuralPruningError",
    "TaylorImportance",
    "count_params",
    "find_groups",
    "remove_units",
    "sparsity_schedule",
]
