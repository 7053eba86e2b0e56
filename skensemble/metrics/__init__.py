"""Cost metrics as scikit-learn scorers: latency, saved size, parameters and FLOPs."""

from ._cost import COSTS, CostScorer, make_cost_scorer

__all__ = ["COSTS", "CostScorer", "make_cost_scorer"]
