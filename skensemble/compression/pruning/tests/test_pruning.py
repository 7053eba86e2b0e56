import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from skensemble.compression import (
    MagnitudeImportance,
    PrunedClassifier,
    TaylorImportance,
    StructuralPruningError,
    count_params,
    find_groups,
    remove_units,
    sparsity_schedule,
)
from skensemble.nets import ConvNetClassifier, MLPNetClassifier


@pytest.fixture(scope="module")
def dense_score(digits_mlp_256, digits_split):
    _, X_test, _, y_test = digits_split
    return digits_mlp_256.score(X_test, y_test)


def test_neuron_pruning_of_unfitted_net_meets_acceptance(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    base = MLPNetClassifier(hidden_layer_sizes=(256, 256), random_state=0)
    dense = clone(base).fit(X_train, y_train)
    pruned = PrunedClassifier(base, sparsity=0.5, granularity="neuron", random_state=0).fit(X_train, y_train)
    module = pruned.estimator_.module_
    assert count_params(module) == pruned.n_params_ <= 0.30 * count_params(dense.module_)
    assert pruned.score(X_test, y_test) >= dense.score(X_test, y_test) - 0.015
    assert not hasattr(base, "net_")  # the user's estimator was cloned, not fitted


def test_weight_pruning_iterative(digits_mlp_256, digits_split, dense_score):
    X_train, X_test, y_train, y_test = digits_split
    pruned = PrunedClassifier(FrozenEstimator(digits_mlp_256), sparsity=0.9, n_steps=3, granularity="weight",
                              random_state=0).fit(X_train, y_train)
    assert pruned.sparsity_ >= 0.9
    assert pruned.score(X_test, y_test) >= dense_score - 0.015
    # masks are folded: a plain module, weights really zero
    module = pruned.estimator_.module_
    assert not any(name.endswith("_orig") for name, _ in module.named_parameters())
    assert not any(name.endswith("_mask") for name, _ in module.named_buffers())
    assert pruned.n_nonzero_params_ < 0.15 * pruned.n_params_dense_
    targets = [h["target_sparsity"] for h in pruned.history_]
    assert targets == pytest.approx(sparsity_schedule(0.9, 3)) and targets[-1] == pytest.approx(0.9)


def test_frozen_estimator_is_not_mutated(digits_mlp_256, digits_split):
    X_train, X_test, y_train, _ = digits_split
    before = digits_mlp_256.predict_proba(X_test)
    shapes = [p.shape for p in digits_mlp_256.module_.parameters()]
    PrunedClassifier(FrozenEstimator(digits_mlp_256), sparsity=0.75, granularity="neuron",
                     fine_tune_epochs=1, random_state=0).fit(X_train, y_train)
    assert [p.shape for p in digits_mlp_256.module_.parameters()] == shapes
    np.testing.assert_array_equal(digits_mlp_256.predict_proba(X_test), before)


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("importance", ["magnitude", "l2", TaylorImportance(), "random", MagnitudeImportance(2)])
def test_scopes_and_importances_keep_every_layer(digits_mlp_256, digits_split, scope, importance):
    X_train, _, y_train, _ = digits_split
    pruned = PrunedClassifier(FrozenEstimator(digits_mlp_256), sparsity=0.95, granularity="neuron",
                              scope=scope, importance=importance, fine_tune_epochs=0,
                              round_to=None, random_state=0).fit(X_train, y_train)
    linears = [m for m in pruned.estimator_.module_.modules() if isinstance(m, nn.Linear)]
    assert all(m.out_features >= 1 for m in linears)
    assert linears[-1].out_features == 10  # output layer untouched
    assert pruned.sparsity_ == pytest.approx(0.95, abs=0.01)
    if scope == "layer":
        assert [m.out_features for m in linears[:-1]] == [13, 13]


@pytest.mark.parametrize("sparsity, expected", [(0.5, [128, 128]), (0.97, [8, 8])])
def test_round_to_keeps_aligned_layer_sizes(digits_mlp_256, digits_split, sparsity, expected):
    X_train, _, y_train, _ = digits_split
    pruned = PrunedClassifier(FrozenEstimator(digits_mlp_256), sparsity=sparsity, granularity="neuron",
                              scope="layer", round_to=8, fine_tune_epochs=0,
                              random_state=0).fit(X_train, y_train)
    linears = [m for m in pruned.estimator_.module_.modules() if isinstance(m, nn.Linear)]
    # 0.97 would keep 8 units per layer: already a multiple; 0.95 keeps 13 -> 16
    assert [m.out_features for m in linears[:-1]] == expected
    pruned = PrunedClassifier(FrozenEstimator(digits_mlp_256), sparsity=0.95, granularity="neuron",
                              round_to=8, fine_tune_epochs=0, random_state=0).fit(X_train, y_train)
    sizes = [m.out_features for m in pruned.estimator_.module_.modules() if isinstance(m, nn.Linear)]
    assert all(n % 8 == 0 and n >= 8 for n in sizes[:-1]) and sizes[-1] == 10
    assert pruned.sparsity_ == pytest.approx(0.95, abs=8 / 512)


def test_taylor_is_no_longer_a_named_choice(digits_mlp_256, digits_split):
    """It lost to random unit scores (CHANGELOG, issue 41): the string is refused, the class still works."""
    X_train, _, y_train, _ = digits_split
    with pytest.raises(ValueError, match="importance"):
        PrunedClassifier(FrozenEstimator(digits_mlp_256), importance="taylor").fit(X_train, y_train)


def test_taylor_unit_score_is_the_square_of_the_summed_first_order_term(digits_mlp_256, digits_split):
    """Per batch, the sum of w * dL/dw over the unit's weights (row, bias, column), squared, then averaged."""
    X_train, _, y_train, _ = digits_split
    net = digits_mlp_256.net_
    X = np.asarray(digits_mlp_256._encode_checked(X_train[:128].astype(np.float32)))  # as the module sees it
    y = digits_mlp_256.classes_.searchsorted(y_train[:128])
    imp = TaylorImportance(batch_size=64).fit(net, X, y)
    module = net.module_
    groups = find_groups(module, torch.as_tensor(X[:2]))[0]
    expected = torch.zeros(256)
    for start in (0, 64):
        module.zero_grad()
        net.get_loss(module(torch.as_tensor(X[start:start + 64])), torch.as_tensor(y[start:start + 64]),
                     training=False).backward()
        W0, b0, W1 = module.layers[0].weight, module.layers[0].bias, module.layers[2].weight
        term = (W0 * W0.grad).sum(1) + b0 * b0.grad + (W1 * W1.grad).sum(0)
        expected += term.detach() ** 2 / 2
    module.zero_grad(set_to_none=True)
    torch.testing.assert_close(imp.unit_scores(groups[0], module), expected, rtol=1e-4, atol=1e-12)


def test_pruned_net_is_physically_smaller_and_exact(digits_mlp_256, digits_split):
    """Removing units whose outgoing weights are zero changes no prediction."""
    import copy

    _, X_test, _, _ = digits_split
    module = copy.deepcopy(digits_mlp_256.module_)
    x = torch.as_tensor(X_test, dtype=torch.float32)
    groups, blocked = find_groups(module, x[:2])
    assert [g.producer for g in groups] == ["layers.0", "layers.2"]
    assert blocked == {"layers.4": "it is the output layer"}
    keep = list(range(0, 256, 2))
    with torch.no_grad():
        drop = [i for i in range(256) if i not in keep]
        module.layers[2].weight[:, drop] = 0  # consumer ignores dropped units of layer 0
        expected = module(x)
    remove_units(module, groups[0], keep)
    assert module.layers[0].out_features == 128 and module.layers[2].in_features == 128
    torch.testing.assert_close(module(x), expected)


def test_conv_net_is_pruned_by_channels(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    conv = ConvNetClassifier((1, 8, 8), batch_norm=True, max_epochs=15, random_state=0)
    pruned = PrunedClassifier(conv, sparsity=0.5, granularity="neuron", fine_tune_epochs=10,
                              random_state=0).fit(X_train, y_train)
    layers = pruned.estimator_.module_.layers
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    norms = [m for m in layers if isinstance(m, nn.BatchNorm2d)]
    assert [c.out_channels for c in convs] == [n.num_features for n in norms]
    assert sum(c.out_channels for c in convs) < 48
    assert pruned.score(X_test, y_test) > 0.9


def test_unprunable_module_error_names_layer(small_data):
    from skorch import NeuralNetClassifier

    from ...tests.user_modules import ShiftedHidden

    X, y = small_data
    net = NeuralNetClassifier(ShiftedHidden, module__n_features=6, module__n_outputs=3,
                              criterion=nn.CrossEntropyLoss, max_epochs=2,
                              train_split=None).fit(X.astype(np.float32), y.astype(np.int64))
    before = [p.clone() for p in net.module_.parameters()]
    with pytest.raises(StructuralPruningError, match="'hidden'.*raw parameter"):
        PrunedClassifier(FrozenEstimator(net), granularity="neuron").fit(X.astype(np.float32), y)
    assert all(torch.equal(a, b) for a, b in zip(before, net.module_.parameters()))
    # weight pruning works on any module
    pruned = PrunedClassifier(FrozenEstimator(net), sparsity=0.5, fine_tune_epochs=1).fit(
        X.astype(np.float32), y)
    assert pruned.sparsity_ == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"sparsity": 1.0}, ValueError, "sparsity"),
        ({"sparsity": -0.1}, ValueError, "sparsity"),
        ({"granularity": "block"}, ValueError, "granularity"),
        ({"importance": "hessian"}, ValueError, "importance"),
    ],
)
def test_bad_parameters(small_data, params, error, match):
    X, y = small_data
    with pytest.raises(error, match=match):
        PrunedClassifier(MLPNetClassifier((4,), max_epochs=1), **params).fit(X, y)


