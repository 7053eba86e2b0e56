"""Distillation: any scikit-learn model as teacher, a small net as student.

``_distilled`` holds the classifier and the shared base, ``_regressor`` the
regressor, ``_loss`` the soft-target loss, ``_augment`` the transfer-set
augmenters.
"""

from ._augment import MixupAugmenter, MungeAugmenter, NoiseAugmenter
from ._distilled import DistilledClassifier
from ._loss import DistillationLoss
from ._regressor import DistilledRegressor

__all__ = [
    "DistillationLoss",
    "DistilledClassifier",
    "DistilledRegressor",
    "MixupAugmenter",
    "MungeAugmenter",
    "NoiseAugmenter",
]
