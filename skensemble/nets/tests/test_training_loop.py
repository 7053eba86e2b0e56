"""The lean training loop: the same training as skorch's, without paying for what is off."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, GradientNormClipping
from torch import nn

from skensemble.nets import MLPNetClassifier, NetClassifier
from skensemble.utils._random import torch_seed
from skensemble.utils._torch import eval_mode


class CountingCallback(Callback):
    def initialize(self):
        self.calls = {"on_batch_begin": 0, "on_batch_end": 0, "on_grad_computed": 0}
        return self

    def on_batch_begin(self, net, **kwargs):
        self.calls["on_batch_begin"] += 1

    def on_batch_end(self, net, **kwargs):
        self.calls["on_batch_end"] += 1


class GradCounter(CountingCallback):
    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.calls["on_grad_computed"] += 1
        assert all(p.grad is not None for _, p in named_parameters)


def _fit(data, **params):
    X, y = data
    return MLPNetClassifier((16,), max_epochs=3, batch_size=50, random_state=0, **params).fit(X, y)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_fused_adam_and_no_print_log_by_default(data):
    net = _fit(data).net_
    assert net.optimizer_.defaults["fused"] is True
    assert "print_log" not in dict(net.callbacks_)
    assert "print_log" in dict(_fit(data, verbose=1).net_.callbacks_)
    own = _fit(data, net_params={"optimizer__foreach": True}).net_.optimizer_.defaults
    assert own["foreach"] is True and not own["fused"]
    assert "fused" not in _fit(data, optimizer="sgd").net_.optimizer_.defaults or \
        not _fit(data, optimizer="sgd").net_.optimizer_.defaults["fused"]


def test_fused_adam_trains_like_the_loop_adam(data):
    fused = _fit(data)
    loop = _fit(data, net_params={"optimizer__fused": False})
    np.testing.assert_allclose(fused.predict_proba(data[0]), loop.predict_proba(data[0]), atol=1e-5)


@pytest.mark.parametrize("callback", [CountingCallback, GradCounter])
def test_every_overridden_hook_is_called_on_every_batch(data, callback):
    est = _fit(data, callbacks=[("count", callback())])
    calls = dict(est.net_.callbacks_)["count"].calls
    steps = 3 * 4  # 3 epochs of 4 batches
    assert calls["on_batch_begin"] == calls["on_batch_end"] == steps
    assert calls["on_grad_computed"] == (steps if callback is GradCounter else 0)


def test_gradient_clipping_still_clips(data):
    clipped = _fit(data, callbacks=[GradientNormClipping(gradient_clip_value=1e-6)], lr=0.1)
    free = _fit(data, lr=0.1)
    assert not np.allclose(clipped.predict_proba(data[0]), free.predict_proba(data[0]), atol=1e-3)


class CountsTrain(nn.Module):
    """A module with its own train(): it gets every call, as under skorch."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)
        self.train_calls = 0

    def train(self, mode=True):
        self.train_calls += 1
        return super().train(mode)

    def forward(self, X):
        return self.linear(X)


def test_a_module_with_its_own_train_gets_every_call(data):
    X, y = data
    est = NetClassifier(CountsTrain, max_epochs=2, batch_size=50, random_state=0).fit(X, y)
    assert est.module_.train_calls >= 2 * 4


def test_dropout_is_on_while_training_and_off_in_predict(data):
    X, y = data
    a = MLPNetClassifier((16,), dropout=0.5, max_epochs=2, random_state=0).fit(X, y)
    b = MLPNetClassifier((16,), dropout=0.0, max_epochs=2, random_state=0).fit(X, y)
    assert not np.allclose(a.predict_proba(X), b.predict_proba(X))  # dropout acted in training
    np.testing.assert_array_equal(a.predict_proba(X), a.predict_proba(X))  # and not in predict


def test_torch_seed_matches_manual_seed_and_restores_the_state():
    before = torch.get_rng_state()
    with torch_seed(123):
        ours = torch.rand(5)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.set_rng_state(before)
    assert torch.equal(ours, expected)


def test_prediction_batches_equal_skorchs_forward(data):
    """The array path of prediction gives skorch's ``net.forward`` outputs, over several batches too."""
    X, _ = data
    est = _fit(data, dropout=0.3)
    net = est.net_
    assert not any(m.training for m in net.module_.modules())  # training ends in eval mode, as skorch's does
    net.module_.train()
    logits = est.logits(X)
    assert all(m.training for m in net.module_.modules())  # prediction left the training flags as they were
    readonly = est._validate_X(X, reset=False).numpy()  # the module's (encoded) rows
    readonly.flags.writeable = False
    with eval_mode(net.module_):
        batched = est._forward_batches(net, readonly, 7).numpy()  # 200 rows in 29 batches
    expected = net.forward(readonly).numpy()  # skorch's path (it leaves the module in eval mode)
    # batches of other sizes round differently: logits near zero need an absolute tolerance too
    np.testing.assert_allclose(logits, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(batched, expected, rtol=1e-6, atol=1e-7)


def test_prediction_calls_the_module_directly_only_where_skorchs_infer_would(data, monkeypatch):
    """One CPU batch of a net in eval mode with skensemble's own ``infer``: the module is called directly, with
    skorch's outputs; an ``infer`` set on the net (a user's override) is called instead."""
    X, _ = data
    est = _fit(data)
    rows = est._validate_X(X, reset=False)
    with torch.inference_mode():
        expected = est.net_.infer(rows).numpy()
    np.testing.assert_array_equal(est.logits(X), expected)
    calls = []
    monkeypatch.setattr(est.net_, "infer", lambda x, **kw: calls.append(len(x)) or torch.zeros(len(x), 2))
    np.testing.assert_array_equal(est.logits(X), np.zeros((len(X), 2)))
    assert calls == [len(X)]
