"""Pruning: weights masked to zero, or neurons, channels and residual blocks physically removed.

Three concerns, in three kinds of module (as in Torch-Pruning): *what to
score* (``_importance``), *how much and when* (``_schedule``), *how to cut*
(``_pruner`` for masks and unit choice, ``_surgery`` for removing units
along the dependency analysis of ``compression._dependency``, ``_trimming``
for whole blocks, ``_members`` for the members of an ensemble net such as
TabM); ``_pruned`` holds the estimators.
"""

from ._importance import Importance, MagnitudeImportance, RandomImportance, TaylorImportance
from ._pruned import PrunedClassifier, PrunedRegressor
from ._schedule import sparsity_schedule
from ._surgery import StructuralPruningError, count_params, find_groups, remove_units

__all__ = [
    "Importance",
    "MagnitudeImportance",
    "PrunedClassifier",
    "PrunedRegressor",
    "RandomImportance",
    "StructuralPruningError",
    "TaylorImportance",
    "count_params",
    "find_groups",
    "remove_units",
    "sparsity_schedule",
]
