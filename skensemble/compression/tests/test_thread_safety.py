"""Compression patches nothing process-wide: nets train in other threads meanwhile.

torch.fx's tracer patches ``torch.nn.Module.__call__`` for the whole process;
a net training in another thread then fails inside the tracer.  Structured
pruning and static int8 quantization avoid it (``_graph`` records a forward
pass under a thread-local function mode; static int8 uses eager mode).
"""

import threading

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import cross_validate

from skensemble.compression import PrunedClassifier, QuantizedClassifier, find_groups
from skensemble.compression.quantization._torch_int8 import torch_static_int8
from skensemble.ensemble import StackingClassifier
from skensemble.nets import ConvNetClassifier, MLPNetClassifier
from skensemble.nets._modules import ConvModule, MLPModule


def test_mapping_and_static_int8_leave_other_threads_alone():
    busy = MLPModule(8, 3, (16,))
    x = torch.randn(4, 8)
    stop, errors, calls = threading.Event(), [], [0]

    def forward_loop():
        try:
            while not stop.is_set():
                with torch.no_grad():
                    busy(x)
                calls[0] += 1
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    worker = threading.Thread(target=forward_loop)
    worker.start()
    try:
        conv = ConvModule((1, 8, 8), 10, (4,), batch_norm=True)
        calibration = np.random.RandomState(0).normal(size=(64, 64)).astype(np.float32)
        for _ in range(10):
            groups, _ = find_groups(conv, torch.as_tensor(calibration[:2]))
            assert len(groups) == 2
            torch_static_int8(conv, calibration)
    finally:
        stop.set()
        worker.join()
    assert errors == [] and calls[0] > 0


def test_mapping_leaves_modes_and_statistics_unchanged():
    module = MLPModule(8, 3, (16,), batch_norm=True, dropout=0.5).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    find_groups(module, torch.randn(2, 8))
    assert all(m.training for m in module.modules())
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())


def _threaded_fits(X, y):
    tiny = {"max_epochs": 2, "random_state": 0}
    models = [
        PrunedClassifier(MLPNetClassifier((16,), **tiny), granularity="neuron", fine_tune_epochs=1),
        PrunedClassifier(ConvNetClassifier((1, 8, 8), channels=(4,), hidden_layer_sizes=(8,), **tiny),
                         granularity="neuron", fine_tune_epochs=1),
        QuantizedClassifier(MLPNetClassifier((16,), **tiny), method="static", backend="torch",
                            calibration_size=64),
        MLPNetClassifier((16,), **tiny),
    ] * 2
    return Parallel(n_jobs=4, backend="threading")(delayed(m.fit)(X, y) for m in models)


def test_concurrent_compression_fits_under_threads(digits_split):
    X_train, _, y_train, _ = digits_split
    fitted = _threaded_fits(X_train[:300], y_train[:300])
    assert len(fitted) == 8


@pytest.mark.slow
def test_twenty_rounds_of_concurrent_compression_fits(digits_split):
    X_train, _, y_train, _ = digits_split
    for _ in range(20):
        assert len(_threaded_fits(X_train[:300], y_train[:300])) == 8


def test_stacking_of_pruned_nets_cross_validates_with_threads(digits_split):
    X_train, _, y_train, _ = digits_split
    member = PrunedClassifier(MLPNetClassifier((32,), max_epochs=15, batch_size=32, lr=3e-3, random_state=0),
                              granularity="neuron", fine_tune_epochs=1, random_state=0)
    stack = StackingClassifier([("a", member), ("b", member)], cv=2, n_jobs=2)
    scores = cross_validate(stack, X_train[:400], y_train[:400], cv=2, n_jobs=2,
                            error_score="raise")["test_score"]
    assert np.all(scores > 0.5)
