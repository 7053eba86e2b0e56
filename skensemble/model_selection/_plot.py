"""The Pareto plot of a compression search: score against cost, the front, the choice and the budget."""

import numpy as np

from ..report import pareto_front


def plot_pareto(search, path=None):
    """Plot every candidate of a fitted :class:`CompressionSearchCV`: score against cost.

    The Pareto front (no candidate has a higher score and a lower cost) is
    drawn as a line, the chosen model is circled, and the budget (best score
    minus ``max_drop``) is a dashed line.  Needs matplotlib
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
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(search, "cv_results_")
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_pareto needs matplotlib: pip install 'skensemble[plot]'") from exc
    results = search.cv_results_
    score = np.asarray(results["mean_test_score"], float)
    cost = -np.asarray(results[f"mean_test_{search.objective}"], float)
    names = search.candidate_names_
    ok = ~(np.isnan(score) | np.isnan(cost))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(cost[ok], score[ok], color="tab:blue", zorder=3, label="candidates")
    for x, s, n in zip(cost[ok], score[ok], np.asarray(names, dtype=object)[ok]):
        ax.annotate(n, (x, s), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = sorted(np.flatnonzero(ok)[pareto_front(cost[ok], score[ok])], key=lambda i: cost[i])
    ax.plot(cost[front], score[front], "-", color="tab:red", zorder=2, label="Pareto front")
    best = search.best_index_
    ax.scatter([cost[best]], [score[best]], s=250, facecolors="none", edgecolors="black", zorder=4,
               label=f"chosen: {names[best]}")
    top = np.nanmax(score)
    budget = top - (abs(top) * search.max_drop if search.relative else search.max_drop)
    ax.axhline(budget, linestyle="--", color="gray", label=f"budget (max_drop={search.max_drop})")
    if np.all(cost[ok] > 0):
        ax.set_xscale("log")
    ax.set_xlabel(search.objective)
    ax.set_ylabel("mean cross-validated score")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
