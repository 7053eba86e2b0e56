import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skensemble.compression import Int8WeightOnlyLinear, PrunedClassifier, QuantizedClassifier
from skensemble.compression.quantization import _quantized as _quantization
from skensemble.nets import ConvNetClassifier, MLPNetClassifier
from skensemble.utils._threads import available_cores


class ConvOnly(torch.nn.Module):
    """A module without any Linear layer."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 3, 6)

    def forward(self, X):
        return self.conv(X[:, None, :])[:, :, 0]


@pytest.fixture(scope="module")
def dense(digits_mlp_256, digits_split):
    _, X_test, _, y_test = digits_split
    return digits_mlp_256, digits_mlp_256.score(X_test, y_test)


def _quantize(dense_net, X, y, **kw):
    return QuantizedClassifier(FrozenEstimator(dense_net), random_state=0, **kw).fit(X, y)


def test_auto_backend_choice(dense, digits_split, monkeypatch):
    net, _ = dense
    X_train, _, y_train, _ = digits_split
    ort = _quantization.has_onnxruntime()
    assert _quantize(net, X_train, y_train).backend_ == ("onnxruntime" if ort else "torch-dynamic")
    static = _quantize(net, X_train, y_train, method="static").backend_
    assert static == ("onnxruntime-static" if ort else "torch-static")
    monkeypatch.setattr(_quantization, "has_onnxruntime", lambda: False)
    assert _quantize(net, X_train, y_train).backend_ == "torch-dynamic"
    assert _quantize(net, X_train, y_train, method="static").backend_ == "torch-static"


def test_int8_dynamic_is_4x_smaller_and_accurate(dense, digits_split):
    net, score = dense
    X_train, X_test, y_train, y_test = digits_split
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no backend warning reaches the user
        q = _quantize(net, X_train, y_train, backend="torch")
        q_score = q.score(X_test, y_test)
    assert q.backend_ == "torch-dynamic"
    assert q.compression_ratio_ >= 3.5
    assert q_score >= score - 0.005
    # predictions come from the int8 module, not the float one
    assert any("quantized" in type(m).__module__ for m in q.quantized_module_.modules())
    assert not np.array_equal(q.predict_proba(X_test), net.predict_proba(X_test))


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_int8_static_within_one_point(dense, digits_split, backend):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    net, score = dense
    X_train, X_test, y_train, y_test = digits_split
    q = _quantize(net, X_train, y_train, method="static", backend=backend)
    assert q.backend_ == f"{backend}-static"
    assert q.score(X_test, y_test) >= score - 0.01
    assert q.compression_ratio_ > 3
    assert not np.array_equal(q.predict_proba(X_test), net.predict_proba(X_test))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_halves_size(dense, digits_split, dtype):
    net, score = dense
    X_train, X_test, y_train, y_test = digits_split
    q = _quantize(net, X_train, y_train, dtype=dtype)
    assert q.compression_ratio_ == pytest.approx(2.0, rel=0.02)
    assert q.score(X_test, y_test) >= score - 0.01
    assert next(q.quantized_module_.parameters()).dtype == getattr(torch, dtype)


def test_weight_only_fallback_without_torch_ao(dense, digits_split, monkeypatch):
    net, score = dense
    X_train, X_test, y_train, y_test = digits_split
    monkeypatch.setattr(_quantization, "has_torch_ao", lambda: False)
    monkeypatch.setattr(_quantization, "has_onnxruntime", lambda: False)
    q = _quantize(net, X_train, y_train)
    assert q.backend_ == "weight-only"
    assert isinstance(q.quantized_module_.layers[0], Int8WeightOnlyLinear)
    assert q.quantized_module_.layers[0].weight_int8.dtype == torch.int8
    assert q.compression_ratio_ >= 3.5 and q.score(X_test, y_test) >= score - 0.005
    with pytest.raises(ValueError, match="backend='weight-only'"):
        _quantize(net, X_train, y_train, backend="torch")


def test_prune_then_quantize_is_smallest(dense, digits_split):
    net, score = dense
    X_train, X_test, y_train, y_test = digits_split
    pruned = PrunedClassifier(FrozenEstimator(net), sparsity=0.5, granularity="neuron", random_state=0)
    both = QuantizedClassifier(pruned).fit(X_train, y_train)
    quant_only = _quantize(net, X_train, y_train, backend=both.backend)
    prune_only_bytes = both.size_bytes_float_  # the pruned float module
    assert both.size_bytes_ < min(quant_only.size_bytes_, prune_only_bytes)
    assert both.score(X_test, y_test) >= score - 0.02


def test_conv_net_quantizes(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    conv = ConvNetClassifier((1, 8, 8), channels=(8, 16), max_epochs=15, random_state=0).fit(X_train, y_train)
    backends = ["torch"] + (["onnxruntime"] if _quantization.has_onnxruntime() else [])
    for method in ("dynamic", "static"):
        for backend in backends:
            q = _quantize(conv, X_train, y_train, method=method, backend=backend)
            assert q.score(X_test, y_test) >= conv.score(X_test, y_test) - 0.02
            assert q.size_bytes_ < q.size_bytes_float_
    if q.backend_ == "onnxruntime-static":  # static int8 runs the convolutions in int8 too
        import onnx

        ops = [n.op_type for n in onnx.load_from_string(q.quantized_module_.onnx_bytes).graph.node]
        assert ops.count("QLinearConv") == 2 and "Conv" not in ops


def test_round_trip_predicts_identically(dense, digits_split):
    net, _ = dense
    X_train, X_test, y_train, _ = digits_split
    for kw in ({"backend": "torch"}, {"method": "static"}, {"dtype": "float16"}, {}):
        q = _quantize(net, X_train, y_train, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clone = pickle.loads(pickle.dumps(q))
        np.testing.assert_array_equal(clone.predict_proba(X_test), q.predict_proba(X_test))


def test_calibration_with_fewer_samples_warns(dense, digits_split):
    net, _ = dense
    X_train, _, y_train, _ = digits_split
    with pytest.warns(UserWarning, match="calibration_size=5000 but only 1347"):
        _quantize(net, X_train, y_train, method="static", calibration_size=5000)


def test_bad_options(dense, digits_split, small_data):
    net, _ = dense
    X_train, _, y_train, _ = digits_split
    with pytest.raises(ValueError, match="weight-only"):
        _quantize(net, X_train, y_train, backend="weight-only", method="static")
    with pytest.raises(ValueError, match="dtype"):
        _quantize(net, X_train, y_train, dtype="int4")
    X, y = small_data
    with pytest.raises(TypeError, match="quantizes torch nets.*LogisticRegression"):
        QuantizedClassifier(LogisticRegression()).fit(X, y)
    from skorch import NeuralNetClassifier

    user = NeuralNetClassifier(ConvOnly, criterion=torch.nn.CrossEntropyLoss, max_epochs=1,
                               train_split=None).fit(X.astype(np.float32), y.astype(np.int64))
    with pytest.raises(ValueError, match="no Linear layer|has none"):
        QuantizedClassifier(FrozenEstimator(user)).fit(X.astype(np.float32), y)


def test_gridsearch_over_dtype_and_method(digits_split):
    X_train, _, y_train, _ = digits_split
    pipe = Pipeline([("scale", StandardScaler()),
                     ("q", QuantizedClassifier(MLPNetClassifier((32,), max_epochs=30, random_state=0),
                                               random_state=0))])
    grid = {"q__dtype": ["int8", "float16"], "q__method": ["dynamic", "static"]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X_train, y_train)
    assert search.cv_results_["mean_test_score"].min() > 0.85


def test_onnxruntime_backend_and_export(dense, digits_split, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from skensemble.export import OnnxRuntimeModel, to_onnx

    net, score = dense
    X_train, X_test, y_train, y_test = digits_split
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = _quantize(net, X_train, y_train, backend="onnxruntime")
    assert q.backend_ == "onnxruntime" and isinstance(q.quantized_module_, OnnxRuntimeModel)
    assert q.compression_ratio_ >= 3.5
    assert q.score(X_test, y_test) >= score - 0.005
    clone = pickle.loads(pickle.dumps(q))
    np.testing.assert_array_equal(clone.predict_proba(X_test), q.predict_proba(X_test))
    # to_onnx writes the int8 graph; for a float net, a graph equal to the module
    to_onnx(q, tmp_path / "q.onnx")
    # the file is the int8 graph and, ahead of it, the net's table encoder (two constants per column)
    assert 0 <= (tmp_path / "q.onnx").stat().st_size - q.size_bytes_ < 2048
    to_onnx(net, tmp_path / "f.onnx")
    session = ort.InferenceSession(str(tmp_path / "f.onnx"))
    logits = session.run(None, {"X": X_test.astype(np.float32)})[0]
    encoded = net._validate_X(X_test, reset=False)  # the graph encodes the raw rows as the net does
    np.testing.assert_allclose(logits, net.net_.forward(encoded).numpy(), atol=1e-4)
    static = _quantize(net, X_train, y_train, backend="onnxruntime", method="static")
    to_onnx(static, tmp_path / "s.onnx")
    ops = [n.op_type for n in __import__("onnx").load(str(tmp_path / "s.onnx")).graph.node]
    assert "QGemm" in ops and ops.count("Gemm") == 1  # int8 kernels; the output layer alone stays in float


@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_onnx_graphs_predict_in_target_units(tmp_path, n_targets):
    """Defect 7 of issue 26: a regressor's graph undoes the target standardisation, as predict does."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from sklearn.datasets import make_regression

    from skensemble.compression import PrunedRegressor, QuantizedRegressor
    from skensemble.export import to_onnx
    from skensemble.nets import MLPNetRegressor

    X, y = make_regression(200, 5, n_targets=n_targets, random_state=0)
    X, y = X.astype(np.float32), y + 100.0  # far from the standardised scale
    net = MLPNetRegressor((16,), max_epochs=30, random_state=0).fit(X, y)
    for est in (net, PrunedRegressor(FrozenEstimator(net), granularity="neuron", fine_tune_epochs=1,
                                     random_state=0).fit(X, y),
                QuantizedRegressor(FrozenEstimator(net), backend="onnxruntime", random_state=0).fit(X, y)):
        to_onnx(est, tmp_path / "r.onnx")
        session = ort.InferenceSession(str(tmp_path / "r.onnx"))
        assert [o.name for o in session.get_outputs()] == ["predictions"]
        out = session.run(None, {"X": X})[0]
        assert out.shape == y.shape
        np.testing.assert_allclose(out, est.predict(X), rtol=1e-5, atol=1e-4)


