"""Measuring, exporting and predicting leave the user's objects as they were."""

import numpy as np
import pytest
import torch

from skensemble.export import to_onnx
from skensemble.nets import MLPNetClassifier
from skensemble.report import compression_report
from skensemble.report._metrics import predict_latency


@pytest.fixture
def net_in_train_mode(small_data):
    X, y = small_data
    est = MLPNetClassifier((8,), batch_norm=True, dropout=0.2, max_epochs=2, random_state=0).fit(X, y)
    est.module_.train()
    est.module_.layers[1].eval()  # a frozen batch norm inside a training module
    return est


def _modes(module):
    return [m.training for m in module.modules()]


def test_predict_restores_modes_and_batch_size(net_in_train_mode, small_data):
    X, _ = small_data
    modes = _modes(net_in_train_mode.module_)
    batch = net_in_train_mode.net_.get_params_for("iterator_valid")["batch_size"]
    first = net_in_train_mode.predict_proba(X)
    np.testing.assert_array_equal(net_in_train_mode.predict_proba(X), first)  # eval mode inside
    assert _modes(net_in_train_mode.module_) == modes
    assert net_in_train_mode.net_.get_params_for("iterator_valid")["batch_size"] == batch


def test_to_onnx_and_report_leave_the_module_alone(net_in_train_mode, small_data, tmp_path):
    pytest.importorskip("onnxruntime")
    X, y = small_data
    module = net_in_train_mode.module_
    modes, device = _modes(module), next(module.parameters()).device
    state = {k: v.clone() for k, v in module.state_dict().items()}
    to_onnx(net_in_train_mode, tmp_path / "net.onnx")
    compression_report({"net": net_in_train_mode}, X, y, batch_sizes=(4,), n_repeats=1)
    predict_latency(module, X, batch_size=4, n_repeats=1, warmup=0)
    assert _modes(module) == modes
    assert next(module.parameters()).device == device
    assert all(torch.equal(state[k], v) for k, v in module.state_dict().items())
