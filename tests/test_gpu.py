"""CUDA paths: run with ``python -m pytest -m gpu`` on a machine with a GPU."""

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator

from skensemble.compression import PrunedClassifier, QuantizedClassifier
from skensemble.compression.pruning import TaylorImportance
from skensemble.nets import ConvNetClassifier, MLPNetClassifier

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture(scope="module")
def gpu_mlp(digits_split):
    X_train, _, y_train, _ = digits_split
    return MLPNetClassifier((256, 256), max_epochs=60, device="cuda", random_state=0).fit(X_train, y_train)


def test_fit_on_cuda_and_auto(gpu_mlp, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    assert next(gpu_mlp.module_.parameters()).is_cuda
    assert gpu_mlp.device_.startswith("cuda")
    assert gpu_mlp.score(X_test, y_test) >= 0.96
    auto = MLPNetClassifier((16,), max_epochs=2, device="auto").fit(X_train, y_train)
    assert auto.device_ == "cuda"
    with pytest.raises(ValueError, match="does not exist"):
        MLPNetClassifier(device=f"cuda:{torch.cuda.device_count()}").fit(X_train, y_train)


def test_cuda_fit_is_reproducible_and_leaves_rng(digits_split):
    X_train, X_test, y_train, _ = digits_split
    cuda_state = torch.cuda.get_rng_state()
    a = MLPNetClassifier((64,), max_epochs=5, device="cuda", random_state=0).fit(X_train, y_train)
    b = MLPNetClassifier((64,), max_epochs=5, device="cuda", random_state=0).fit(X_train, y_train)
    np.testing.assert_allclose(a.predict_proba(X_test), b.predict_proba(X_test), atol=1e-6)
    assert torch.equal(cuda_state, torch.cuda.get_rng_state())


def test_conv_on_cuda(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    conv = ConvNetClassifier((1, 8, 8), device="cuda", random_state=0).fit(X_train, y_train)
    assert conv.score(X_test, y_test) >= 0.97


def test_prune_on_cuda_keeps_device(gpu_mlp, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pruned = PrunedClassifier(FrozenEstimator(gpu_mlp), sparsity=0.5, granularity="neuron",
                              importance=TaylorImportance(), random_state=0).fit(X_train, y_train)
    assert all(p.is_cuda for p in pruned.estimator_.module_.parameters())
    assert pruned.n_params_ <= 0.3 * pruned.n_params_dense_
    assert pruned.score(X_test, y_test) >= gpu_mlp.score(X_test, y_test) - 0.015


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_serves_on_cuda(gpu_mlp, digits_split, dtype):
    X_train, X_test, y_train, y_test = digits_split
    q = QuantizedClassifier(FrozenEstimator(gpu_mlp), dtype=dtype).fit(X_train, y_train)
    assert next(q.quantized_module_.parameters()).is_cuda
    assert q.score(X_test, y_test) >= gpu_mlp.score(X_test, y_test) - 0.01


def test_int8_from_cuda_net_runs_on_cpu(gpu_mlp, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    q = QuantizedClassifier(FrozenEstimator(gpu_mlp)).fit(X_train, y_train)
    assert q.compression_ratio_ >= 3.5
    assert q.score(X_test, y_test) >= gpu_mlp.score(X_test, y_test) - 0.005


def test_parallel_ensemble_members_on_cuda(digits_split):
    from skensemble.ensemble import CascadeClassifier, VotingClassifier

    X_train, X_test, y_train, y_test = digits_split
    members = [(f"n{s}", MLPNetClassifier((64,), max_epochs=20, random_state=s)) for s in range(2)]
    n = torch.cuda.device_count()
    devices = [f"cuda:{i % n}" for i in range(2)]
    vote = VotingClassifier(members, voting="soft", n_jobs=2, devices=devices).fit(X_train, y_train)
    assert [m.device_ for m in vote.estimators_] == devices
    assert all(next(m.module_.parameters()).is_cuda for m in vote.estimators_)
    assert vote.score(X_test, y_test) > 0.95
    auto = CascadeClassifier(members, n_jobs=2, devices="auto").fit(X_train, y_train)
    assert all(m.device_.startswith("cuda") for m in auto.estimators_)
    # members stay as the user made them
    assert all(m.device == "cpu" for _, m in members)


def test_amp_on_cuda_uses_float16_with_loss_scaling(digits_split, monkeypatch):
    X_train, X_test, y_train, y_test = digits_split
    scaled = []
    original = torch.amp.GradScaler.step
    monkeypatch.setattr(torch.amp.GradScaler, "step",
                        lambda self, opt, *a, **k: scaled.append(1) or original(self, opt, *a, **k))
    net = MLPNetClassifier((256, 256), max_epochs=30, device="cuda", amp=True,
                           random_state=0).fit(X_train, y_train)
    assert net.net_.amp_dtype == torch.float16 and scaled
    assert next(net.module_.parameters()).dtype == torch.float32
    assert net.score(X_test, y_test) >= 0.96


def test_nested_nets_are_placed_on_cuda(digits_split):
    from sklearn.linear_model import LogisticRegression

    from skensemble.ensemble import CascadeClassifier, VotingClassifier

    X_train, X_test, y_train, y_test = digits_split
    cascade = CascadeClassifier([("lr", LogisticRegression(max_iter=2000)),
                                 ("net", MLPNetClassifier((64,), max_epochs=20, random_state=0))])
    vote = VotingClassifier([("c", cascade), ("lr", LogisticRegression(max_iter=2000))],
                            voting="soft", devices=["cuda:0", "cpu"]).fit(X_train, y_train)
    nested = vote.estimators_[0].named_estimators_.net
    assert nested.device_ == "cuda:0" and next(nested.module_.parameters()).is_cuda
    assert vote.score(X_test, y_test) > 0.9


def test_export_and_report_leave_a_cuda_module_on_its_device(gpu_mlp, digits_split, tmp_path):
    from skensemble.export import to_onnx
    from skensemble.report import compression_report

    _, X_test, _, y_test = digits_split
    module = gpu_mlp.module_
    module.train()
    to_onnx(gpu_mlp, tmp_path / "net.onnx")
    compression_report({"net": gpu_mlp}, X_test, y_test, batch_sizes=(8,), n_repeats=1)
    assert next(module.parameters()).is_cuda and all(m.training for m in module.modules())


def test_threaded_compression_fits_on_cuda(digits_split):
    from joblib import Parallel, delayed

    X_train, _, y_train, _ = digits_split
    tiny = {"max_epochs": 3, "device": "cuda", "random_state": 0}
    models = [PrunedClassifier(MLPNetClassifier((32,), **tiny), granularity="neuron", fine_tune_epochs=1),
              QuantizedClassifier(MLPNetClassifier((32,), **tiny), method="static", backend="torch"),
              MLPNetClassifier((32,), **tiny)] * 3
    fitted = Parallel(n_jobs=3, backend="threading")(delayed(m.fit)(X_train, y_train) for m in models)
    assert len(fitted) == 9


def test_cuda_model_round_trips_through_save(gpu_mlp, digits_split, tmp_path):
    import skensemble

    _, X_test, _, _ = digits_split
    pruned = PrunedClassifier(FrozenEstimator(gpu_mlp), sparsity=0.5, granularity="neuron",
                              fine_tune_epochs=1, random_state=0).fit(*digits_split[::2])
    loaded = skensemble.load(skensemble.save(pruned, tmp_path / "p.zip"))
    assert next(loaded.estimator_.module_.parameters()).is_cuda
    np.testing.assert_allclose(loaded.predict_proba(X_test), pruned.predict_proba(X_test), atol=1e-6)


def test_regressors_on_cuda():
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import HistGradientBoostingRegressor

    from skensemble.compression import DistilledRegressor, PrunedRegressor, QuantizedRegressor
    from skensemble.ensemble import VotingRegressor
    from skensemble.nets import MLPNetRegressor

    X, y = make_friedman1(2000, noise=1.0, random_state=0)
    net = MLPNetRegressor((256, 256), max_epochs=40, lr=3e-3, device="cuda", random_state=0).fit(X, y)
    assert net.score(X, y) > 0.9
    pruned = PrunedRegressor(FrozenEstimator(net), sparsity=0.5, granularity="neuron",
                             random_state=0).fit(X, y)
    assert all(p.is_cuda for p in pruned.estimator_.module_.parameters())
    assert pruned.score(X, y) >= net.score(X, y) - 0.02
    half = QuantizedRegressor(FrozenEstimator(net), dtype="float16").fit(X, y)
    assert next(half.quantized_module_.parameters()).is_cuda
    assert half.score(X, y) >= net.score(X, y) - 0.01
    distilled = DistilledRegressor(HistGradientBoostingRegressor(random_state=0),
                                   MLPNetRegressor((32,), max_epochs=20, lr=3e-3, device="cuda"),
                                   random_state=0).fit(X, y)
    assert distilled.student_.device_ == "cuda" and distilled.fidelity_ > 0.9
    vote = VotingRegressor([("a", MLPNetRegressor((32,), max_epochs=20, lr=3e-3, random_state=0)),
                            ("b", MLPNetRegressor((32,), max_epochs=20, lr=3e-3, random_state=1))],
                           devices=["cuda:0"], n_jobs=2).fit(X, np.c_[y, -y])
    assert all(m.device_ == "cuda:0" for m in vote.estimators_)
    assert vote.predict(X).shape == (2000, 2)


def test_fused_deep_ensemble_on_cuda(digits_split):
    """Fused members on CUDA: same accuracy as separate CUDA fits; without dropout the same nets."""
    from skensemble.ensemble import DeepEnsembleClassifier

    X_train, X_test, y_train, y_test = digits_split
    net = MLPNetClassifier((64,), max_epochs=10, device="cuda", random_state=0)
    fused = DeepEnsembleClassifier(net, n_estimators=3, fused=True, random_state=0).fit(X_train, y_train)
    separate = DeepEnsembleClassifier(net, n_estimators=3, fused=False, random_state=0).fit(X_train, y_train)
    assert all(m.module_.layers[0].weight.is_cuda for m in fused.estimators_)
    np.testing.assert_allclose(fused.predict_proba(X_test), separate.predict_proba(X_test), atol=1e-4)
    assert fused.score(X_test, y_test) > 0.95
