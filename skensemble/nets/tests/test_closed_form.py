"""The closed-form MLP step trains exactly as autograd does, and steps aside where it does not apply."""

import pickle
from unittest import mock

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, GradientNormClipping

from skensemble.nets import MLPNetClassifier, MLPNetRegressor, NetClassifier
from skensemble.nets._closed_form import ClosedFormMLP
from skensemble.nets._modules import MLPModule


@pytest.fixture(scope="module")
def clf_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 8)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    return X, y, rng.uniform(0.5, 2.0, size=len(y))


@pytest.fixture(scope="module")
def reg_data():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    Y = np.column_stack([X[:, 0] - 2 * X[:, 1], np.sin(X[:, 2])])
    return X, Y, rng.uniform(0.5, 2.0, size=len(X))


def _fit(est, X, y, closed_form, **fit_params):
    """Fit ``est``; count the closed-form steps, or turn the closed form off."""
    calls = []
    step = ClosedFormMLP.step

    def counting(self, *args):
        calls.append(1)
        return step(self, *args)

    if closed_form:
        with mock.patch.object(ClosedFormMLP, "step", counting):
            est.fit(X, y, **fit_params)
    else:
        with mock.patch.object(ClosedFormMLP, "plan", classmethod(lambda cls, net: None)):
            est.fit(X, y, **fit_params)
    return est, len(calls)


def _plan(module, device="cpu"):
    return ClosedFormMLP.plan(mock.Mock(module_=module, amp_dtype=None, criterion_=torch.nn.CrossEntropyLoss(),
                                        sample_weighted=False, l1=0.0, _criteria=["criterion"],
                                        _modules=["module"], device=device))


