"""Pruning a TabM: members selected and cut, backbone units cut through the BatchEnsemble adapters."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import StandardScaler

import skensemble
from skensemble.compression import PrunedClassifier, PrunedRegressor, find_groups, remove_units
from skensemble.export import to_onnx
from skensemble.compression.pruning._members import keep_members, member_loss, select_members
from skensemble.nets import MLPNetClassifier, TabMClassifier, TabMRegressor


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="module")
def tabm(cancer):
    X, y = cancer
    return TabMClassifier(k=8, d_block=32, num_embeddings=None, max_epochs=15, random_state=0).fit(X, y)


def test_greedy_selection_differs_from_individual_scores():
    # members 0 and 1 are individually best but make the same error; member 2 corrects it
    y = np.array([0, 0, 1, 1])
    logit = lambda p: np.log(np.stack([1 - np.asarray(p), np.asarray(p)], -1))  # noqa: E731
    outputs = np.stack([logit([0.1, 0.1, 0.9, 0.4]), logit([0.1, 0.1, 0.9, 0.4]),
                        logit([0.4, 0.3, 0.6, 0.95]), logit([0.6, 0.6, 0.4, 0.4])], axis=1)
    own = [member_loss(outputs[:, [j]], y, True) for j in range(4)]
    assert np.argsort(own)[:2].tolist() == [0, 1]
    individual, _ = select_members(outputs, y, 2, "individual", True)
    greedy, losses = select_members(outputs, y, 2, "greedy", True)
    assert individual == [0, 1]
    assert greedy == [0, 2]
    assert losses[1] == pytest.approx(member_loss(outputs[:, [0, 2]], y, True))
    assert losses[1] < member_loss(outputs[:, [0, 1]], y, True)


def test_regression_selection_uses_the_mean_squared_error():
    y = np.array([[0.0], [1.0], [2.0]])
    outputs = np.stack([y + 0.5, y - 0.5, y + 0.1], axis=1)  # (3, 3, 1)
    greedy, losses = select_members(outputs, y, 2, "greedy", False)
    assert greedy == [2, 1]  # 2 is best alone; 1 cancels its bias better than 0
    assert losses[-1] == pytest.approx(((y + 0.1 + y - 0.5) / 2 - y).__pow__(2).mean())


@pytest.mark.parametrize("arch_type", ["tabm", "tabm-mini", "tabm-packed"])
def test_kept_members_compute_what_they_computed(cancer, arch_type):
    X, y = cancer
    net = TabMClassifier(k=6, d_block=16, arch_type=arch_type, num_embeddings="piecewise_linear",
                         max_epochs=2, random_state=0).fit(X, y)
    before = net._member_outputs(X)
    n_before = sum(p.numel() for p in net.module_.parameters())
    keep_members(net, [4, 1])
    np.testing.assert_allclose(net._member_outputs(X), before[:, [4, 1]], rtol=1e-5, atol=1e-6)
    assert net.k == 2 and net.module_.k == 2
    assert sum(p.numel() for p in net.module_.parameters()) < n_before


def test_member_pruning_is_physical_and_round_trips(cancer, tabm, tmp_path):
    X, y = cancer
    pruned = PrunedClassifier(FrozenEstimator(tabm), granularity="member", n_members=2, fine_tune_epochs=0,
                              random_state=0).fit(X, y)
    module = pruned.estimator_.module_
    blocks = module.model.backbone.blocks
    assert [b[0].r.shape[0] for b in blocks] == [2, 2, 2]
    assert module.model.output.weight.shape[0] == 2
    # parameters: shared weights stay, each member's r, s, bias and head go
    d, n_in, k = 32, X.shape[1], 8
    shared = d * n_in + 2 * d * d
    per_member = (n_in + d + d) + 2 * (d + d + d) + (d * 2 + 2)
    assert pruned.n_params_dense_ == shared + k * per_member
    assert pruned.n_params_ == shared + 2 * per_member
    assert pruned.granularity_ == "member" and pruned.sparsity_ == pytest.approx(0.75)
    # the kept members' mean probability is the prediction (no fine-tuning)
    members = tabm._member_outputs(tabm._validate_X(X, reset=False))[:, pruned.kept_members_]  # encoded rows
    p = np.exp(members - members.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(pruned.predict_proba(X), p.mean(1), atol=1e-5)
    assert pruned.score(X, y) > 0.9
    proba = pruned.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(pruned)).predict_proba(X), proba)
    skensemble.save(pruned, tmp_path / "m.zip")
    np.testing.assert_array_equal(skensemble.load(tmp_path / "m.zip").predict_proba(X), proba)


def test_members_are_scored_on_the_rows_early_stopping_held_out(cancer):
    X, y = cancer
    net = TabMClassifier(k=4, d_block=16, max_epochs=3, early_stopping=True, random_state=0).fit(X, y)
    from skensemble.compression.pruning._members import scoring_rows
    rows = scoring_rows(net.net_, X, net.encode_targets(y))
    assert len(rows) == int(np.ceil(0.1 * len(X)))
    _, valid = net.net_.get_split_datasets(X, net.encode_targets(y))
    np.testing.assert_array_equal(rows, valid.indices)


def test_member_pruning_of_a_regressor_keeps_return_std():
    X, y = make_regression(300, 5, noise=5, random_state=0)
    reg = TabMRegressor(k=6, d_block=16, max_epochs=50, random_state=0)
    pruned = PrunedRegressor(reg, granularity="member", sparsity=0.5, member_selection="individual",
                             random_state=0).fit(X, y)
    assert len(pruned.kept_members_) == 3 and pruned.estimator_.k == 3
    mean, std = pruned.estimator_.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == (5,) and np.all(std > 0)
    assert pruned.score(X, y) > 0.8


def test_member_pruning_refuses_a_net_without_members_before_fitting(cancer):
    X, y = cancer
    net = MLPNetClassifier((4,), max_epochs=200)
    with pytest.raises(ValueError, match=r"PrunedClassifier\(granularity='member'\) cannot prune "
                                         r"MLPNetClassifier: its net MLPNetClassifier has no ensemble members"):
        PrunedClassifier(net, granularity="member").fit(X, y)
    assert not hasattr(net, "net_")
    with pytest.raises(ValueError, match="n_members=9 exceeds the 8 members of TabMClassifier"):
        PrunedClassifier(FrozenEstimator(TabMClassifier(k=8, d_block=8, max_epochs=1).fit(X, y)),
                         granularity="member", n_members=9).fit(X, y)


@pytest.mark.parametrize("arch_type", ["tabm", "tabm-mini", "tabm-packed"])
def test_backbone_groups_cover_the_adapters(cancer, arch_type):
    X, _ = cancer
    net = TabMClassifier(k=3, d_block=8, n_blocks=2, arch_type=arch_type, max_epochs=1, random_state=0)
    net.fit(X, np.arange(len(X)) % 2)
    groups, blocked = find_groups(net.module_, torch.as_tensor(X[:2]))
    assert [g.producer for g in groups] == ["model.backbone.blocks.0.0", "model.backbone.blocks.1.0"]
    assert blocked == {"model.output": "it is the output layer"}
    names = {(e.name, e.dim) for e in groups[0].entries}
    if arch_type == "tabm":
        assert names == {("model.backbone.blocks.0.0.weight", 0), ("model.backbone.blocks.0.0.s", 1),
                         ("model.backbone.blocks.0.0.bias", 1), ("model.backbone.blocks.1.0.weight", 1),
                         ("model.backbone.blocks.1.0.r", 1)}
    elif arch_type == "tabm-packed":
        assert names == {("model.backbone.blocks.0.0.weight", 2), ("model.backbone.blocks.0.0.bias", 1),
                         ("model.backbone.blocks.1.0.weight", 1)}


@pytest.mark.parametrize("arch_type", ["tabm", "tabm-mini", "tabm-packed"])
def test_cutting_units_equals_silencing_them(cancer, arch_type):
    """Units whose output is zero contribute nothing after ReLU: cutting them changes no prediction."""
    X, y = cancer
    net = TabMClassifier(k=3, d_block=8, n_blocks=2, arch_type=arch_type, max_epochs=2, random_state=0).fit(X, y)
    module = net.module_.eval()
    Xt = torch.as_tensor(X)
    group = find_groups(module, Xt[:2])[0][0]
    drop = [1, 5, 6]
    with torch.no_grad():
        for entry in group.entries:
            if entry.name.startswith(group.producer + "."):  # the producer's own rows: silenced
                module.get_parameter(entry.name).index_fill_(entry.dim, entry.indices(drop), 0.0)
        silenced = module(Xt)
    remove_units(module, group, [u for u in range(8) if u not in drop])
    with torch.no_grad():
        np.testing.assert_allclose(module(Xt).numpy(), silenced.numpy(), rtol=1e-5, atol=1e-6)
    assert module.model.backbone.blocks[0][0].weight.shape[-1 if arch_type == "tabm-packed" else 0] == 5


def test_backbone_pruning_is_smaller_saves_and_exports(cancer, tabm, tmp_path):
    X, y = cancer
    pruned = PrunedClassifier(FrozenEstimator(tabm), sparsity=0.5, granularity="neuron", fine_tune_epochs=10,
                              random_state=0).fit(X, y)
    assert pruned.granularity_ == "neuron"
    assert [b[0].weight.shape[0] for b in pruned.estimator_.module_.model.backbone.blocks] == [16, 16, 16]
    assert pruned.n_params_ < 0.6 * pruned.n_params_dense_
    assert pruned.score(X, y) >= tabm.score(X, y) - 0.01 > 0.93
    proba = pruned.predict_proba(X)
    skensemble.save(pruned, tmp_path / "m.zip")
    np.testing.assert_array_equal(skensemble.load(tmp_path / "m.zip").predict_proba(X), proba)
    ort = pytest.importorskip("onnxruntime")
    to_onnx(pruned, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    logits = session.run(None, {session.get_inputs()[0].name: X})[0]
    p = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(1, keepdims=True), proba, atol=1e-5)


def test_member_pruning_in_threads_equals_one_after_the_other(cancer):
    """Fits in threads draw what they draw alone; the global generator is left as it was."""
    from concurrent.futures import ThreadPoolExecutor

    X, y = cancer

    def fit(seed):
        net = TabMClassifier(k=4, d_block=16, max_epochs=3, dropout=0.1, random_state=seed)
        return PrunedClassifier(net, granularity="member", n_members=2, fine_tune_epochs=1,
                                random_state=seed).fit(X, y).predict_proba(X)

    state = torch.random.get_rng_state()
    alone = [fit(seed) for seed in range(3)]
    with ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(fit, range(3)))
    for a, b in zip(alone, threaded):
        np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)