def test_not_a_net_is_refused(small_data):
    X, y = small_data
    with pytest.raises(TypeError, match="prunes torch nets.*RandomForestClassifier"):
        PrunedClassifier(RandomForestClassifier()).fit(X, y)


def test_gridsearch_pipeline_and_pickle(digits_split):
    X_train, X_test, y_train, _ = digits_split
    pipe = Pipeline([("scale", StandardScaler()),
                     ("pruned", PrunedClassifier(MLPNetClassifier((32,), max_epochs=5, random_state=0),
                                                 granularity="neuron", fine_tune_epochs=1, random_state=0))])
    search = GridSearchCV(pipe, {"pruned__sparsity": [0.3, 0.6, 0.9]}, cv=2, n_jobs=2).fit(X_train, y_train)
    best = search.best_estimator_
    proba = best.predict_proba(X_test)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(best)).predict_proba(X_test), proba)
    refit = clone(best).fit(X_train, y_train)
    assert refit.predict(X_test).shape == (len(X_test),)


def test_nested_in_pipeline_frozen(digits_split):
    """A FrozenEstimator of a fitted Pipeline(scaler, net): fine-tuning sees scaled X."""
    X_train, X_test, y_train, y_test = digits_split
    pipe = Pipeline([("scale", StandardScaler()), ("net", MLPNetClassifier((64,), max_epochs=20, random_state=0))])
    pipe.fit(X_train, y_train)
    pruned = PrunedClassifier(FrozenEstimator(pipe), sparsity=0.5, granularity="neuron",
                              random_state=0).fit(X_train, y_train)
    assert pruned.score(X_test, y_test) > 0.93
    assert pruned.estimator_[-1].module_.layers[0].out_features == 32


