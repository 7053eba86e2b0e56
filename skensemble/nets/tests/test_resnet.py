"""The residual nets for tables compose with scikit-learn's tools."""

import pickle

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skensemble.nets import ResNetClassifier, ResNetRegressor


def test_resnet_in_pipeline_search_cross_validation_and_pickle():
    X, y = load_breast_cancer(return_X_y=True)
    labels = np.where(y == 1, "benign", "malignant")
    pipe = make_pipeline(StandardScaler(), ResNetClassifier(width=16, n_blocks=1, max_epochs=10,
                                                            random_state=0))
    search = GridSearchCV(pipe, {"resnetclassifier__n_blocks": [1, 2]}, cv=2, n_jobs=2).fit(X, labels)
    best = search.best_estimator_
    assert search.best_score_ > 0.9 and set(best.predict(X[:20])) <= {"benign", "malignant"}
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(best)).predict_proba(X), best.predict_proba(X))
    scores = cross_validate(pipe, X, labels, cv=3)["test_score"]
    # ResNet's defaults are unstable on small tables (folds of 0.79-0.96 over seeds, issue 29): the mean
    # carries the floor, each fold a lower one
    assert scores.mean() > 0.9 and np.all(scores > 0.85)
    np.testing.assert_array_equal(clone(pipe).fit(X, labels).predict_proba(X),
                                  clone(pipe).fit(X, labels).predict_proba(X))


def test_resnet_regressor_with_two_targets_and_blocks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 6))
    Y = np.column_stack([X[:, 0] * X[:, 1], np.sin(X[:, 2])]) * 100
    reg = ResNetRegressor(width=32, n_blocks=3, hidden_factor=1.5, max_epochs=60, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (400, 2) and reg.score(X, Y) > 0.8
    assert len(reg.module_.blocks) == 3 and reg.module_.blocks[0].linear1.out_features == 48
