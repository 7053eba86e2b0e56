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
