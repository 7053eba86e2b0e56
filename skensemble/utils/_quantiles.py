"""Weighted quantiles whose integer weights equal repeated rows (the statistics of the table encoder and the bins)."""

import numpy as np


def weighted_quantiles(values, levels, weights=None):
    """Quantiles of ``values`` at ``levels`` (in [0, 1]) by the inverted CDF, NaN ignored.

    The quantile at level ``q`` is the smallest value whose cumulative weight
    reaches ``q`` times the total: always one of the values, and a row of
    weight 2 counts exactly as the same row twice (numpy's
    ``method="inverted_cdf"``, written here for every numpy the package
    admits).  Rows of weight 0 count as absent.  All values missing (or of
    weight 0): NaN at every level.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
    levels : array-like of shape (n_levels,)
    weights : array-like of shape (n_samples,), default=None
        Non-negative weights; ``None`` weighs rows equally.

    Returns
    -------
    quantiles : ndarray of shape (n_levels,)
    """
    values = np.asarray(values, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = ~np.isnan(values) & (weights > 0)
    values, weights = values[keep], weights[keep]
    if len(values) == 0:
        return np.full(levels.shape, np.nan)
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(weights[order])
    positions = np.searchsorted(cumulative, levels * cumulative[-1], side="left")
    return values[np.minimum(positions, len(values) - 1)]
