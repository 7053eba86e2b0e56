"""The one place where skensemble imports scikit-learn internals.

scikit-learn keeps some useful helpers in private modules.  Importing them
from a single module means that a change in scikit-learn breaks one file,
not the whole package.
"""

import numpy as np
from sklearn.base import _fit_context
from sklearn.ensemble._base import _BaseHeterogeneousEnsemble as BaseHeterogeneousEnsemble
from sklearn.ensemble._voting import _BaseVoting as BaseVoting
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils.metadata_routing import _raise_for_params as raise_for_params
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data


def check_sample_weight(sample_weight, X):
    """Validated float64 ``sample_weight`` (one non-negative weight per row, some positive).

    scikit-learn's check refuses a wrong shape, NaN and all-zero weights;
    negative weights are refused here with a message that names them.
    """
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if np.any(sample_weight < 0):
        raise ValueError("Negative values in sample_weight are not allowed.")
    return sample_weight


__all__ = [
    "BaseHeterogeneousEnsemble",
    "BaseSearchCV",
    "BaseVoting",
    "HasMethods",
    "Interval",
    "StrOptions",
    "_fit_context",
    "check_is_fitted",
    "check_sample_weight",
    "raise_for_params",
    "validate_data",
]
