"""TabMClassifier / TabMRegressor and the numerical embeddings (issue 29)."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import skensemble
from skensemble.nets import TabMClassifier, TabMModule, TabMRegressor
from skensemble.nets._embeddings import quantile_bins
from skensemble.nets._tabm import MemberMeanLoss

_SMALL = dict(k=4, d_block=32, n_blocks=2, num_embeddings=None, max_epochs=30, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def fitted(cancer):
    Xa, _, ya, _ = cancer
    return {emb: TabMClassifier(**{**_SMALL, "num_embeddings": emb}).fit(Xa, ya)
            for emb in (None, "periodic", "piecewise_linear")}


@pytest.mark.parametrize("emb", [None, "periodic", "piecewise_linear"])
def test_accuracy_floor_on_breast_cancer(fitted, cancer, emb):
    _, Xb, _, yb = cancer
    assert fitted[emb].score(Xb, yb) >= 0.93


def test_module_returns_members_in_training_and_their_mean_probability_in_eval(fitted, cancer):
    est = fitted[None]
    X = torch.as_tensor(est._validate_X(cancer[1][:5], reset=False))  # the module's (encoded) rows
    module = est.module_
    members = module.members(X)
    assert members.shape == (5, 4, 2)
    with torch.no_grad():
        module.eval()
        ensemble = module(X)
        members = module.members(X)
    np.testing.assert_allclose(torch.softmax(ensemble, 1).numpy(),
                               torch.softmax(members, -1).mean(1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.predict_proba(cancer[1][:5]), torch.softmax(members, -1).mean(1).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_member_mean_loss_is_the_mean_of_the_members_losses():
    torch.manual_seed(0)
    pred, y = torch.randn(6, 3, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    per_member = [torch.nn.functional.cross_entropy(pred[:, i], y) for i in range(3)]
    assert torch.isclose(MemberMeanLoss()(pred, y), torch.stack(per_member).mean())
    rows = MemberMeanLoss(reduction="none")(pred, y)
    assert rows.shape == (6,) and torch.isclose(rows.mean(), torch.stack(per_member).mean())


def test_early_stopping_is_the_default_and_restores_the_best_epoch(fitted):
    est = fitted[None]
    assert est.early_stopping and est.n_epochs_ <= 30
    losses = [row["valid_loss"] for row in est.history_]
    assert "valid_loss" in est.history_[-1]
    if est.n_epochs_ < 30:  # stopped: the best epoch is n_iter_no_change before the end
        assert int(np.argmin(losses)) == len(losses) - 1 - est.n_iter_no_change


def test_piecewise_linear_bins_are_fitted_state_and_survive_save_load(fitted, cancer, tmp_path):
    est = fitted["piecewise_linear"]
    bins = est.num_embedding_bins_
    assert len(bins) == cancer[0].shape[1] and all(len(b) >= 2 and np.all(np.diff(b) > 0) for b in bins)
    assert not hasattr(fitted[None], "num_embedding_bins_")
    skensemble.save(est, tmp_path / "m.zip")
    loaded = skensemble.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.predict_proba(cancer[1]), est.predict_proba(cancer[1]))
    assert loaded.num_embedding_bins_ == bins
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(cancer[1]),
                                  est.predict_proba(cancer[1]))


def test_quantile_bins_handle_constant_and_few_valued_columns():
    X = np.column_stack([np.ones(50), np.tile([0.0, 1.0], 25), np.arange(50.0)])
    bins = quantile_bins(X, 8)
    assert bins[0] == [0.0, 2.0]
    assert bins[1] == [0.0, 1.0]  # edges are values of the column (inverted-CDF quantiles)
    assert len(bins[2]) == 9 and bins[2][0] == 0 and bins[2][-1] == 49


@pytest.mark.parametrize("arch_type", ["tabm", "tabm-mini", "tabm-packed"])
def test_arch_types_and_parameter_counts(arch_type):
    module = TabMModule(10, 3, k=4, arch_type=arch_type, n_blocks=2, d_block=16, dropout=0.0)
    n = sum(p.numel() for p in module.parameters())
    shared = 10 * 16 + 16 + 16 * 16 + 16  # weights and biases of the two hidden layers
    head = 4 * (16 * 3 + 3)  # one output layer per member
    expected = {
        "tabm": shared + head + 4 * (10 + 16 + 16 + 16) - 2 * 16 + 4 * 16,  # adapters r, s per layer; biases per member
        "tabm-mini": shared + head + 4 * 10,
        "tabm-packed": 4 * shared + head,
    }
    if arch_type == "tabm":
        adapters = sum(p.numel() for name, p in module.named_parameters() if name.endswith((".r", ".s")))
        assert adapters == 4 * (10 + 16 + 16 + 16)
    else:
        assert n == expected[arch_type]


def test_regressor_predicts_the_members_mean_with_their_spread():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    y = 100 * X[:, 0] - 30 * X[:, 1] ** 2 + 500
    reg = TabMRegressor(**_SMALL).fit(X, y)
    assert reg.score(X, y) > 0.9
    mean, std = reg.predict(X[:20], return_std=True)
    np.testing.assert_allclose(mean, reg.predict(X[:20]), rtol=1e-5)
    assert std.shape == (20,) and np.all(std > 0) and np.all(std < 100)
    members = reg._member_outputs(reg._validate_X(X[:20], reset=False))
    np.testing.assert_allclose(std, members.std(axis=1).ravel() * reg._y_scale, rtol=1e-6)
    two = TabMRegressor(**{**_SMALL, "max_epochs": 3}).fit(X, np.column_stack([y, -y]))
    m2, s2 = two.predict(X[:4], return_std=True)
    assert m2.shape == s2.shape == (4, 2)


def test_string_labels_sample_weight_and_partial_fit():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 4))
    y = np.where(X[:, 0] > 0, "yes", "no")
    est = TabMClassifier(**{**_SMALL, "max_epochs": 5, "early_stopping": False})
    base = est.fit(X, y).predict_proba(X)
    assert set(est.predict(X)) == {"yes", "no"}
    weighted = TabMClassifier(**{**_SMALL, "max_epochs": 5, "early_stopping": False}).fit(
        X, y, sample_weight=np.where(X[:, 1] > 0, 5.0, 0.2)).predict_proba(X)
    assert not np.allclose(base, weighted)
    inc = TabMClassifier(**_SMALL)
    for _ in range(6):
        inc.partial_fit(X, y, classes=["no", "yes"])
    assert inc.n_epochs_ == 6 and inc.score(X, y) > 0.85


def test_fits_in_threads_equal_fits_alone():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(150, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    params = {**_SMALL, "max_epochs": 4, "dropout": 0.2, "early_stopping": False}
    alone = [TabMClassifier(**{**params, "random_state": s}).fit(X, y).predict_proba(X) for s in range(2)]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda s: TabMClassifier(**{**params, "random_state": s}).fit(X, y).predict_proba(X),
                                 range(2)))
    for a, b in zip(alone, threaded):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(alone[0], alone[1])


def test_invalid_parameters_are_refused():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="arch_type"):
        TabMClassifier(arch_type="tabm-huge").fit(X, y)
    with pytest.raises(ValueError, match="num_embeddings"):
        TabMClassifier(num_embeddings="fourier").fit(X, y)
    with pytest.raises(ValueError, match="'k' parameter"):
        TabMClassifier(k=0).fit(X, y)


@pytest.mark.parametrize("kind", ["periodic", "piecewise_linear"])
def test_mlp_and_resnet_take_numerical_embeddings(cancer, kind):
    from skensemble.nets import MLPNetClassifier, ResNetRegressor

    Xa, Xb, ya, yb = cancer
    mlp = MLPNetClassifier((32,), num_embeddings=kind, d_embedding=4, n_bins=8, max_epochs=20,
                           random_state=0).fit(Xa, ya)
    first = mlp.module_.layers[0]
    assert type(first).__name__ == "NumEmbeddings" and mlp.module_.layers[1].in_features == 30 * 4
    assert mlp.score(Xb, yb) >= 0.93
    assert hasattr(mlp, "num_embedding_bins_") == (kind == "piecewise_linear")
    res = ResNetRegressor(width=16, n_blocks=1, num_embeddings=kind, d_embedding=4, n_bins=8, max_epochs=5,
                          random_state=0).fit(Xa, ya.astype(float))
    assert res.module_.first.in_features == 30 * 4


def test_refitting_without_embeddings_drops_the_bins(cancer):
    Xa, _, ya, _ = cancer
    est = TabMClassifier(**{**_SMALL, "max_epochs": 2, "num_embeddings": "piecewise_linear"}).fit(Xa, ya)
    assert hasattr(est, "num_embedding_bins_")
    est.set_params(num_embeddings=None).fit(Xa, ya)
    assert not hasattr(est, "num_embedding_bins_")


# --- the members' own training batches (share_training_batches=False) -------------------------------
def test_member_batches_give_each_member_every_row_once_in_its_own_order():
    from skorch.dataset import Dataset

    from skensemble.nets._loader import MemberBatchLoader
    from skensemble.utils._random import fit_generator

    X = np.arange(10, dtype=np.float32).reshape(-1, 1) * np.ones((1, 3), dtype=np.float32)
    y = np.arange(10)
    loader = MemberBatchLoader(Dataset(X, y), batch_size=4, k=3, shuffle=True)
    with fit_generator(0):
        batches = list(loader)
    assert [tuple(b[0].shape) for b in batches] == [(4, 3, 3), (4, 3, 3), (2, 3, 3)]
    rows = torch.cat([yb for _, yb in batches])  # (10, 3): member j's rows in column j
    for j in range(3):
        assert sorted(rows[:, j].tolist()) == list(range(10))  # every row once per epoch
    assert len({tuple(rows[:, j].tolist()) for j in range(3)}) == 3  # in three orders
    for Xb, yb in batches:  # X and y are the same rows
        np.testing.assert_array_equal(Xb[..., 0].numpy(), yb.numpy())
    with fit_generator(0):
        again = torch.cat([yb for _, yb in loader])
    assert torch.equal(again, rows)  # drawn from the fit's own generator
    shared = MemberBatchLoader(Dataset(X, y), batch_size=4, k=1, shuffle=True)
    with fit_generator(0):
        assert next(iter(shared))[0].shape == (4, 3)


def test_members_read_their_own_rows_and_the_loss_is_the_members_mean():
    module = TabMModule(5, 3, k=4, n_blocks=1, d_block=8, dropout=0.0,
                        embeddings={"kind": "periodic", "d_embedding": 4}).eval()
    X = torch.randn(6, 5)
    same = module.members(X[:, None, :].expand(6, 4, 5))
    torch.testing.assert_close(same, module.members(X))  # every member reading X: the shared path
    own = torch.randn(6, 4, 5)
    out = module.members(own)
    for j in range(4):  # member j's output on its rows is what it gives those rows in a shared batch
        torch.testing.assert_close(out[:, j], module.members(own[:, j])[:, j])
    target = torch.randint(0, 3, (6, 4))
    net = TabMClassifier(**_SMALL).fit(np.random.RandomState(0).normal(size=(40, 5)), np.arange(40) % 3).net_
    loss = net.get_loss(out, target, X=own, training=False)
    per_member = [torch.nn.functional.cross_entropy(out[:, j], target[:, j]) for j in range(4)]
    torch.testing.assert_close(loss, torch.stack(per_member).mean())


def test_own_batches_are_the_default_and_shared_ones_an_option(cancer, tmp_path):
    from skensemble.nets._loader import MemberBatchLoader, TensorLoader

    Xa, Xb, ya, yb = cancer
    own = TabMClassifier(**_SMALL).fit(Xa, ya)
    shared = TabMClassifier(**_SMALL, share_training_batches=True).fit(Xa, ya)
    assert own.net_.iterator_train is MemberBatchLoader and own.net_.iterator_train__k == 4
    assert shared.net_.iterator_train is TensorLoader and not hasattr(shared.net_, "iterator_train__k")
    assert own.score(Xb, yb) >= 0.93 and shared.score(Xb, yb) >= 0.93
    assert not np.allclose(own.predict_proba(Xb), shared.predict_proba(Xb))
    np.testing.assert_array_equal(TabMClassifier(**_SMALL).fit(Xa, ya).predict_proba(Xb), own.predict_proba(Xb))
    loaded = skensemble.load(skensemble.save(own, tmp_path / "own.zip"))
    assert loaded.share_training_batches is False
    np.testing.assert_array_equal(loaded.predict_proba(Xb), own.predict_proba(Xb))


def test_files_from_before_the_option_load_with_shared_batches():
    from skensemble.persistence._io import _add_new_parameters

    old = TabMClassifier(**_SMALL)
    del old.share_training_batches  # a file written before the parameter existed
    _add_new_parameters(old)
    assert old.share_training_batches is True  # what those nets trained with
