"""Ensembles of nets and any scikit-learn classifiers or regressors, fitted in parallel."""

from ._cascade import CascadeClassifier
from ._deep import DeepEnsembleClassifier, DeepEnsembleRegressor
from ._selection import EnsembleSelectionClassifier, EnsembleSelectionRegressor
from ._stacking import StackingClassifier, StackingRegressor
from ._base import WorkerDiedError
from ._voting import VotingClassifier, VotingRegressor

__all__ = [
    "CascadeClassifier",
    "DeepEnsembleClassifier",
    "DeepEnsembleRegressor",
    "EnsembleSelectionClassifier",
    "EnsembleSelectionRegressor",
    "StackingClassifier",
    "StackingRegressor",
    "VotingClassifier",
    "VotingRegressor",
    "WorkerDiedError",
]
