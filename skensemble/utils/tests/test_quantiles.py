import numpy as np
import pytest

from skensemble.utils._quantiles import weighted_quantiles

LEVELS = np.linspace(0, 1, 11)


@pytest.mark.parametrize("seed", range(3))
def test_integer_weights_are_repeated_rows_and_equal_numpys_inverted_cdf(seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=40)
    values[rng.choice(40, 5, replace=False)] = np.nan
    weights = rng.integers(0, 4, size=40).astype(float)
    repeated = np.repeat(values, weights.astype(int))
    expected = np.nanquantile(repeated, LEVELS, method="inverted_cdf")
    np.testing.assert_array_equal(weighted_quantiles(values, LEVELS, weights), expected)
    np.testing.assert_array_equal(weighted_quantiles(repeated, LEVELS), expected)
    assert set(weighted_quantiles(values, LEVELS, weights)) <= set(values[weights > 0])


def test_zero_weights_are_absent_rows_and_nothing_left_is_nan():
    values = np.array([-100.0, 1.0, 2.0, 3.0, 100.0])
    weights = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(weighted_quantiles(values, [0, 0.5, 1], weights), [1.0, 2.0, 3.0])
    assert np.isnan(weighted_quantiles([np.nan, 1.0], [0.5], [1.0, 0.0])).all()