def _steps(n_rows, batch_size, epochs):
    return -(-n_rows // batch_size) * epochs


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity", "leaky_relu", "gelu", "silu"])
@pytest.mark.parametrize("weighted", [False, True])
def test_classifier_trains_as_with_autograd(clf_data, activation, weighted):
    X, y, w = clf_data
    fit_params = {"sample_weight": w} if weighted else {}
    make = lambda: MLPNetClassifier((16, 8), activation=activation, l1=1e-4, max_epochs=4,
                                    batch_size=64, random_state=0)
    closed, n_steps = _fit(make(), X, y, True, **fit_params)
    auto, _ = _fit(make(), X, y, False, **fit_params)
    assert n_steps == _steps(len(X), 64, 4)
    np.testing.assert_allclose(closed.predict_proba(X), auto.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(closed.history_[:, "train_loss"], auto.history_[:, "train_loss"], rtol=1e-5)


@pytest.mark.parametrize("multi_output", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_regressor_trains_as_with_autograd(reg_data, multi_output, weighted):
    X, Y, w = reg_data
    y = Y if multi_output else Y[:, 0]
    fit_params = {"sample_weight": w} if weighted else {}
    make = lambda: MLPNetRegressor((16,), activation="tanh", max_epochs=4, batch_size=50,
                                   random_state=0)
    closed, n_steps = _fit(make(), X, y, True, **fit_params)
    auto, _ = _fit(make(), X, y, False, **fit_params)
    assert n_steps == _steps(len(X), 50, 4)
    np.testing.assert_allclose(closed.predict(X), auto.predict(X), atol=1e-5)


def test_gradients_equal_autograd_on_one_batch():
    torch.manual_seed(0)
    module = MLPModule(6, 3, (5, 4), activation="gelu")
    X, y = torch.randn(7, 6), torch.tensor([0, 1, 2, 0, 1, 2, 2])
    loss = torch.nn.functional.cross_entropy(module(X), y)
    loss.backward()
    expected = [p.grad.clone() for p in module.parameters()]
    module.zero_grad(set_to_none=True)
    plan = _plan(module)
    closed_loss, _ = plan.step(X, y)
    assert closed_loss.item() == pytest.approx(loss.item(), rel=1e-6)
    for got, want in zip((p.grad for p in module.parameters()), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)


class Recorder(Callback):
    def initialize(self):
        self.grads = 0
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.grads += 1


@pytest.mark.parametrize("dropout", [0.2, 0.5])
def test_dropout_draws_the_masks_autograd_draws(clf_data, dropout):
    X, y, _ = clf_data
    make = lambda: MLPNetClassifier((16, 8), dropout=dropout, max_epochs=4, batch_size=64, random_state=0)
    closed, n_steps = _fit(make(), X, y, True)
    auto, _ = _fit(make(), X, y, False)
    assert n_steps == _steps(len(X), 64, 4)
    np.testing.assert_allclose(closed.predict_proba(X), auto.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(closed.history_[:, "train_loss"], auto.history_[:, "train_loss"], rtol=1e-5)


def test_only_seeded_dropout_takes_the_closed_form():
    """skensemble's dropout draws its masks as the closed form does, on any device; torch's own keeps autograd."""
    assert _plan(MLPModule(6, 3, (5,), dropout=0.1), "cuda") is not None
    assert _plan(MLPModule(6, 3, (5,), dropout=0.1)) is not None
    module = MLPModule(6, 3, (5,), dropout=0.1)
    module.layers[2] = torch.nn.Dropout(0.1)  # F.dropout's own kernel: other draws
    assert _plan(module) is None


@pytest.mark.parametrize("params", [
    {"batch_norm": True},
    {"amp": "bfloat16"},
    {"net_params": {"criterion__label_smoothing": 0.1}},
    {"net_params": {"criterion__weight": torch.ones(3)}},
    {"callbacks": [("clip", GradientNormClipping(1.0))]},
    {"callbacks": [("rec", Recorder())]},
    {"optimizer": torch.optim.LBFGS},
], ids=["batch_norm", "amp", "label_smoothing", "class_weight", "clipping", "grad_callback", "closure_optimizer"])
def test_autograd_is_kept_where_the_closed_form_does_not_apply(clf_data, params):
    X, y, _ = clf_data
    _, n_steps = _fit(MLPNetClassifier((8,), max_epochs=1, random_state=0, **params), X, y, True)
    assert n_steps == 0


def test_closed_form_steps_any_optimizer_without_a_closure(clf_data):
    """Every torch.optim optimizer but LBFGS steps on gradients computed first (Adagrad, say)."""
    X, y, _ = clf_data
    _, n_steps = _fit(MLPNetClassifier((8,), max_epochs=1, optimizer=torch.optim.Adagrad, random_state=0), X, y,
                      True)
    assert n_steps > 0


class Linear(torch.nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(n_features, n_outputs))

    def forward(self, X):
        return self.layers(X)


def test_autograd_is_kept_for_hooks_frozen_layers_and_other_modules(clf_data):
    X, y, _ = clf_data
    est = MLPNetClassifier((8,), max_epochs=1, random_state=0).fit(X, y)
    est.net_.module_.layers[0].register_forward_hook(lambda *args: None)
    assert _partial_fit(est, X, y) == 0

    est = MLPNetClassifier((8,), max_epochs=1, random_state=0).fit(X, y)
    est.net_.module_.layers[0].weight.requires_grad_(False)
    assert _partial_fit(est, X, y) == 0

    _, n_steps = _fit(NetClassifier(Linear, max_epochs=1, random_state=0), X, y, True)
    assert n_steps == 0

    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(lambda *args: seen.append(1))
    try:
        _, n_steps = _fit(MLPNetClassifier((8,), max_epochs=1, random_state=0), X, y, True)
    finally:
        handle.remove()
    assert n_steps == 0 and seen


def _partial_fit(est, X, y):
    calls = []
    step = ClosedFormMLP.step
    with mock.patch.object(ClosedFormMLP, "step", lambda self, *a: calls.append(1) or step(self, *a)):
        est.partial_fit(X, y)
    return len(calls)


def test_partial_fit_continues_with_the_closed_form(clf_data):
    X, y, _ = clf_data
    make = lambda: MLPNetClassifier((8,), max_epochs=2, batch_size=60, random_state=0)
    closed, _ = _fit(make(), X, y, True)
    auto, _ = _fit(make(), X, y, False)
    assert _partial_fit(closed, X, y) == _steps(len(X), 60, 1)
    with mock.patch.object(ClosedFormMLP, "plan", classmethod(lambda cls, net: None)):
        auto.partial_fit(X, y)
    np.testing.assert_allclose(closed.predict_proba(X), auto.predict_proba(X), atol=1e-5)


class PickleEachEpoch(Callback):
    def initialize(self):
        self.sizes = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.sizes.append(len(pickle.dumps(net)))  # as skorch's Checkpoint(f_pickle=...) does


def test_a_net_pickled_during_its_fit_leaves_the_fit_state_behind(clf_data):
    X, y, _ = clf_data
    est, n_steps = _fit(MLPNetClassifier((8,), max_epochs=2, batch_size=60, random_state=0,
                                         callbacks=[("pickle", PickleEachEpoch())]), X, y, True)
    assert n_steps == _steps(len(X), 60, 2)
    assert len(dict(est.net_.callbacks_)["pickle"].sizes) == 2
    restored = pickle.loads(pickle.dumps(est))
    assert "_fit_state" not in vars(restored.net_)
    np.testing.assert_allclose(restored.predict_proba(X), est.predict_proba(X))
