"""The table of a compression report: rows of measurements, printed, as markdown, HTML or pandas, plotted."""

import html

import numpy as np


def pareto_front(cost, score):
    """Indices of the points no other point beats on both lower cost and higher score."""
    cost, score = np.asarray(cost, float), np.asarray(score, float)
    front = []
    for i in range(len(cost)):
        dominated = np.any((cost <= cost[i]) & (score >= score[i]) & ((cost < cost[i]) | (score > score[i])))
        if not dominated:
            front.append(i)
    return front


class CompressionReport:
    """The result of :func:`compression_report`.

    Attributes
    ----------
    rows : list of dict
        One dict per model with the measured columns.
    columns : list of str
        Column names, in display order.
    reference : str
        Name of the reference model of the ratio columns.
    """

    def __init__(self, rows, columns, reference, batch_sizes, score_name="score"):
        self.rows = rows
        self.columns = columns
        self.reference = reference
        self.batch_sizes = tuple(batch_sizes)
        self.score_name = score_name

    def to_dict(self):
        """``{model name: {column: value}}``."""
        return {r["model"]: {c: r[c] for c in self.columns if c != "model"} for r in self.rows}

    def to_frame(self):
        """The table as a pandas DataFrame indexed by model name."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns).set_index("model")

    @staticmethod
    def _fmt(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
        if isinstance(value, (int, np.integer)):
            return f"{int(value):,}"
        return str(value)

    def _cells(self):
        return [[self._fmt(r[c]) for c in self.columns] for r in self.rows]

    def __str__(self):
        cells = self._cells()
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(self.columns)]
        line = lambda vals: "  ".join(v.rjust(w) if i else v.ljust(w)  # noqa: E731
                                      for i, (v, w) in enumerate(zip(vals, widths)))
        out = [line(self.columns), line(["-" * w for w in widths])]
        out += [line(row) for row in cells]
        out.append(f"(score = {self.score_name}; ratios relative to {self.reference!r}; "
                   "latency = median seconds per batch)")
        return "\n".join(out)

    def __repr__(self):
        return f"<CompressionReport of {len(self.rows)} models>\n{self}"

    def to_markdown(self):
        """The table in GitHub markdown."""
        cells = self._cells()
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)

    def _repr_html_(self):
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
            for row in self._cells()
        )
        return (f"<table class='skensemble-report'><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>"
                f"<p>Ratios relative to <b>{html.escape(self.reference)}</b>.</p>")

    def plot(self, path=None, *, latency_batch=None):
        """Accuracy against saved size and against latency, Pareto fronts marked.

        Needs matplotlib (``pip install skensemble[plot]``).  Returns the
        figure; with ``path`` it is also saved there.
        """
        try:
            import matplotlib

            if path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("plot() needs matplotlib: pip install 'skensemble[plot]'") from exc
        b = latency_batch or self.batch_sizes[-1]
        names = [r["model"] for r in self.rows]
        score = [r["score"] for r in self.rows]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, key, label in [(axes[0], "saved bytes", "saved size (bytes)"),
                               (axes[1], f"latency @{b}", f"predict latency, batch {b} (s)")]:
            cost = [r[key] for r in self.rows]
            ax.scatter(cost, score, color="tab:blue", zorder=3)
            for x, s, n in zip(cost, score, names):
                ax.annotate(n, (x, s), textcoords="offset points", xytext=(4, 4), fontsize=8)
            front = sorted(pareto_front(cost, score), key=lambda i: cost[i])
            ax.plot([cost[i] for i in front], [score[i] for i in front], "-o", color="tab:red",
                    label="Pareto front", zorder=2)
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(self.score_name)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="lower right")
        fig.suptitle("Compression report")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig
