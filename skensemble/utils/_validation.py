"""Prediction-time input checks with a fast path for the input users pass most.

scikit-learn's ``validate_data(reset=False)`` costs about 40-80 us per call
(feature names are looked up through narwhals), as much as a small net's
forward pass at batch 1.  These helpers answer the common cases (a numeric
array of the right width for an estimator fitted without column names, a
DataFrame with exactly the fitted columns) themselves, and hand every other
case to ``validate_data``, so its errors and warnings stay scikit-learn's.
"""

import numpy as np
import pandas as pd

from .._compat.sklearn import validate_data


def _same_columns(estimator, X):
    """Whether ``X`` has the columns ``estimator`` was fitted on, by the fast test (False: not decided)."""
    names = getattr(estimator, "feature_names_in_", None)
    if isinstance(X, np.ndarray):
        return names is None and X.ndim == 2 and X.shape[1] == estimator.n_features_in_
    if isinstance(X, pd.DataFrame) and names is not None and X.shape[1] == len(names):
        return all(isinstance(a, str) and a == b for a, b in zip(X.columns, names))
    return False


def numeric_of_fitted_width(estimator, X):
    """Whether ``X`` is a 2-D numeric ndarray of the fitted width, fitted without column names.

    The batch users pass most: every table check (sparse, dimensions,
    complex values, column count and names) passes on it.
    """
    return type(X) is np.ndarray and X.dtype.kind in "fiub" and _same_columns(estimator, X)


def same_fitted_columns(estimator, X):
    """Whether ``X`` is a numeric array of the fitted width or a DataFrame of exactly the fitted columns."""
    return numeric_of_fitted_width(estimator, X) or (isinstance(X, pd.DataFrame) and _same_columns(estimator, X))


def check_columns(estimator, X):
    """Check a table's columns (count and names) against ``estimator``'s fit, as ``validate_data`` does.

    ``X`` is a DataFrame or a 2-D array already checked as a table; it is
    not converted.
    """
    if not _same_columns(estimator, X):
        validate_data(estimator, X, reset=False, skip_check_array=True)


def float32_rows(estimator, X, dtype=np.float32):
    """``validate_data(estimator, X, reset=False, dtype=dtype)``, with a fast path for numeric arrays.

    A 2-D numeric ndarray with the fitted width and only finite values is
    cast to ``dtype`` (no copy when it has it already; ``None`` keeps its
    dtype); anything else, and any array the fast path does not accept, goes
    through ``validate_data``.
    """
    if numeric_of_fitted_width(estimator, X) and X.shape[0] > 0:
        out = X if dtype is None else np.ascontiguousarray(X, dtype=dtype)  # C-ordered rows for the module
        if out.dtype.kind == "b" or np.count_nonzero(np.isfinite(out)) == out.size:  # no ufunc reduction (slow)
            return out
    return validate_data(estimator, X, reset=False, dtype=dtype)
