"""The one place where skensemble imports scikit-learn internals.

scikit-learn keeps some useful helpers in private modules.  Importing them
from a single module means that a change in scikit-learn breaks one file,
not the whole package.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_fit_context",
    "check_is_fitted",
    "validate_data",
    "validate_params",
]
