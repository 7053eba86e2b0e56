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
    return quantiles_of_sorted(*sorted_present(values, weights), levels)


def sorted_present(values, weights=None):
    """The values that count (not NaN, weight above 0), ascending, and their cumulative weights.

    What :func:`weighted_quantiles` reads: a caller that needs more than
    quantiles of a column (the table encoder's spikes) sorts it once.
    Equal weights sort without an index (``np.sort``; their cumulative
    weights are the counts 1, 2, ...).
    """
    values = np.asarray(values, dtype=np.float64)
    if weights is None:
        values = np.sort(values[~np.isnan(values)])
        return values, np.arange(1, len(values) + 1, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    keep = ~np.isnan(values) & (weights > 0)
    values, weights = values[keep], weights[keep]
    order = np.argsort(values, kind="stable")
    return values[order], np.cumsum(weights[order])


def quantiles_of_sorted(values, cumulative, levels):
    """:func:`weighted_quantiles` of what :func:`sorted_present` returned."""
    levels = np.asarray(levels, dtype=np.float64)
    if len(values) == 0:
        return np.full(levels.shape, np.nan)
    positions = np.searchsorted(cumulative, levels * cumulative[-1], side="left")
    return values[np.minimum(positions, len(values) - 1)]
