"""Numerical feature embeddings (Gorishniy et al., 2022), from the authors' ``rtdl_num_embeddings``.

``num_embeddings="periodic"`` maps each numeric feature ``x`` to
``ReLU(Linear([cos(2 pi c x), sin(2 pi c x)]))`` with learned frequencies
``c`` (PLR, the "lite" variant that shares the linear layer across
features); ``"piecewise_linear"`` encodes ``x`` by where it falls among
quantile bins of the training rows (computed at ``fit``, fitted state of
the estimator) followed by a linear layer per feature (version "B", the
form TabM uses).  Either turns ``(batch, n_features)`` into ``(batch,
n_features * d_embedding)`` ahead of the first dense layer.
"""

import numbers
import warnings

import numpy as np
import torch
from torch import nn

from .._compat.sklearn import Interval, StrOptions
from ..utils._quantiles import weighted_quantiles

NUM_EMBEDDINGS = ("periodic", "piecewise_linear")

EMBEDDING_CONSTRAINTS = {
    "num_embeddings": [StrOptions(set(NUM_EMBEDDINGS)), None],
    "d_embedding": [Interval(numbers.Integral, 1, None, closed="left")],
    "n_bins": [Interval(numbers.Integral, 2, None, closed="left")],
    "preprocessing": [StrOptions({"auto", "always"}), None],
}


def quantile_bins(X, n_bins, sample_weight=None):
    """Per feature, the distinct quantiles of ``X``'s column at ``n_bins + 1`` levels (at least two edges).

    Quantiles by the inverted CDF (:func:`~skensemble.utils._quantiles.weighted_quantiles`):
    values of the column, weighted by ``sample_weight`` so that a row of
    weight 2 counts as the row twice.  A constant column gets the edges
    ``(c - 1, c + 1)``: its one value falls in the middle of one bin, which
    is all a constant can say.
    """
    X = np.asarray(X, dtype=np.float64)
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    for column in X.T:
        edges = np.unique(weighted_quantiles(column, levels, sample_weight).astype(np.float32))  # as float32
        if len(edges) < 2:
            edges = np.array([edges[0] - 1.0, edges[0] + 1.0], dtype=np.float32)
        bins.append([float(e) for e in edges])
    return bins


def make_num_embeddings(kind, n_features, d_embedding, bins=None):
    """The embedding module for ``kind`` (see the module docstring); its output is ``(batch, n_features, d)``."""
    import rtdl_num_embeddings

    if kind == "periodic":
        # frequencies drawn with sigma 0.1 (RealMLP's choice), not the package's 0.01: on encoded columns
        # (within +-3) 0.01 left an MLP at the majority class (breast cancer 62.7% in 3-fold CV after 100
        # epochs, 96.5% with 0.1; wine 96.6% / 97.2%; 2026-12-06)
        return rtdl_num_embeddings.PeriodicEmbeddings(n_features, d_embedding, frequency_init_scale=0.1, lite=True)
    if kind == "piecewise_linear":
        if bins is None or len(bins) != n_features:
            raise ValueError("piecewise_linear embeddings need one list of bin edges per feature, "
                             "computed from the training rows at fit.")
        edges = [torch.as_tensor(b, dtype=torch.float32) for b in bins]
        with warnings.catch_warnings():  # a constant column's one bin is intended (see quantile_bins)
            warnings.filterwarnings("ignore", message=".*has just two bin edges", category=UserWarning)
            return rtdl_num_embeddings.PiecewiseLinearEmbeddings(edges, d_embedding, activation=False,
                                                                 version="B")
    raise ValueError(f"Unknown num_embeddings {kind!r}; use one of {NUM_EMBEDDINGS} or None.")


class NumEmbeddings(nn.Module):
    """Numeric features to their embeddings, flattened: ``(batch, n_features) -> (batch, n_features * d)``.

    Parameters
    ----------
    kind : {"periodic", "piecewise_linear"}
        The embedding.
    n_features : int
        Numeric features.
    d_embedding : int
        Size of each feature's embedding.
    bins : list of list of float or None
        Bin edges per feature (``"piecewise_linear"``), from the training rows.
    """

    def __init__(self, kind, n_features, d_embedding, bins=None):
        super().__init__()
        self.kind, self.n_features, self.d_embedding = kind, n_features, d_embedding
        self.bins = None if bins is None else [list(map(float, b)) for b in bins]
        self.embeddings = make_num_embeddings(kind, n_features, d_embedding, self.bins)

    def forward(self, X):
        return self.embeddings(X).flatten(1)

    def extra_repr(self):
        return f"kind={self.kind!r}, n_features={self.n_features}, d_embedding={self.d_embedding}"


class NumEmbeddingsMixin:
    """Estimator side of ``num_embeddings``: bins from the training rows at ``fit`` (``num_embedding_bins_``).

    The tabular nets (MLP, ResNet, TabM) mix it in; they also take raw tables (``preprocessing``).
    """

    _takes_tables = True

    def _build(self, X, y, sample_weight=None, classes=None):
        if self.num_embeddings == "piecewise_linear":
            self.num_embedding_bins_ = quantile_bins(X, self.n_bins, sample_weight)
        elif hasattr(self, "num_embedding_bins_"):
            del self.num_embedding_bins_
        return super()._build(X, y, sample_weight, classes)

    def _embedding_spec(self):
        """The module keyword arguments of the embeddings (``None`` without them)."""
        if self.num_embeddings is None:
            return None
        return {"kind": self.num_embeddings, "d_embedding": int(self.d_embedding),
                "bins": getattr(self, "num_embedding_bins_", None)}
