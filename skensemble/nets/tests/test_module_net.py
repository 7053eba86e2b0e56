"""NetClassifier and NetRegressor: any torch module with the nets' scikit-learn behaviour."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV
from torch import nn

import skensemble
from skensemble.compression import PrunedClassifier, QuantizedClassifier
from skensemble.nets import NetClassifier, NetRegressor


class ResidualMLP(nn.Module):
    """A user's residual tabular net: the sizes come in as n_features / n_outputs."""

    def __init__(self, n_features, n_outputs, width=64, n_blocks=2):
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.BatchNorm1d(width), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
            for _ in range(n_blocks))
        self.out = nn.Linear(width, n_outputs)

    def forward(self, X):
        h = self.inp(X)
        for block in self.blocks:
            h = h + block(h)
        return self.out(torch.relu(h))


class OtherNames(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                    nn.Linear(32, out_dim))

    def forward(self, X):
        return self.layers(X)


def chain(n_features, n_outputs, width=32):
    return nn.Sequential(nn.Linear(n_features, width), nn.ReLU(), nn.Linear(width, n_outputs))


@pytest.fixture(scope="module")
def residual(digits_split):
    X_train, _, y_train, _ = digits_split
    return NetClassifier(ResidualMLP, max_epochs=30, random_state=0).fit(X_train, y_train)


def test_a_users_residual_module_learns_digits(residual, digits_split):
    _, X_test, _, y_test = digits_split
    assert residual.score(X_test, y_test) >= 0.95
    assert residual.module_.inp.in_features == 64 and residual.module_.out.out_features == 10
    copy = pickle.loads(pickle.dumps(residual))
    np.testing.assert_array_equal(copy.predict_proba(X_test), residual.predict_proba(X_test))
    refit = clone(residual).fit(*digits_split[::2])
    np.testing.assert_array_equal(refit.predict_proba(X_test), residual.predict_proba(X_test))


def test_sizes_by_other_names_and_factories(small_data):
    X, y = small_data
    named = NetClassifier(OtherNames, module_params={"in_dim": 6, "out_dim": 3}, max_epochs=5,
                          random_state=0).fit(X, y)
    assert named.module_.layers[-1].out_features == 3
    factory = NetClassifier(chain, module_params={"width": 8}, max_epochs=5, random_state=0).fit(X, y)
    assert factory.module_[0].out_features == 8 and factory.predict(X).shape == (len(X),)
    search = GridSearchCV(NetClassifier(chain, max_epochs=5, random_state=0),
                          {"module_params": [{"width": 4}, {"width": 16}]}, cv=2).fit(X, y)
    assert search.best_params_["module_params"]["width"] in (4, 16)


def test_clear_errors_before_training(small_data):
    X, y = small_data
    with pytest.raises(TypeError, match="not an instance of Sequential"):
        NetClassifier(chain(6, 3)).fit(X, y)
    with pytest.raises(ValueError, match=r"returned \(2, 5\).*needs one output column per class: \(2, 3\)"):
        NetClassifier(chain, module_params={"n_outputs": 5}, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="returned tuple"):
        NetClassifier(TwoOutputs, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="module"):
        NetClassifier("not a module").fit(X, y)


class TwoOutputs(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.a = nn.Linear(n_features, n_outputs)

    def forward(self, X):
        return self.a(X), self.a(X)


def test_regressor_with_several_targets():
    X, y = make_regression(300, 6, n_targets=2, noise=0.5, random_state=0)
    reg = NetRegressor(ResidualMLP, module_params={"width": 32}, max_epochs=80, lr=3e-3,
                       random_state=0).fit(X, y * [1, 100])
    assert reg.predict(X).shape == (300, 2) and reg.score(X, y * [1, 100]) > 0.9


def test_compression_of_user_modules(residual, digits_split, small_data):
    X_train, X_test, y_train, y_test = digits_split
    # a chain of layers and a residual graph are pruned by neurons, or by weights
    plain = NetClassifier(chain, module_params={"width": 64}, max_epochs=20, random_state=0)
    pruned = PrunedClassifier(plain, sparsity=0.5, granularity="neuron", random_state=0).fit(X_train, y_train)
    assert pruned.estimator_.module_[0].out_features == 32 and pruned.score(X_test, y_test) > 0.9
    from sklearn.frozen import FrozenEstimator

    neurons = PrunedClassifier(FrozenEstimator(residual), granularity="neuron",
                               random_state=0).fit(X_train, y_train)
    assert neurons.n_params_ < 0.4 * neurons.n_params_dense_
    assert neurons.score(X_test, y_test) >= residual.score(X_test, y_test) - 0.03
    weights = PrunedClassifier(FrozenEstimator(residual), sparsity=0.5, fine_tune_epochs=2, granularity="weight",
                               random_state=0).fit(X_train, y_train)
    assert weights.score(X_test, y_test) >= residual.score(X_test, y_test) - 0.02
    q = QuantizedClassifier(FrozenEstimator(residual), backend="torch").fit(X_train, y_train)
    assert q.score(X_test, y_test) >= residual.score(X_test, y_test) - 0.01


def test_a_user_module_loads_only_when_trusted(residual, digits_split, tmp_path):
    from skensemble.persistence import UntrustedTypesError

    _, X_test, _, _ = digits_split
    path = tmp_path / "m.zip"
    skensemble.save(residual, path)
    with pytest.raises(UntrustedTypesError, match=r"test_module_net\.ResidualMLP.*trusted=\[\.\.\.\]"):
        skensemble.load(path)
    for trusted in ([ResidualMLP], [f"{__name__}.ResidualMLP"]):
        loaded = skensemble.load(path, trusted=trusted)
        np.testing.assert_array_equal(loaded.predict_proba(X_test), residual.predict_proba(X_test))
    factory = NetClassifier(chain, module_params={"width": 8}, max_epochs=1).fit(X_test, np.arange(len(X_test)) % 3)
    skensemble.save(factory, path)
    assert skensemble.load(path, trusted=[chain]).module_[0].out_features == 8


def test_a_module_defined_in_a_function_cannot_be_named_by_a_file(small_data, tmp_path):
    def local(n_features, n_outputs):
        return nn.Linear(n_features, n_outputs)

    X, y = small_data
    with pytest.raises(TypeError, match="defined inside a function"):
        skensemble.save(NetClassifier(local, max_epochs=1).fit(X, y), tmp_path / "m.zip")
