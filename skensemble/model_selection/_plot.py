"""The Pareto plot of a compression search (drawn by the report package)."""

from ..report._search_report import plot_search


def plot_pareto(search, path=None):
    """Plot every candidate of a fitted :class:`CompressionSearchCV`: score against cost.

    The Pareto front (no candidate has a higher score and a lower cost) is
    drawn as a line, the chosen model is circled, and the budget (best score
    minus ``max_drop``) is a dashed line.  The same figure as
    ``compression_report(search).plot()``.  Needs matplotlib
    (``pip install skensemble[plot]``).

    Parameters
    ----------
    search : CompressionSearchCV
        A fitted search.
    path : str or path-like, default=None
        Where to save the figure as well.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    return plot_search(search, path)
