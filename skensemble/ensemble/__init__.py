"""Ensembles of nets and any scikit-learn classifiers or regressors, fitted in parallel."""

from ._cascade import CascadeClassifier
from ._selection import EnsembleSelectionClassifier, EnsembleSelectionRegressor
from ._stacking import StackingClassifier, StackingRegressor
from ._base import WorkerDiedError
from ._voting import VotingClassifier, VotingRegressor

__all__ = [
    "CascadeClassifier",
    "EnsembleSelectionClassifier",
    "EnsembleSelectionRegressor",
    "StackingClassifier",
    "StackingRegressor",
    "VotingClassifier",
    "VotingRegressor",
    "WorkerDiedError",
]
