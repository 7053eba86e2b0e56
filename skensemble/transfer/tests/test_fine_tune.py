"""Fine-tuning a pretrained net on a new task."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

import skensemble
from skensemble.compression import DistilledClassifier, PrunedClassifier
from skensemble.compression.tests.user_modules import TabularResNet
from skensemble.nets import MLPNetClassifier, NetClassifier
from skensemble.transfer import FineTunedClassifier, FineTunedRegressor
from skensemble.utils._access import get_net_estimator


@pytest.fixture(scope="module")
def tasks(digits_split):
    """Source: digits 0-4 (all rows); target: digits 5-9, 20 labelled rows per class."""
    X_train, X_test, y_train, y_test = digits_split
    src = y_train < 5
    rng = np.random.RandomState(0)
    target = np.concatenate([rng.choice(np.flatnonzero(y_train == c), 20, replace=False) for c in range(5, 10)])
    test = y_test >= 5
    return (X_train[src], y_train[src]), (X_train[target], y_train[target]), (X_test[test], y_test[test])


@pytest.fixture(scope="module")
def source(tasks):
    (X, y), _, _ = tasks
    return MLPNetClassifier((64, 32), batch_norm=True, max_epochs=30, random_state=0).fit(X, y)


def _state(module, names):
    return {k: v.clone() for name in names for k, v in module.get_submodule(name).state_dict().items()}


def test_head_replaced_and_frozen_layers_bit_identical(source, tasks):
    _, (X, y), (X_test, y_test) = tasks
    tuned = FineTunedClassifier(FrozenEstimator(source), freeze=["layers.0", "layers.1"], reinit=0,
                                body_lr_factor=0.1, random_state=0).fit(X, y)
    module = get_net_estimator(tuned).module_
    np.testing.assert_array_equal(tuned.classes_, [5, 6, 7, 8, 9])
    assert tuned.head_ == "layers.6" and module.layers[6].out_features == 5
    assert tuned.frozen_layers_ == ["layers.0", "layers.1"]
    before = _state(source.module_, tuned.frozen_layers_)  # weights and batch-norm statistics
    after = _state(module, tuned.frozen_layers_)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(module.layers[3].weight, source.module_.layers[3].weight)  # trained
    # the optimizer holds exactly the head (lr) and the free body layers (lr / 10)
    groups = get_net_estimator(tuned).net_.optimizer_.param_groups
    head = {id(p) for p in module.layers[6].parameters()}
    body = {id(p) for name in ("layers.3", "layers.4") for p in module.get_submodule(name).parameters()}
    assert [{id(p) for p in g["params"]} for g in groups] == [head, body]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-4])
    assert tuned.n_trainable_params_ == sum(len(p.reshape(-1)) for g in groups for p in g["params"])
    assert tuned.score(X_test, y_test) > 0.6
    assert len(source.classes_) == 5  # the user's net is untouched


def test_fit_leaves_the_pretrained_net_untouched(source, tasks):
    import joblib

    _, (X, y), _ = tasks
    before = joblib.hash(source)
    FineTunedClassifier(FrozenEstimator(source), freeze="none", max_epochs=2).fit(X, y)
    FineTunedClassifier(FrozenEstimator(source), input_layer="replace", max_epochs=2).fit(X[:, :9], y)
    assert joblib.hash(source) == before


def test_body_frozen_trains_the_head_only_and_gradual_unfreezing_thaws_from_the_top(source, tasks):
    _, (X, y), _ = tasks
    head_only = FineTunedClassifier(FrozenEstimator(source), freeze="body", reinit=0, random_state=0).fit(X, y)
    groups = get_net_estimator(head_only).net_.optimizer_.param_groups
    assert len(groups) == 1 and head_only.n_trainable_params_ == 32 * 5 + 5
    gradual = FineTunedClassifier(FrozenEstimator(source), freeze="body", reinit=0, unfreeze_every=10,
                                  max_epochs=20, random_state=0).fit(X, y)
    assert gradual.frozen_layers_ == ["layers.0", "layers.1"]  # the second stage thawed layers 3-4
    full = FineTunedClassifier(FrozenEstimator(source), freeze="body", reinit=0, unfreeze_every=5,
                               max_epochs=20, random_state=0).fit(X, y)
    assert full.frozen_layers_ == []


def test_reinit_resets_the_top_layers_and_trains_them_with_the_head(source, tasks):
    _, (X, y), _ = tasks
    tuned = FineTunedClassifier(FrozenEstimator(source), freeze="body", reinit=1, max_epochs=1,
                                random_state=0).fit(X, y)
    module = get_net_estimator(tuned).module_
    assert tuned.reinitialized_layers_ == ["layers.3", "layers.4"]  # the top hidden layer and its norm
    assert tuned.frozen_layers_ == ["layers.0", "layers.1"]
    assert torch.equal(module.layers[0].weight, source.module_.layers[0].weight)
    assert not torch.allclose(module.layers[3].weight, source.module_.layers[3].weight, atol=0.05)
    assert len(get_net_estimator(tuned).net_.optimizer_.param_groups) == 1  # new layers only, at lr
    named = FineTunedClassifier(FrozenEstimator(source), reinit=["layers.3"], max_epochs=1,
                                random_state=0).fit(X, y)
    assert named.reinitialized_layers_ == ["layers.3"]
    with pytest.raises(ValueError, match="reinit=3 exceeds the 2"):
        FineTunedClassifier(FrozenEstimator(source), reinit=3).fit(X, y)


def test_the_defaults_restart_the_top_layer_and_fine_tune_everything_at_one_rate(source, tasks):
    """freeze="none", reinit="auto", body_lr_factor=1.0: the recipe benchmarks/results/transfer.md supports."""
    _, (X, y), (X_test, y_test) = tasks
    tuned = FineTunedClassifier(FrozenEstimator(source), random_state=0).fit(X, y)
    assert tuned.reinitialized_layers_ == ["layers.3", "layers.4"] and tuned.frozen_layers_ == []
    module = get_net_estimator(tuned).module_
    assert tuned.n_trainable_params_ == sum(p.numel() for p in module.parameters())
    assert {g["lr"] for g in get_net_estimator(tuned).net_.optimizer_.param_groups} == {1e-3}
    assert tuned.score(X_test, y_test) > 0.6
    one_hidden = MLPNetClassifier((16,), max_epochs=5, random_state=0).fit(X, y)
    shallow = FineTunedClassifier(FrozenEstimator(one_hidden), max_epochs=2, random_state=0).fit(X, y)
    assert shallow.reinitialized_layers_ == []  # "auto" keeps the only pretrained layer


def test_gridsearch_over_freeze_and_composition(source, tasks):
    _, (X, y), (X_test, y_test) = tasks
    search = GridSearchCV(FineTunedClassifier(FrozenEstimator(source), max_epochs=20, random_state=0),
                          {"freeze": ["body", "none", ["layers.0"]]}, cv=2, n_jobs=2).fit(X, y)
    assert search.best_params_["freeze"] in ("body", "none", ["layers.0"])
    tuned = FineTunedClassifier(FrozenEstimator(source), freeze="none", max_epochs=20, random_state=0)
    pruned = PrunedClassifier(tuned, sparsity=0.5, granularity="neuron", random_state=0).fit(X, y)
    np.testing.assert_array_equal(pruned.classes_, [5, 6, 7, 8, 9])
    assert pruned.n_params_ < pruned.n_params_dense_
    student = DistilledClassifier(tuned, MLPNetClassifier((16,), max_epochs=20, random_state=0),
                                  augment_factor=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(student.classes_, [5, 6, 7, 8, 9])
    assert student.score(X_test, y_test) > 0.3  # 100 labelled rows: a weak teacher, a weaker student
    scores = cross_validate(tuned, X, y, cv=2)["test_score"]
    assert np.all(scores > 0.25)  # 50 rows per fold, five classes (chance: 0.2)
    fitted = clone(tuned).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict(X_test), fitted.predict(X_test))
    np.testing.assert_array_equal(clone(tuned).fit(X, y).predict_proba(X_test), fitted.predict_proba(X_test))


def test_other_features_get_a_fresh_input_layer(source, tasks):
    _, (X, y), (X_test, y_test) = tasks
    tuned = FineTunedClassifier(FrozenEstimator(source), input_layer="replace", freeze="body",
                                random_state=0).fit(X[:, :40], y)
    module = get_net_estimator(tuned).module_
    assert tuned.input_layer_ == "layers.0" and module.layers[0].in_features == 40
    assert tuned.frozen_layers_ == ["layers.3", "layers.4"]  # the new layer's batch norm learns
    assert torch.equal(module.layers[3].weight, source.module_.layers[3].weight)
    new = {id(p) for name in ("layers.0", "layers.1", "layers.6") for p in module.get_submodule(name).parameters()}
    assert [{id(p) for p in g["params"]} for g in get_net_estimator(tuned).net_.optimizer_.param_groups] == [new]
    assert tuned.score(X_test[:, :40], y_test) > 0.3


def test_sources_skorch_pipeline_and_regression(tasks, tmp_path):
    (Xs, ys), (X, y), (X_test, y_test) = tasks
    # a skorch net holding weights the user loaded
    net = NeuralNetClassifier(TabularResNet, module__n_features=64, module__n_outputs=5,
                              module__width=16, module__hidden=16, criterion=nn.CrossEntropyLoss,
                              max_epochs=5, train_split=None).fit(Xs.astype(np.float32), ys)
    net.save_params(f_params=tmp_path / "w.pt")
    loaded = NeuralNetClassifier(TabularResNet, module__n_features=64, module__n_outputs=5,
                                 module__width=16, module__hidden=16, criterion=nn.CrossEntropyLoss)
    loaded.initialize()
    loaded.load_params(f_params=tmp_path / "w.pt")
    tuned = FineTunedClassifier(loaded, freeze="body", reinit=0, random_state=0).fit(X, y)
    assert tuned.head_ == "head" and isinstance(tuned.estimator_, NetClassifier)
    torch.testing.assert_close(get_net_estimator(tuned).module_.first.weight, net.module_.first.weight)
    path = tmp_path / "tuned.zip"
    with pytest.warns(UserWarning, match="pretrained skorch net"):
        skensemble.save(tuned, path)
    restored = skensemble.load(path, trusted=[TabularResNet])
    np.testing.assert_array_equal(restored.predict_proba(X_test), tuned.predict_proba(X_test))
    # a pipeline keeps its fitted preprocessing
    pipe = make_pipeline(StandardScaler(), MLPNetClassifier((16,), max_epochs=10, random_state=0)).fit(Xs, ys)
    tuned = FineTunedClassifier(FrozenEstimator(pipe), freeze="none", random_state=0).fit(X, y)
    assert tuned.estimator_[0].mean_ is not pipe[0].mean_
    np.testing.assert_array_equal(tuned.estimator_[0].mean_, pipe[0].mean_)
    # regression from a classifier's features
    reg = FineTunedRegressor(FrozenEstimator(pipe), freeze="none", random_state=0).fit(X, y.astype(float))
    assert reg.predict(X_test).shape == (len(X_test),)
    assert reg.estimator_[-1].module_.layers[-1].out_features == 1


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda s: FineTunedClassifier(MLPNetClassifier()), "starts from a fitted net"),
        (lambda s: FineTunedClassifier(FrozenEstimator(LogisticRegression().fit([[0], [1]], [0, 1]))),
         "not a net"),
        (lambda s: FineTunedClassifier(FrozenEstimator(s), freeze=["nope"]), "'nope'.*its layers are"),
        (lambda s: FineTunedClassifier(FrozenEstimator(s), freeze=["layers.6"]), "head"),
        (lambda s: FineTunedClassifier(FrozenEstimator(s), head="layers.1"), "must be an nn.Linear"),
        (lambda s: FineTunedRegressor(FrozenEstimator(s)), None),
    ],
)
def test_clear_errors(source, tasks, make, match):
    _, (X, y), _ = tasks
    if match is None:  # fewer features than the pretraining saw
        with pytest.raises(ValueError, match="X has 10 features.*fitted on 64.*input_layer='replace'"):
            make(source).fit(X[:, :10], y.astype(float))
        return
    with pytest.raises((TypeError, ValueError), match=match):
        make(source).fit(X, y)


def test_a_raw_table_with_other_columns_gets_its_own_encoder(tmp_path):
    """input_layer='replace' on a table of other columns: a TableEncoder fitted on them feeds the fresh input layer."""
    import pandas as pd

    rng = np.random.default_rng(0)
    A = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    base = MLPNetClassifier((16,), max_epochs=10, lr=0.01, random_state=0).fit(A, (A.x > 0).astype(int))
    B = pd.DataFrame({"u": rng.normal(size=300), "w": rng.choice(["p", "q", None], 300), "z": rng.normal(size=300)})
    yb = np.where((B.u > 0) ^ (B.w == "p"), "yes", "no")
    ft = FineTunedClassifier(FrozenEstimator(base), input_layer="replace", max_epochs=30, lr=0.01,
                             random_state=0).fit(B, yb)
    encoder = ft.estimator_.named_steps["table"]
    assert list(encoder.feature_names_in_) == ["u", "w", "z"] and sorted(encoder.categories_[0]) == ["p", "q"]
    assert ft.input_layer_ is not None and ft.score(B, yb) >= 0.9
    np.testing.assert_array_equal(skensemble.load(skensemble.save(ft, tmp_path / "ft.zip")).predict_proba(B),
                                  ft.predict_proba(B))
    # the same columns keep the pretrained encoder; other columns with input_layer='keep' are refused by name
    kept = FineTunedClassifier(FrozenEstimator(base), max_epochs=2, random_state=0).fit(A, (A.x > 0).astype(int))
    np.testing.assert_array_equal(kept.estimator_.named_steps["table"].center_, base.table_encoder_.center_)
    with pytest.raises(ValueError, match="Feature names"):
        FineTunedClassifier(FrozenEstimator(base), max_epochs=2).fit(B, yb)


@pytest.mark.parametrize("kind", ["periodic", "piecewise_linear"])
def test_new_features_cannot_pass_numerical_embeddings(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    base = MLPNetClassifier((8,), num_embeddings=kind, d_embedding=4, max_epochs=2, random_state=0).fit(X, X[:, 0] > 0)
    with pytest.raises(ValueError, match=f"input_layer='replace'.*num_embeddings='{kind}'.*3 features"):
        FineTunedClassifier(FrozenEstimator(base), input_layer="replace", max_epochs=2).fit(
            rng.normal(size=(100, 5)), X[:, 0] > 0)
