"""Transfer learning: fine-tune a fitted net on a new task."""

from ._fine_tune import FineTunedClassifier, FineTunedRegressor

__all__ = ["FineTunedClassifier", "FineTunedRegressor"]
