"""DistilledRegressor: any regressor as teacher, a small net as student."""

import numpy as np
import pytest
from sklearn.datasets import make_friedman1, make_regression
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skensemble.compression import DistilledRegressor
from skensemble.nets import MLPNetClassifier, MLPNetRegressor


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(1000, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.3, random_state=0)


def _student():
    return MLPNetRegressor((32,), max_epochs=30, lr=3e-3, batch_size=32, random_state=0)


def test_boosting_teacher_beats_training_on_y_alone(friedman):
    X_train, X_test, y_train, y_test = friedman
    alone = _student().fit(X_train, y_train).score(X_test, y_test)
    distilled = DistilledRegressor(HistGradientBoostingRegressor(random_state=0), _student(),
                                   augmentation="mixup", random_state=0).fit(X_train, y_train)
    assert distilled.score(X_test, y_test) >= alone  # measured: 0.938 against 0.909
    assert distilled.fidelity_ > 0.9
    assert distilled.n_transfer_samples_ == 5 * len(X_train)
    assert distilled.predict(X_test).shape == y_test.shape


def test_frozen_teacher_is_not_refitted_and_multi_output_works():
    X, y = make_regression(400, 6, n_targets=2, noise=1.0, random_state=0)
    forest = RandomForestRegressor(20, random_state=0).fit(X, y)
    before = forest.predict(X)
    distilled = DistilledRegressor(FrozenEstimator(forest), MLPNetRegressor((32,), max_epochs=40, lr=0.01),
                                   augment_factor=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(forest.predict(X), before)
    assert distilled.teacher_.estimator is forest
    assert distilled.predict(X).shape == (400, 2) and distilled.score(X, y) > 0.7


def test_alpha_one_follows_the_teacher_only():
    """With alpha=1 the true y is ignored: a teacher predicting a constant gives a flat student."""
    X, y = make_regression(300, 4, random_state=0)
    from sklearn.dummy import DummyRegressor

    flat = DistilledRegressor(DummyRegressor(), MLPNetRegressor((16,), max_epochs=30, lr=0.01),
                              alpha=1.0, augment_factor=1, random_state=0).fit(X, y)
    assert np.std(flat.predict(X)) < 0.05 * np.std(y)


def test_bad_teachers_students_and_targets_are_refused():
    X, y = make_regression(60, 4, random_state=0)
    with pytest.raises(ValueError, match="needs a regressor as teacher.*LogisticRegression"):
        DistilledRegressor(LogisticRegression()).fit(X, y > 0)
    with pytest.raises(ValueError, match="needs a regressor as student.*MLPNetClassifier"):
        DistilledRegressor(LinearRegression(), MLPNetClassifier()).fit(X, y)
    with pytest.raises(ValueError, match="teacher"):
        DistilledRegressor(object()).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        DistilledRegressor(LinearRegression()).fit(X, np.where(np.arange(60) == 5, np.nan, y))