def test_predictions_validate_once_and_equal_the_inner_net(digits_mlp_256, digits_split, monkeypatch):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, _ = digits_split
    pruned = PrunedClassifier(FrozenEstimator(digits_mlp_256), granularity="neuron",
                              fine_tune_epochs=0, random_state=0).fit(X_train, y_train)
    inner = pruned.estimator_
    expected = {m: getattr(inner, m)(X_test) for m in ("predict_proba", "predict_log_proba", "predict")}
    calls, encode = [], inner.table_encoder_.encode
    checks, validate_X, validate_raw = [], inner._validate_X, pruned._validate_raw
    monkeypatch.setattr(inner, "_validate_X", lambda *a, **k: checks.append("net") or validate_X(*a, **k))
    monkeypatch.setattr(pruned, "_validate_raw", lambda *a, **k: checks.append("wrapper") or validate_raw(*a, **k))
    monkeypatch.setattr(inner.table_encoder_, "encode", lambda *a, **k: calls.append(1) or encode(*a, **k))
    for method, values in expected.items():
        np.testing.assert_array_equal(getattr(pruned, method)(X_test), values)  # the net's own call
        np.testing.assert_array_equal(getattr(pruned, method)(X_test.tolist()), values)  # the wrapper's path
    assert checks == ["net", "wrapper"] * len(expected)  # one check per prediction, never two
    assert len(calls) == 2 * len(expected)  # one encoding per prediction
    medians = np.tile(inner.table_encoder_.center_, (2, 1))  # a missing value is the column's median
    np.testing.assert_array_equal(pruned.predict(np.full_like(X_test[:2], np.nan)), pruned.predict(medians))
    with pytest.raises(ValueError, match="64 features"):
        pruned.predict(X_test[:, :5])
    frame = pd.DataFrame(X_train, columns=[f"px{i}" for i in range(64)])
    named = PrunedClassifier(MLPNetClassifier((16,), max_epochs=2, random_state=0),
                             fine_tune_epochs=0).fit(frame, y_train)
    with pytest.warns(UserWarning, match="feature names"):
        named.predict(X_test)


