"""Ensembles of nets and any scikit-learn classifiers, fitted in parallel."""

from ._cascade import CascadeClassifier
from ._selection import EnsembleSelectionClassifier
from ._stacking import StackingClassifier
from ._base import WorkerDiedError
from ._voting import VotingClassifier

__all__ = [
    "CascadeClassifier",
    "EnsembleSelectionClassifier",
    "StackingClassifier",
    "VotingClassifier",
    "WorkerDiedError",
]
