"""cheapest_within: the cheapest candidate within the score budget, and never nothing."""

import numpy as np
import pytest

from skensemble.model_selection import cheapest_within


def _results(scores, costs):
    return {"mean_test_accuracy": np.array(scores, dtype=float),
            "mean_test_latency": -np.array(costs, dtype=float)}


@pytest.mark.parametrize(
    "scores, costs, max_drop, relative, expected",
    [
        ([0.98, 0.975, 0.96, 0.90], [10, 4, 1, 0.5], 0.01, False, 1),  # within 1 point: the cheaper
        ([0.98, 0.975, 0.96, 0.90], [10, 4, 1, 0.5], 0.0, False, 0),   # no drop accepted: the best
        ([0.98, 0.975, 0.96, 0.90], [10, 4, 1, 0.5], 0.03, False, 2),
        ([0.98, 0.975, 0.96, 0.90], [10, 4, 1, 0.5], 0.03, True, 2),   # 3% of 0.98
        ([0.98, 0.975, 0.975], [10, 4, 4], 0.01, False, 1),             # a tie in cost: the better score
        ([0.98, np.nan, 0.975], [10, 1, 4], 0.01, False, 2),             # failed candidates are passed over
        ([0.98, 0.975], [np.nan, np.nan], 0.01, False, 0),               # no cost: the most accurate
        ([np.nan, np.nan], [1, 2], 0.01, False, 0),  # all failed: the first, whose refit raises the error
    ],
)
def test_choice(scores, costs, max_drop, relative, expected):
    refit = cheapest_within(max_drop, cost="latency", relative=relative)
    assert refit(_results(scores, costs)) == expected


def test_missing_names_are_explained():
    results = _results([0.9], [1])
    with pytest.raises(ValueError, match="no 'mean_test_flops'.*make_cost_scorer\\('flops'\\)"):
        cheapest_within(cost="flops")(results)
    results["mean_test_f1"] = np.array([0.5])
    with pytest.raises(ValueError, match="cannot tell the score"):
        cheapest_within()(results)
    assert cheapest_within(score="f1")(results) == 0