def test_float32_served_by_onnxruntime(dense, digits_split, tmp_path):
    """dtype='float32': the net's own weights through ONNX Runtime, same predictions, saved as a graph."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import skensemble
    from skensemble.compression import PrunedClassifier, QuantizedRegressor
    from skensemble.nets import MLPNetRegressor

    dense, _ = dense
    X_train, X_test, y_train, _ = digits_split
    served = QuantizedClassifier(FrozenEstimator(dense), dtype="float32").fit(X_train, y_train)
    assert served.backend_ == "onnxruntime-float32" and served.compression_ratio_ == 1
    np.testing.assert_allclose(served.predict_proba(X_test), dense.predict_proba(X_test), atol=1e-5)
    np.testing.assert_array_equal(served.predict(X_test), dense.predict(X_test))
    loaded = skensemble.load(skensemble.save(served, tmp_path / "f32.zip"))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), served.predict_proba(X_test))
    # small batches run on one thread, large ones on the pool: the same logits either way
    runtime, X32 = served.quantized_module_, dense._validate_X(X_test, reset=False)  # the module's (encoded) rows
    big = np.resize(X32, (runtime.one_thread_work // len(runtime.onnx_bytes) + 1, X32.shape[1]))
    rows = np.concatenate([runtime(X32[i:i + 1]) for i in range(20)])
    np.testing.assert_allclose(rows, runtime(big)[:20], atol=1e-5)
    np.testing.assert_allclose(rows, dense.net_.forward(X32[:20]).numpy(), atol=1e-5)
    assert set(runtime._sessions) == {1, available_cores()}
    copy = pickle.loads(pickle.dumps(runtime))
    assert copy._sessions == {} and copy.float_size == runtime.float_size
    pruned = PrunedClassifier(FrozenEstimator(dense), sparsity=0.5, granularity="neuron", fine_tune_epochs=1,
                              random_state=0).fit(X_train, y_train)
    served_pruned = QuantizedClassifier(FrozenEstimator(pruned), dtype="float32").fit(X_train, y_train)
    np.testing.assert_allclose(served_pruned.predict_proba(X_test), pruned.predict_proba(X_test), atol=1e-5)
    reg = MLPNetRegressor((16,), max_epochs=3, random_state=0).fit(X_train, y_train.astype(float))
    served_reg = QuantizedRegressor(FrozenEstimator(reg), dtype="float32").fit(X_train, y_train.astype(float))
    np.testing.assert_allclose(served_reg.predict(X_test), reg.predict(X_test), rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="dtype='float32' serves the float net through ONNX Runtime"):
        QuantizedClassifier(FrozenEstimator(dense), dtype="float32", backend="torch").fit(X_train, y_train)


def test_dtype_auto_and_half_precision_warnings(dense, digits_split, monkeypatch):
    """dtype='auto' picks int8 on a CPU; half precision without native support warns it will be slower."""
    dense, _ = dense
    X_train, X_test, y_train, y_test = digits_split
    auto = QuantizedClassifier(FrozenEstimator(dense), dtype="auto").fit(X_train, y_train)
    assert auto.dtype_ == "int8" and auto.compression_ratio_ > 3
    assert auto.score(X_test, y_test) > dense.score(X_test, y_test) - 0.02
    monkeypatch.setattr(_quantization, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(_quantization, "cpu_capability", lambda: "AVX2")
    with pytest.warns(UserWarning, match=r"dtype='bfloat16' on a CPU without native bfloat16 \(torch kernels AVX2\)"):
        QuantizedClassifier(FrozenEstimator(dense), dtype="bfloat16").fit(X_train, y_train)
    monkeypatch.setattr(_quantization, "cpu_has_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert QuantizedClassifier(FrozenEstimator(dense), dtype="bfloat16").fit(X_train, y_train).dtype_ == \
            "bfloat16"


@pytest.mark.parametrize("method", ["static", "dynamic"])
def test_pickled_torch_int8_conv_net_predicts(method):
    """Defect 8 of issue 26: torch's int8 conv layers do not survive pickle; the estimator does."""
    from sklearn.datasets import make_classification

    from skensemble.nets import ConvNetClassifier

    X, y = make_classification(120, 16, random_state=0)
    X = X.astype(np.float32)
    net = ConvNetClassifier((1, 16), channels=(4,), hidden_layer_sizes=(8,), max_epochs=3, random_state=0).fit(X, y)
    q = QuantizedClassifier(FrozenEstimator(net), backend="torch", method=method, calibration_size=100,
                            random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(q))
    np.testing.assert_array_equal(clone.predict_proba(X), q.predict_proba(X))
    assert type(clone.quantized_module_) is type(q.quantized_module_)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clone)).predict(X), q.predict(X))


