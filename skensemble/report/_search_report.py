"""The report of a compression search: every candidate's cross-validated score and cost, and its plot."""

import numpy as np

from ._table import CompressionReport, pareto_front

COST_UNITS = {"latency": "seconds per batch", "size": "saved bytes", "params": "parameters",
              "nonzero": "non-zero parameters", "flops": "FLOPs of one row"}


class SearchReport(CompressionReport):
    """:func:`compression_report` of a fitted ``CompressionSearchCV``: one row per candidate.

    The columns are the mean and standard deviation of the cross-validated
    score, the mean cost (``objective``; positive, lower is cheaper), the cost
    relative to the uncompressed candidate, the mean fit time, and whether
    the candidate is on the Pareto front and was chosen.  :meth:`plot` draws
    the Pareto plot (:func:`skensemble.model_selection.plot_pareto`).
    """

    def __init__(self, search):
        results, objective = search.cv_results_, search.objective
        names = list(search.candidate_names_)
        score = np.asarray(results["mean_test_score"], float)
        cost = -np.asarray(results[f"mean_test_{objective}"], float)
        reference = "uncompressed" if "uncompressed" in names else names[0]
        ref_cost = cost[names.index(reference)]
        front = set(_front(score, cost))
        rows = [{"model": name, "score": float(score[i]),
                 "score std": float(results["std_test_score"][i]), objective: float(cost[i]),
                 "cost ratio": float(cost[i] / ref_cost) if ref_cost else float("nan"),
                 "fit seconds": float(results["mean_fit_time"][i]),
                 "Pareto front": "yes" if i in front else "",
                 "chosen": "yes" if i == search.best_index_ else ""}
                for i, name in enumerate(names)]
        super().__init__(rows, list(rows[0]), reference, (search.batch_size,),
                         score_name="mean cross-validated score")
        self.search = search
        self.objective = objective

    def __str__(self):
        table = super().__str__().rsplit("\n", 1)[0]
        return (f"{table}\n(score = mean cross-validated score; {self.objective} in "
                f"{COST_UNITS[self.objective]}; cost ratio relative to {self.reference!r})")

    def plot(self, path=None):
        """The Pareto plot of the search (see :func:`plot_search`); needs matplotlib."""
        return plot_search(self.search, path)


def _front(score, cost):
    ok = ~(np.isnan(score) | np.isnan(cost))
    return np.flatnonzero(ok)[pareto_front(cost[ok], score[ok])]


def plot_search(search, path=None):
    """Plot every candidate of a fitted ``CompressionSearchCV``: score against cost.

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
        raise ImportError("the Pareto plot needs matplotlib: pip install 'skensemble[plot]'") from exc
    results = search.cv_results_
    score = np.asarray(results["mean_test_score"], float)
    cost = -np.asarray(results[f"mean_test_{search.objective}"], float)
    names = search.candidate_names_
    ok = ~(np.isnan(score) | np.isnan(cost))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(cost[ok], score[ok], color="tab:blue", zorder=3, label="candidates")
    for x, s, n in zip(cost[ok], score[ok], np.asarray(names, dtype=object)[ok]):
        ax.annotate(n, (x, s), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = sorted(_front(score, cost), key=lambda i: cost[i])
    ax.plot(cost[front], score[front], "-", color="tab:red", zorder=2, label="Pareto front")
    best = search.best_index_
    ax.scatter([cost[best]], [score[best]], s=250, facecolors="none", edgecolors="black", zorder=4,
               label=f"chosen: {names[best]}")
    top = np.nanmax(score)
    budget = top - (abs(top) * search.max_drop if search.relative else search.max_drop)
    ax.axhline(budget, linestyle="--", color="gray", label=f"budget (max_drop={search.max_drop})")
    if np.all(cost[ok] > 0):
        ax.set_xscale("log")
    ax.set_xlabel(f"{search.objective} ({COST_UNITS[search.objective]})")
    ax.set_ylabel("mean cross-validated score")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
