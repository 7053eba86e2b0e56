"""A skorch user's habits work, or fail with a message that says what to do."""

import numpy as np
import pytest
import torch
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch.utils.data import DataLoader

from skensemble.nets import MLPNetClassifier, MLPNetRegressor


@pytest.fixture
def rows_129():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(129, 5))
    return X, (X[:, 0] > 0).astype(int)


def test_drop_last_is_honoured(rows_129):
    """129 rows, batches of 128: without drop_last batch norm would see a batch of one row."""
    X, y = rows_129
    net = MLPNetClassifier((8,), batch_norm=True, max_epochs=2, random_state=0,
                           net_params={"iterator_train__drop_last": True}).fit(X, y)
    assert [len(epoch["batches"]) for epoch in net.net_.history] == [1, 1]
    assert net.net_.history[-1]["batches"][0]["train_batch_size"] == 128
    # without it, the one-row last batch trains with the batch before it
    plain = MLPNetClassifier((8,), batch_norm=True, max_epochs=1, random_state=0).fit(X, y)
    assert [b["train_batch_size"] for b in plain.net_.history[-1]["batches"]] == [129]
    rows_130 = MLPNetClassifier((8,), max_epochs=1, random_state=0).fit(np.vstack([X, X[:1]]),
                                                                      np.append(y, y[0]))
    assert [b["train_batch_size"] for b in rows_130.net_.history[-1]["batches"]] == [128, 2]


def test_loader_arguments_and_a_users_dataloader_take_effect(rows_129):
    X, y = rows_129
    seen = []

    def collate(batch):
        seen.append(len(batch))
        return torch.utils.data.default_collate(batch)

    MLPNetClassifier((8,), max_epochs=1, random_state=0,
                     net_params={"iterator_train__collate_fn": collate}).fit(X, y)
    assert seen == [128, 1]  # a DataLoader served the batches, with the user's collate_fn
    net = MLPNetClassifier((8,), max_epochs=2, random_state=0,
                           net_params={"iterator_train": DataLoader, "iterator_valid": DataLoader}).fit(X, y)
    assert net.predict(X).shape == (129,)


def test_tensors_that_require_grad_are_accepted(rows_129):
    X, y = rows_129
    Xt = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    net = MLPNetClassifier((8,), max_epochs=2, random_state=0).fit(Xt, torch.as_tensor(y))
    np.testing.assert_array_equal(net.predict(Xt), net.predict(X))
    reg = MLPNetRegressor((8,), max_epochs=2, random_state=0).fit(Xt, torch.as_tensor(X[:, 0]))
    assert reg.predict(Xt).shape == (129,)


def test_early_stopping_callback_without_validation_data_says_what_to_do(rows_129):
    X, y = rows_129
    with pytest.raises(ValueError, match="monitors 'valid_loss'.*early_stopping=True"):
        MLPNetClassifier((8,), max_epochs=2, callbacks=[EarlyStopping()]).fit(X, y)
    # with a validation split, the user's callback works
    net = MLPNetClassifier((32,), max_epochs=300, lr=0.05, random_state=0,
                           callbacks=[EarlyStopping(patience=2)],
                           net_params={"train_split": ValidSplit(5)}).fit(X, y)
    assert "valid_loss" in net.history_[-1] and net.n_epochs_ < 300


def test_skorch_spelled_set_params(rows_129):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    X, y = rows_129
    es = EarlyStopping(patience=5)
    net = MLPNetClassifier((8,), optimizer="sgd", max_epochs=3, random_state=0,
                           callbacks=[("es", es)], early_stopping=True)
    net.set_params(optimizer__momentum=0.9, callbacks__es__patience=3, max_epochs=4)
    assert net.net_params == {"optimizer__momentum": 0.9} and net.max_epochs == 4
    assert net.callbacks[0][1].patience == 3 and es.patience == 5  # the user's callback is unchanged
    fitted = clone(net).fit(X, y)
    assert fitted.net_.optimizer_.param_groups[0]["momentum"] == 0.9
    search = GridSearchCV(MLPNetClassifier((8,), optimizer="sgd", max_epochs=2, random_state=0),
                          {"optimizer__momentum": [0.0, 0.9]}, cv=2).fit(X, y)
    assert search.best_estimator_.net_params["optimizer__momentum"] in (0.0, 0.9)
    with pytest.raises(ValueError, match="no callback named 'nope'.*\\['es'\\]"):
        net.set_params(callbacks__nope__patience=1)


def test_warm_start_is_refused_with_what_to_do(rows_129):
    X, y = rows_129
    with pytest.raises(ValueError, match="warm_start.*builds a fresh one.*partial_fit"):
        MLPNetClassifier((8,), max_epochs=1, net_params={"warm_start": True}).fit(X, y)


def test_partial_fit_trains_one_epoch_per_call_and_keeps_the_classes(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    labels = np.array(list("abcdefghij"))[y_train]
    net = MLPNetClassifier((32,), random_state=0)
    for start in range(0, 1200, 300):
        net.partial_fit(X_train[start:start + 300], labels[start:start + 300], classes=list("abcdefghij"))
    assert net.n_epochs_ == 4
    np.testing.assert_array_equal(net.classes_, list("abcdefghij"))
    for _ in range(20):
        net.partial_fit(X_train, labels)
    assert net.score(X_test, np.array(list("abcdefghij"))[y_test]) > 0.9
    with pytest.raises(ValueError, match="unseen labels"):
        net.partial_fit(X_train[:5], ["z"] * 5)
    with pytest.raises(ValueError, match="features"):
        net.partial_fit(X_train[:5, :10], labels[:5])
    with pytest.raises(ValueError, match=r"labels \['k'\] that are not in classes"):
        MLPNetClassifier().partial_fit(X_train[:5], ["k"] * 5, classes=["a", "b"])
    # the same calls give the same net
    again = MLPNetClassifier((32,), random_state=0)
    for start in range(0, 1200, 300):
        again.partial_fit(X_train[start:start + 300], labels[start:start + 300], classes=list("abcdefghij"))
    for _ in range(20):
        again.partial_fit(X_train, labels)
    np.testing.assert_array_equal(again.predict_proba(X_test), net.predict_proba(X_test))


def test_partial_fit_regressor_scales_targets_from_the_first_call():
    from sklearn.datasets import make_regression

    from skensemble.nets import MLPNetRegressor

    X, y = make_regression(600, 5, noise=1.0, random_state=0)
    y = y * 1000 + 5000
    reg = MLPNetRegressor((32,), lr=0.01, random_state=0)
    for _ in range(30):
        reg.partial_fit(X[:500], y[:500])
    assert reg.n_epochs_ == 30 and reg.score(X[500:], y[500:]) > 0.9