@pytest.mark.parametrize("num_embeddings", [None, "piecewise_linear"])
def test_onnxruntime_int8_tabm_file_keeps_no_float_copy(tmp_path, num_embeddings):
    """The saved int8 TabM holds its graph and no float copy of the weights it can read back from it."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import zipfile

    import skensemble
    from sklearn.datasets import load_breast_cancer

    from skensemble.nets import TabMClassifier

    X, y = load_breast_cancer(return_X_y=True)
    net = TabMClassifier(k=4, d_block=64, max_epochs=5, num_embeddings=num_embeddings, random_state=0).fit(X, y)
    q = QuantizedClassifier(FrozenEstimator(net), backend="onnxruntime", random_state=0).fit(X, y)
    float_file = skensemble.save(net, tmp_path / "float.zip")
    q_file = skensemble.save(q, tmp_path / "q.zip")
    with zipfile.ZipFile(q_file) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    graph = sum(size for name, size in sizes.items() if name.startswith("onnx/"))
    assert sizes.get("tensors.safetensors", 0) < 0.05 * graph  # no float weights beside the graph
    assert q_file.stat().st_size < float_file.stat().st_size
    loaded = skensemble.load(q_file)
    np.testing.assert_array_equal(loaded.predict_proba(X), q.predict_proba(X))
    # the float net inside comes back from the graph (int8-rounded weights): it predicts as the float net does
    # on nearly every row (a net left at its initial weights agrees on about half of them)
    assert np.mean(loaded.estimator_.predict(X) == net.predict(X)) >= 0.95


# --- static int8 of regressors and residual nets (issue 41) ------------------------------------------------
@pytest.fixture(scope="module")
def diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(return_X_y=True)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "tanh", "logistic", "silu", "identity"])
def test_static_int8_regressors_stay_within_a_tenth_of_a_standard_deviation(diabetes, activation):
    """Each activation the nets offer, both backends: the largest difference from the float net under 0.1 std."""
    from skensemble.compression import QuantizedRegressor
    from skensemble.nets import MLPNetRegressor

    X, y = diabetes
    net = MLPNetRegressor((32, 32), activation=activation, max_epochs=60, random_state=0).fit(X, y)
    backends = ["torch"] + (["onnxruntime"] if _quantization.has_onnxruntime() else [])
    for backend in backends:
        q = QuantizedRegressor(FrozenEstimator(net), method="static", backend=backend, random_state=0).fit(X, y)
        assert q.backend_ == f"{backend}-static"
        assert np.abs(q.predict(X) - net.predict(X)).max() < 0.1 * y.std(), backend


def test_static_int8_refuses_a_regressor_it_would_move(diabetes):
    """A hidden unit scaled up 10^4 (its output weights down as much: the same float function) is refused."""
    from skensemble.compression import QuantizedRegressor
    from skensemble.nets import MLPNetRegressor

    X, y = diabetes
    net = MLPNetRegressor((16,), max_epochs=30, random_state=0).fit(X, y)
    expected = net.predict(X)
    with torch.no_grad():  # ReLU(1e4 z) * 1e-4 = ReLU(z): unit 0 now spans 10^4 times the others' range
        net.module_.layers[0].weight[0] *= 1e4
        net.module_.layers[0].bias[0] *= 1e4
        net.module_.layers[2].weight[:, 0] /= 1e4
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-4, atol=1e-3 * y.std())
    with pytest.raises(ValueError, match=r"standard deviations.*\(ReLU\).*method='dynamic'"):
        QuantizedRegressor(FrozenEstimator(net), method="static", backend="torch", random_state=0).fit(X, y)


def test_static_int8_torch_refuses_a_residual_net_before_calibrating(monkeypatch, diabetes):
    from skensemble.compression import QuantizedRegressor
    from skensemble.nets import ResNetRegressor

    X, y = diabetes
    net = ResNetRegressor(width=16, n_blocks=1, max_epochs=2, random_state=0).fit(X, y)

    def no_calibration(*args, **kwargs):
        raise AssertionError("calibration started")

    monkeypatch.setattr(torch.ao.quantization, "prepare", no_calibration)
    with pytest.raises(ValueError, match=r"cannot quantize \w+: its forward computes 'add'.*backend='onnxruntime'"):
        QuantizedRegressor(FrozenEstimator(net), method="static", backend="torch").fit(X, y)


@pytest.mark.parametrize("method", ["dynamic", "static"])
def test_onnxruntime_int8_encodes_a_raw_table_inside_its_graph(method, tmp_path, monkeypatch):
    """An ONNX Runtime int8 model of a raw-table net predicts in one ONNX Runtime call, its table encoding in
    front of the int8 graph (the torch encoding before the graph cost twice the graph at batch 1): equal to the
    torch encoding's predictions on rows with unseen and missing categories and missing numbers, after pickle
    and save/load; a file without the flag (quantized before) keeps the torch encoding."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import skensemble
    from skensemble.export import OnnxRuntimeModel
    from skensemble.persistence.tests.data.make_files import raw_table

    X, y = raw_table()
    net = MLPNetClassifier((16,), max_epochs=5, random_state=0).fit(X, y)
    pruned = PrunedClassifier(FrozenEstimator(net), sparsity=0.5, granularity="neuron", fine_tune_epochs=1,
                              random_state=0).fit(X, y)
    rows = X.iloc[:40].copy()
    rows.loc[rows.index[0], "city"] = "Paris"  # unseen
    rows.loc[rows.index[1], "plan"] = np.nan
    for inner in (net, pruned):
        q = _quantize(inner, X, y, backend="onnxruntime", method=method)
        assert q._encoding_in_graph
        widths = []
        with monkeypatch.context() as patch:
            call = OnnxRuntimeModel.__call__
            patch.setattr(OnnxRuntimeModel, "__call__", lambda self, X: widths.append(X.shape[1]) or call(self, X))
            graph_outputs = q._outputs(rows)
        assert widths == [4]  # one call, on the raw rows: two numbers and two category codes
        q._encoding_in_graph = False
        torch_outputs = q._outputs(rows)
        q._encoding_in_graph = True
        np.testing.assert_allclose(graph_outputs, torch_outputs, atol=1e-5)
        loaded = skensemble.load(skensemble.save(q, tmp_path / "q.zip"))
        assert loaded._encoding_in_graph
        np.testing.assert_array_equal(loaded.predict_proba(rows), q.predict_proba(rows))
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(q)).predict_proba(rows), q.predict_proba(rows))