def test_the_default_prunes_neurons_where_it_can(digits_mlp_256, digits_split):
    """granularity="auto": the default gives fewer parameters and a faster forward pass than the dense net."""
    X_train, X_test, y_train, y_test = digits_split
    pruned = PrunedClassifier(FrozenEstimator(digits_mlp_256), fine_tune_epochs=2, random_state=0).fit(
        X_train, y_train)
    assert pruned.granularity_ == "neuron"
    assert pruned.n_params_ < 0.35 * count_params(digits_mlp_256.module_)
    layers = [m for m in pruned.estimator_.module_.modules() if isinstance(m, torch.nn.Linear)]
    hidden = [m.out_features for m in layers][:2]  # global scope: half of the 512 hidden units, in 8s
    assert sum(hidden) == 256 and all(n % 8 == 0 for n in hidden)


def test_the_default_falls_back_to_weights_with_a_warning(digits_split):
    """A module whose hidden units cannot be cut (a raw parameter added to them) gets weight pruning, said so."""
    X_train, X_test, y_train, y_test = digits_split

    class Shifted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(64, 16)
            self.shift = torch.nn.Parameter(torch.zeros(16))
            self.out = torch.nn.Linear(16, 10)

        def forward(self, X):
            return self.out(torch.relu(self.hidden(X) + self.shift))

    from skensemble.nets import NetClassifier

    net = NetClassifier(Shifted, max_epochs=3, random_state=0)
    with pytest.warns(UserWarning, match="Cannot prune layer 'hidden'.*Pruning weights instead"):
        pruned = PrunedClassifier(net, fine_tune_epochs=1, random_state=0).fit(X_train, y_train)
    assert pruned.granularity_ == "weight"
    assert 0.45 <= pruned.sparsity_ <= 0.55 and pruned.n_params_ == pruned.n_params_dense_
