"""Model selection under cost: refit strategies that pick the cheapest model within a budget."""

from ._refit import CheapestWithin, cheapest_within

__all__ = ["CheapestWithin", "cheapest_within"]
