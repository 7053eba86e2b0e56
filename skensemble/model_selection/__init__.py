"""Model selection under cost: the cheapest model within a score budget, cross-validated."""

from ._refit import CheapestWithin, cheapest_within
from ._plot import plot_pareto
from ._search import CompressionSearchCV, default_space

__all__ = ["CheapestWithin", "CompressionSearchCV", "cheapest_within", "default_space", "plot_pareto"]
