import hashlib
import inspect
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_regressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skensemble
from skensemble.compression import (
    DistilledClassifier,
    DistilledRegressor,
    PrunedClassifier,
    PrunedRegressor,
    QuantizedClassifier,
    QuantizedRegressor,
)
from skensemble.ensemble import (
    EnsembleSelectionRegressor,
    StackingRegressor,
    VotingRegressor,
    CascadeClassifier,
    EnsembleSelectionClassifier,
    StackingClassifier,
    VotingClassifier,
)
from skensemble.nets import ConvNetClassifier, ConvNetRegressor, MLPNetClassifier, MLPNetRegressor
from skensemble.persistence import UntrustedTypesError
from skensemble.utils._access import get_net_estimator


def tiny(**kw):
    params = dict(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    params.update(kw)
    return MLPNetClassifier(**params)


@pytest.fixture(scope="module")
def data(digits_split):
    X_train, X_test, y_train, _ = digits_split
    labels = np.array(list("abcdefghij"))
    return X_train[:600], X_test[:100], labels[y_train[:600]]


@pytest.fixture(scope="module")
def base_net(data):
    X, _, y = data
    return tiny(hidden_layer_sizes=(32,)).fit(X, y)


MODELS = {
    "mlp": lambda X, y, net: net,
    "conv": lambda X, y, net: ConvNetClassifier((1, 8, 8), channels=(4,), max_epochs=2,
                                                random_state=0).fit(X, y),
    "regressor": lambda X, y, net: MLPNetRegressor((8,), max_epochs=3, random_state=0).fit(
        X, (y == "a").astype(float)),
    "conv regressor, two targets": lambda X, y, net: ConvNetRegressor(
        (1, -1), channels=(4,), max_epochs=3, random_state=0).fit(X, np.c_[y == "a", X[:, 0]]),
    "pruned regressor": lambda X, y, net: PrunedRegressor(
        MLPNetRegressor((16,), max_epochs=3, random_state=0), granularity="neuron",
        random_state=0).fit(X, np.c_[X[:, 0], X[:, 1] * 10]),
    "int8 regressor": lambda X, y, net: QuantizedRegressor(
        MLPNetRegressor((16,), max_epochs=3, random_state=0)).fit(X, X[:, 0]),
    "int8 static regressor": lambda X, y, net: QuantizedRegressor(
        MLPNetRegressor((16,), max_epochs=3, random_state=0), method="static", backend="torch",
        random_state=0).fit(X, X[:, 0]),
    "distilled regressor": lambda X, y, net: DistilledRegressor(
        RandomForestRegressor(5, random_state=0), MLPNetRegressor((8,), max_epochs=3),
        augment_factor=1, random_state=0).fit(X, X[:, 0] * 3),
    "pruned neurons": lambda X, y, net: PrunedClassifier(
        FrozenEstimator(net), sparsity=0.5, granularity="neuron", random_state=0).fit(X, y),
    "pruned weights": lambda X, y, net: PrunedClassifier(
        FrozenEstimator(net), sparsity=0.8, random_state=0).fit(X, y),
    "int8 dynamic": lambda X, y, net: QuantizedClassifier(FrozenEstimator(net), backend="torch").fit(X, y),
    "int8 static": lambda X, y, net: QuantizedClassifier(FrozenEstimator(net), method="static",
                                                          backend="torch", random_state=0).fit(X, y),
    "int8 onnxruntime static": lambda X, y, net: QuantizedClassifier(
        FrozenEstimator(net), method="static", backend="onnxruntime", random_state=0).fit(X, y),
    "int8 weight-only": lambda X, y, net: QuantizedClassifier(
        FrozenEstimator(net), backend="weight-only").fit(X, y),
    "float16": lambda X, y, net: QuantizedClassifier(FrozenEstimator(net), dtype="float16").fit(X, y),
    "int8 onnxruntime": lambda X, y, net: QuantizedClassifier(
        FrozenEstimator(net), backend="onnxruntime").fit(X, y),
    "quantized pruned": lambda X, y, net: QuantizedClassifier(
        PrunedClassifier(tiny(), granularity="neuron", random_state=0)).fit(X, y),
    "distilled": lambda X, y, net: DistilledClassifier(
        FrozenEstimator(net), tiny(hidden_layer_sizes=(8,)), augment_factor=1, random_state=0).fit(X, y),
    "voting": lambda X, y, net: VotingClassifier(
        [("net", tiny()), ("lr", make_pipeline(StandardScaler(), LogisticRegression()))],
        voting="soft").fit(X, y),
    "stacking": lambda X, y, net: StackingClassifier(
        [("net", tiny()), ("lr", LogisticRegression(max_iter=300))], cv=3).fit(X, y),
    "cascade": lambda X, y, net: CascadeClassifier(
        [("lr", LogisticRegression(max_iter=300)), ("net", tiny())]).fit(X, y),
    "selection": lambda X, y, net: EnsembleSelectionClassifier(
        [("lr", LogisticRegression(max_iter=300)), ("net", tiny())], ensemble_size=3, cv=3).fit(X, y),
    "voting regressor": lambda X, y, net: VotingRegressor(
        [("net", MLPNetRegressor((8,), max_epochs=3, random_state=0)), ("rf", RandomForestRegressor(5))]
    ).fit(X, X[:, 0]),
    "stacking regressor": lambda X, y, net: StackingRegressor(
        [("net", MLPNetRegressor((8,), max_epochs=3, random_state=0)), ("lr", LinearRegression())],
        cv=3).fit(X, X[:, 0]),
    "selection regressor": lambda X, y, net: EnsembleSelectionRegressor(
        [("net", MLPNetRegressor((8,), max_epochs=3, random_state=0)), ("lr", LinearRegression())],
        ensemble_size=3, cv=3).fit(X, X[:, :2]),
    "pipeline": lambda X, y, net: make_pipeline(StandardScaler(), tiny()).fit(X, y),
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_round_trip_predicts_identically(kind, data, base_net, tmp_path):
    X, X_test, y = data
    model = MODELS[kind](X, y, base_net)
    path = skensemble.save(model, tmp_path / "model.zip")
    loaded = skensemble.load(path)
    assert type(loaded) is type(model)
    method = "predict_proba" if hasattr(model, "predict_proba") else "predict"
    np.testing.assert_array_equal(getattr(loaded, method)(X_test), getattr(model, method)(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    assert _training_flags(loaded) == _training_flags(model)


def _training_flags(model):
    """Every torch module reachable through fitted (trailing-underscore) attributes, as (path, training flags)."""
    flags, seen = [], set()

    def walk(obj, path, depth=0):
        if id(obj) in seen or depth > 6:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            flags.append((path, [m.training for m in obj.modules()]))
            return
        if isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                walk(item, f"{path}[{i}]", depth + 1)
        elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("skensemble", "skorch", "sklearn"):
            for key, value in vars(obj).items():
                if key.endswith("_") and not key.startswith("_"):
                    walk(value, f"{path}.{key}", depth + 1)

    walk(model, "model")
    return flags


def test_a_loaded_module_keeps_its_training_flags_and_predicts_on_the_lean_path(data, base_net, tmp_path):
    """A fitted net's module is in eval mode and predicts by calling the module directly; so does the loaded
    one (it came back in training mode, through skorch's loader, 1.5x slower at batch 1).  A submodule a
    user put in training mode stays so."""
    from skensemble.nets._base import infers_directly

    X, X_test, y = data
    loaded = skensemble.load(skensemble.save(base_net, tmp_path / "m.zip"))
    assert infers_directly(loaded.net_) and not loaded.net_.module_.training
    net = clone(base_net).fit(X, y)
    net.net_.module_.layers[1].train()
    flags = [m.training for m in net.net_.module_.modules()]
    assert any(flags) and not all(flags)
    loaded = skensemble.load(skensemble.save(net, tmp_path / "t.zip"))
    assert [m.training for m in loaded.net_.module_.modules()] == flags


def test_pruned_module_keeps_its_shape_and_refits(data, base_net, tmp_path):
    X, X_test, y = data
    pruned = MODELS["pruned neurons"](X, y, base_net)
    loaded = skensemble.load(skensemble.save(pruned, tmp_path / "p.zip"))
    assert loaded.estimator_.module_.layers[0].out_features == 16
    assert loaded.n_params_ == pruned.n_params_
    # the fitted pruned model is an ordinary estimator again: it can be fine-tuned
    loaded.estimator_.net_.partial_fit(X.astype(np.float32), np.searchsorted(loaded.classes_, y))


def test_teacher_and_frozen_params_are_not_carried(data, base_net, tmp_path):
    X, _, y = data
    big_teacher = RandomForestClassifier(300, random_state=0).fit(X, y)
    d = DistilledClassifier(FrozenEstimator(big_teacher), tiny(hidden_layer_sizes=(8,)),
                            augment_factor=1, random_state=0).fit(X, y)
    path = skensemble.save(d, tmp_path / "d.zip")
    assert path.stat().st_size < len(pickle.dumps(big_teacher)) / 10
    loaded = skensemble.load(path)
    assert loaded.teacher_ is None


def test_shared_members_stay_shared(data, base_net, tmp_path):
    X, _, y = data
    vote = MODELS["voting"](X, y, base_net)
    loaded = skensemble.load(skensemble.save(vote, tmp_path / "v.zip"))
    assert loaded.named_estimators_["net"] is loaded.estimators_[0]


def test_sklearn_trees_load_without_trusted(data, base_net, tmp_path):
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
    from sklearn.svm import SVC

    X, X_test, y = data
    vote = VotingClassifier(
        [("net", tiny()), ("rf", RandomForestClassifier(5, random_state=0)),
         ("gb", GradientBoostingClassifier(n_estimators=5, random_state=0)),
         ("hgb", HistGradientBoostingClassifier(max_iter=5, random_state=0)),
         ("svc", SVC(probability=True, random_state=0))], voting="soft").fit(X, y)
    loaded = skensemble.load(skensemble.save(vote, tmp_path / "v.zip"))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), vote.predict_proba(X_test))


def test_other_untrusted_sklearn_types_are_listed(data, tmp_path):
    from sklearn.neighbors import KNeighborsClassifier

    X, X_test, y = data
    stack = StackingClassifier([("knn", KNeighborsClassifier(algorithm="kd_tree")), ("net", tiny())],
                               cv=3).fit(X, y)
    path = skensemble.save(stack, tmp_path / "s.zip")
    with pytest.raises(UntrustedTypesError, match=r"KDTree"):
        skensemble.load(path)
    trusted = ["sklearn.neighbors._kd_tree.KDTree", "sklearn.metrics._dist_metrics.EuclideanDistance64"]
    loaded = skensemble.load(path, trusted=trusted)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), stack.predict_proba(X_test))


def _craft_tree(tree, field, index, value):
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes[field][index] = value
    state["nodes"] = nodes
    tree.__setstate__(state)


@pytest.mark.parametrize("field, value, why", [
    ("feature", 10**6, "feature the model does not have"),
    ("left_child", 0, "children do not follow"),  # a cycle: predict would never end
    ("right_child", 10**6, "children do not follow"),
])
def test_crafted_trees_are_refused(data, tmp_path, field, value, why):
    from skensemble.persistence import CorruptModelError

    X, _, y = data
    vote = VotingClassifier([("rf", RandomForestClassifier(3, max_depth=3, random_state=0))]).fit(X, y)
    _craft_tree(vote.estimators_[0].estimators_[1].tree_, field, 0, value)
    path = skensemble.save(vote, tmp_path / "f.zip")
    with pytest.raises(CorruptModelError, match=why):
        skensemble.load(path)


def test_crafted_histogram_trees_are_refused(data, tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from skensemble.persistence import CorruptModelError

    X, _, y = data
    fitted = VotingClassifier([("hgb", HistGradientBoostingClassifier(max_iter=3, random_state=0))]).fit(X, y)
    fitted.estimators_[0]._predictors[0][0].nodes["feature_idx"][0] = 10**6
    path = skensemble.save(fitted, tmp_path / "h.zip")
    with pytest.raises(CorruptModelError, match="feature the model does not have"):
        skensemble.load(path)


class Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite(path, replace):
    """Rewrite members of a saved zip (fixing the manifest's hashes)."""
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    files.update(replace(files, manifest) or {})
    manifest["sha256"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for n, d in files.items():
            zf.writestr(n, d)


def test_pickled_payload_in_a_part_is_refused(data, base_net, tmp_path):
    X, _, y = data
    path = skensemble.save(MODELS["cascade"](X, y, base_net), tmp_path / "c.zip")
    marker = tmp_path / "pwned"
    _rewrite(path, lambda files, m: {
        next(n for n in files if n.endswith(".skops")): pickle.dumps(Payload(str(marker)))})
    with pytest.raises(Exception):
        skensemble.load(path)
    assert not marker.exists()


def test_pickled_payload_in_int8_state_is_refused(data, base_net, tmp_path):
    X, _, y = data
    path = skensemble.save(MODELS["int8 dynamic"](X, y, base_net), tmp_path / "q.zip")
    marker = tmp_path / "pwned"

    def inject(files, manifest):
        buf = io.BytesIO()
        import torch

        torch.save({"x": Payload(str(marker))}, buf)
        return {next(n for n in files if n.endswith(".pt")): buf.getvalue()}

    _rewrite(path, inject)
    with pytest.raises(Exception, match="Weights only load failed|weights_only"):
        skensemble.load(path)
    assert not marker.exists()


def test_unknown_class_is_refused(data, base_net, tmp_path):
    X, _, y = data
    path = skensemble.save(base_net, tmp_path / "m.zip")

    def rename(files, manifest):
        manifest["root"]["cls"] = "os.system"

    _rewrite(path, rename)
    with pytest.raises(UntrustedTypesError, match="os.system"):
        skensemble.load(path)


def test_tampering_and_newer_format_are_detected(base_net, tmp_path):
    path = skensemble.save(base_net, tmp_path / "m.zip")
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    tensors = bytearray(files["tensors.safetensors"])
    tensors[-1] ^= 1
    files["tensors.safetensors"] = bytes(tensors)
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
    with pytest.raises(ValueError, match="SHA-256"):
        skensemble.load(tmp_path / "t.zip")
    _rewrite(path, lambda files, m: m.update(format_version=99))
    with pytest.raises(ValueError, match="format version 99"):
        skensemble.load(path)


def test_gpu_trained_model_loads_on_cpu(base_net, data, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("simulates a machine without a GPU")
    X, X_test, y = data
    path = skensemble.save(base_net, tmp_path / "m.zip")

    def to_cuda(files, manifest):
        manifest["root"]["state"]["device_"] = "cuda:0"
        manifest["root"]["state"]["device"] = "cuda"

    _rewrite(path, to_cuda)
    loaded = skensemble.load(path)
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X_test), base_net.predict_proba(X_test))


def test_unsaveable_objects_are_named(small_data, tmp_path):
    from skorch import NeuralNetClassifier

    from skensemble.nets._modules import MLPModule

    X, y = small_data
    raw = NeuralNetClassifier(MLPModule, module__n_features=6, module__n_outputs=3)
    with pytest.raises(TypeError, match="raw skorch net"):
        skensemble.save(raw, tmp_path / "r.zip")
    d = DistilledClassifier(LogisticRegression(), tiny(), augmentation=lambda X, rs: X)
    with pytest.raises(TypeError, match="function"):
        skensemble.save(d, tmp_path / "d.zip")


def test_config_callbacks_are_saved_and_others_named(small_data, tmp_path):
    import torch
    from skorch.callbacks import Callback, EarlyStopping, EpochScoring, LRScheduler

    class Custom(Callback):
        pass

    X, y = small_data
    callbacks = [
        ("sched", LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5)),
        EarlyStopping(monitor="train_loss", patience=3),
        EpochScoring("f1_macro", on_train=True, name="train_f1"),
        ("custom", Custom()),
        EpochScoring(lambda net, X, y: 0.0, name="lambda"),
    ]
    net = tiny(max_epochs=4, callbacks=callbacks).fit(X, y)
    with pytest.warns(UserWarning, match=r"callbacks\[3\] \(.*Custom is not a known.*callbacks\[4\] "
                                         r"\(its parameter scoring="):
        path = skensemble.save(net, tmp_path / "c.zip")
    loaded = skensemble.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    sched, stop, score = loaded.callbacks
    assert sched[0] == "sched" and sched[1].policy is torch.optim.lr_scheduler.StepLR
    assert sched[1].get_params()["step_size"] == 2 and sched[1].kwargs == {"step_size": 2, "gamma": 0.5}
    assert (stop.monitor, stop.patience, stop.sink) == ("train_loss", 3, print)
    assert (score.scoring, score.on_train, score.name) == ("f1_macro", True, "train_f1")
    # the restored callbacks work: a refit schedules the learning rate and scores
    refit = loaded.fit(X, y)
    lrs = refit.history_[:, "event_lr"]
    assert lrs[0] == pytest.approx(1e-3) and lrs[2] == pytest.approx(5e-4)
    assert "train_f1" in refit.history_[-1]


def test_unknown_callback_in_a_file_is_refused(small_data, tmp_path):
    from skorch.callbacks import EarlyStopping

    X, y = small_data
    path = skensemble.save(tiny(max_epochs=2, callbacks=[EarlyStopping(monitor="train_loss")]).fit(X, y), tmp_path / "m.zip")

    def rename(files, manifest):
        manifest["root"]["state"]["callbacks"]["v"][0]["cls"] = "skorch.callbacks.LoadInitState"

    _rewrite(path, rename)
    with pytest.raises(UntrustedTypesError, match="LoadInitState"):
        skensemble.load(path)


@pytest.mark.parametrize("module", ["skensemble.persistence._io", "skensemble.persistence._registry",
                                    "skensemble.persistence._sklearn_trust",
                                    "skensemble.compression.quantization._backends", "skensemble.nets._base"])
def test_loading_code_never_unpickles(module):
    import importlib

    source = inspect.getsource(importlib.import_module(module))
    assert "import pickle" not in source and "pickle.load" not in source
    assert "joblib" not in source
    assert "eval(" not in source and "exec(" not in source
    for line in source.splitlines():
        if "torch.load(" in line:
            assert "weights_only=True" in line


@pytest.mark.parametrize("backend, method", [("torch", "dynamic"), ("onnxruntime", "dynamic"),
                                             ("onnxruntime", "static")])
def test_quantized_file_is_about_4x_smaller(digits_mlp_256, digits_split, tmp_path, backend, method):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    X_train, X_test, y_train, _ = digits_split
    q = QuantizedClassifier(FrozenEstimator(digits_mlp_256), backend=backend, method=method,
                            random_state=0).fit(X_train, y_train)
    float_size = skensemble.save(digits_mlp_256, tmp_path / "f.zip").stat().st_size
    int8_size = skensemble.save(q, tmp_path / "q.zip").stat().st_size
    assert float_size / int8_size >= 3.5
    loaded = skensemble.load(tmp_path / "q.zip")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), q.predict_proba(X_test))
    # the float net comes back with the dequantized weights (7-bit for onnxruntime's
    # reduce_range): close to the original
    np.testing.assert_allclose(loaded.estimator_.predict_proba(X_test),
                               digits_mlp_256.predict_proba(X_test), atol=0.1)
    agree = np.mean(loaded.estimator_.predict(X_test) == digits_mlp_256.predict(X_test))
    assert agree >= 0.99


def _sklearn_older_than_the_writer(path):
    """Whether the installed scikit-learn is older than the one that wrote ``path`` (its manifest says)."""
    import sklearn

    from skensemble._compat import release

    with zipfile.ZipFile(path) as archive:
        written_with = json.loads(archive.read("manifest.json"))["versions"]["scikit-learn"]
    return release(sklearn.__version__) < release(written_with)


_FORMAT1 = Path(__file__).parent / "data" / "format1_ensemble.zip"


@pytest.mark.skipif(_sklearn_older_than_the_writer(_FORMAT1),
                    reason="the file holds scikit-learn estimators (through skops) written by a newer "
                           "scikit-learn; scikit-learn's objects load only into the version that wrote them "
                           "or a newer one (LogisticRegression lost its multi_class attribute in 1.8)")
def test_files_of_format_version_1_still_load():
    """Files written by skensemble's format 1 (commit 9caea5f), kept as test data."""
    data = Path(__file__).parent / "data"
    expected = np.load(data / "format1_expected.npz")
    vote = skensemble.load(data / "format1_ensemble.zip")
    # the file's weights load exactly; the arithmetic on them drifts with the libraries: since
    # 2026-12-05 (this machine's fresh install) the probabilities differ by up to 3e-7 relative,
    # also at the commit that wrote the expected values
    np.testing.assert_allclose(vote.predict_proba(expected["X"]), expected["proba"], rtol=1e-6, atol=1e-9)
    assert [type(e).__name__ for e in vote.estimators_] == [
        "QuantizedClassifier", "QuantizedClassifier", "QuantizedClassifier",
        "DistilledClassifier", "ConvNetClassifier", "CascadeClassifier"]
    reg = skensemble.load(data / "format1_regressor.zip")
    np.testing.assert_array_equal(reg.predict(expected["X_reg"]), expected["pred_reg"])
    # parameters added since (with other defaults today) take the values the file's nets had
    for estimator in (vote, reg):
        params = estimator.get_params()
        absent = {k: v for k, v in params.items() if k.endswith(("num_embeddings", "preprocessing"))}
        assert absent and set(absent.values()) == {None}, absent


@skensemble.persistence.register
class LinearProbe(ClassifierMixin, BaseEstimator):
    """A test-only estimator that keeps a torch layer: saved through the protocol alone."""

    def __init__(self, ridge=1e-3):
        self.ridge = ridge

    def fit(self, X, y):
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        X1 = np.hstack([X, np.ones((len(X), 1))])
        W = np.linalg.solve(X1.T @ X1 + self.ridge * np.eye(X1.shape[1]), X1.T @ np.eye(len(self.classes_))[codes])
        self.layer_ = torch.nn.Linear(X.shape[1], len(self.classes_))
        with torch.no_grad():
            self.layer_.weight.copy_(torch.as_tensor(W[:-1].T))
            self.layer_.bias.copy_(torch.as_tensor(W[-1]))
        return self

    def predict_proba(self, X):
        with torch.no_grad():
            return torch.softmax(self.layer_(torch.as_tensor(X, dtype=torch.float32)), 1).double().numpy()

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]

    def _save_state(self, writer, state, path):
        layer = state.pop("layer_", None)
        if layer is None:
            return state, {}
        return state, {"layer": writer.add_tensors("probe", layer.state_dict()),
                       "shape": [layer.in_features, layer.out_features]}

    def _load_state(self, reader, extra):
        if extra:
            self.layer_ = torch.nn.Linear(*extra["shape"])
            self.layer_.load_state_dict(reader.tensors_under(extra["layer"]), strict=True)


def test_an_estimator_registered_outside_persistence_round_trips(data, tmp_path):
    X, X_test, y = data
    probe = LinearProbe().fit(X, y)
    vote = VotingClassifier([("probe", LinearProbe()), ("lr", LogisticRegression())], voting="soft").fit(X, y)
    for model in (probe, vote, LinearProbe()):
        path = skensemble.save(model, tmp_path / "m.zip")
        with zipfile.ZipFile(path) as zf:
            manifest = zf.read("manifest.json").decode()
        assert "pickle" not in manifest and "LinearProbe" in manifest
        loaded = skensemble.load(path)
        if hasattr(model, "classes_"):
            np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
        else:
            assert not hasattr(loaded, "layer_") and loaded.get_params() == model.get_params()


def test_net_around_skensembles_own_module_class_loads(tmp_path):
    """Defect 4 of issue 26: NetClassifier(MLPModule) -- and so FineTuned* of any built-in net -- loads untrusted."""
    from sklearn.datasets import make_classification
    from sklearn.frozen import FrozenEstimator

    from skensemble.nets import MLPModule, MLPNetClassifier, NetClassifier
    from skensemble.transfer import FineTunedClassifier

    X, y = make_classification(120, 6, random_state=0)
    net = NetClassifier(MLPModule, module_params={"hidden_layer_sizes": (8,)}, max_epochs=2,
                        random_state=0).fit(X, y)
    tuned = FineTunedClassifier(FrozenEstimator(MLPNetClassifier((8,), max_epochs=2, random_state=0).fit(X, y)),
                                max_epochs=2, random_state=0).fit(X, y)
    for est in (net, tuned):
        skensemble.save(est, tmp_path / "m.zip")
        np.testing.assert_array_equal(skensemble.load(tmp_path / "m.zip").predict_proba(X), est.predict_proba(X))


def test_validation_split_in_net_params_is_saved(tmp_path):
    """Defect 5 of issue 26: the nets guide's ``net_params={"train_split": ValidSplit(...)}`` saves and loads."""
    from sklearn.datasets import make_classification
    from skorch.callbacks import EarlyStopping
    from skorch.dataset import ValidSplit

    from skensemble.nets import MLPNetClassifier

    X, y = make_classification(120, 6, random_state=0)
    est = MLPNetClassifier((8,), max_epochs=30, random_state=0,
                           net_params={"train_split": ValidSplit(0.25, stratified=False, random_state=3)},
                           callbacks=[("es", EarlyStopping(patience=2))]).fit(X, y)
    skensemble.save(est, tmp_path / "m.zip")
    loaded = skensemble.load(tmp_path / "m.zip")
    split = loaded.net_params["train_split"]
    assert type(split) is ValidSplit and (split.cv, split.stratified, split.random_state) == (0.25, False, 3)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    refit = loaded.fit(X, y)  # the loaded parameters train as the saved ones did
    np.testing.assert_array_equal(refit.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_partial_fit_after_load_equals_partial_fit_after_pickle(tmp_path, optimizer):
    """Defect 10 of issue 26: the optimizer's state (moments, steps) is saved, so training continues the same."""
    from sklearn.datasets import make_classification

    from skensemble.nets import MLPNetClassifier

    X, y = make_classification(150, 6, random_state=0)
    est = MLPNetClassifier((8,), max_epochs=3, optimizer=optimizer, random_state=0).fit(X, y)
    skensemble.save(est, tmp_path / "m.zip")
    loaded, pickled = skensemble.load(tmp_path / "m.zip"), pickle.loads(pickle.dumps(est))
    for _ in range(2):
        loaded.partial_fit(X, y)
        pickled.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), pickled.predict_proba(X))


def test_fine_tuning_keeps_the_source_nets_training_settings():
    """Defect 10 of issue 26: early stopping, callbacks, l1 and amp of the pretrained net carry over."""
    from sklearn.datasets import make_classification
    from skorch.callbacks import LRScheduler

    from skensemble.nets import MLPNetClassifier
    from skensemble.transfer import FineTunedClassifier

    X, y = make_classification(300, 8, random_state=0)
    source = MLPNetClassifier((16,), early_stopping=True, n_iter_no_change=2, l1=1e-4, amp="bfloat16",
                              max_epochs=30, lr=0.05, random_state=0,
                              callbacks=[("sched", LRScheduler("StepLR", step_size=5))]).fit(X, y)
    tuned = FineTunedClassifier(FrozenEstimator(source), freeze="none", max_epochs=300, lr=0.05,
                                random_state=0).fit(X, y)
    inner = tuned.estimator_[-1]  # after the pretrained net's table encoder
    assert (inner.early_stopping, inner.n_iter_no_change, inner.l1, inner.amp) == (True, 2, 1e-4, "bfloat16")
    assert [name for name, _ in inner.callbacks] == ["sched"]
    assert "valid_loss" in inner.history_[-1] and len(inner.history_) < 300  # it stopped early


# Every key skensemble's own classes are saved under: part of the file format, never to change.
PINNED_KEYS = {
    "estimators": [
        "skensemble.compression.DistilledClassifier", "skensemble.compression.DistilledRegressor",
        "skensemble.compression.MagnitudeImportance", "skensemble.compression.MixupAugmenter",
        "skensemble.compression.MungeAugmenter", "skensemble.compression.NoiseAugmenter",
        "skensemble.compression.PrunedClassifier", "skensemble.compression.PrunedRegressor",
        "skensemble.compression.QuantizedClassifier", "skensemble.compression.QuantizedRegressor",
        "skensemble.compression.RandomImportance", "skensemble.compression.TaylorImportance",
        "skensemble.ensemble.CascadeClassifier", "skensemble.ensemble.DeepEnsembleClassifier",
        "skensemble.ensemble.DeepEnsembleRegressor", "skensemble.ensemble.EnsembleSelectionClassifier",
        "skensemble.ensemble.EnsembleSelectionRegressor", "skensemble.ensemble.StackingClassifier",
        "skensemble.ensemble.StackingRegressor", "skensemble.ensemble.VotingClassifier",
        "skensemble.ensemble.VotingRegressor", "skensemble.nets.ConvNetClassifier",
        "skensemble.nets.ConvNetRegressor", "skensemble.nets.MLPNetClassifier", "skensemble.nets.MLPNetRegressor",
        "skensemble.nets.NetClassifier", "skensemble.nets.NetRegressor", "skensemble.nets.ResNetClassifier",
        "skensemble.nets.ResNetRegressor", "skensemble.nets.TabMClassifier", "skensemble.nets.TabMRegressor",
        "skensemble.nets.TableEncoder", "skensemble.transfer.FineTunedClassifier",
        "skensemble.transfer.FineTunedRegressor",
    ],
    "splitters": ["skensemble.nets.LabelValidSplit", "skorch.dataset.ValidSplit"],
    "modules": ["ConvModule", "MLPModule", "ResNetModule", "TabMModule"],
}


def test_the_keys_in_files_are_pinned():
    """Moving a class to another module (as issue 27 moved the compression families) keeps its key."""
    from skensemble.persistence import _registry

    own = sorted(k for k in _registry.estimator_classes() if k.startswith("skensemble.") and ".tests." not in k)
    assert own == PINNED_KEYS["estimators"]
    assert sorted(_registry.SPLITTERS) == PINNED_KEYS["splitters"]
    assert sorted(_registry.module_classes()) == PINNED_KEYS["modules"]
    assert _registry.class_key(skensemble.compression.pruning.PrunedClassifier) == \
        "skensemble.compression.PrunedClassifier"
    assert _registry.class_key(LinearProbe) == "skensemble.persistence.tests.test_persistence.LinearProbe"


BEFORE_27 = ["pruned_neuron", "pruned_weight", "int8_onnx_of_pruned", "int8_torch_static_conv", "half",
             "distilled", "fine_tuned", "pruned_layer_resnet", "int8_dynamic_regressor", "distilled_regressor"]


@pytest.fixture(scope="module")
def before27_expected():
    return np.load(Path(__file__).parent / "data" / "before27_expected.npz")


@pytest.mark.parametrize("name", BEFORE_27)
def test_files_saved_before_the_compression_families_moved_still_load(name, before27_expected):
    """Files written at commit 7bb1830, before compression/ was split into one folder per family
    (``data/make_files.py``): every family and nesting loads under its pinned key, predicting the same."""
    model = skensemble.load(Path(__file__).parent / "data" / f"before27_{name}.zip")
    expected = before27_expected[name]
    if is_regressor(model):
        got = model.predict(before27_expected["X_reg"])
    else:
        got = model.predict_proba(before27_expected["X"])
    # same weights, same arithmetic: equal up to float32 rounding of the libraries' kernels
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["raw_mlp", "raw_pruned", "raw_distilled", "raw_tabm"])
def test_files_saved_with_the_numpy_table_encoder_still_load(name):
    """Files written at commit 6901b36, when the table encoder ran in float64 NumPy (``data/make_files.py
    before40 raw``): loaded, the encoder becomes the torch layer and predicts the same raw rows (an unseen
    text value, missing numbers and text) to float32 rounding of the encoded values."""
    from skensemble.persistence.tests.data.make_files import raw_table

    data = Path(__file__).parent / "data"
    model = skensemble.load(data / f"before40_{name}.zip")
    X, _ = raw_table()
    rows = X.iloc[:40].copy()
    rows.loc[rows.index[0], "city"] = "Paris"
    got = model.predict_proba(rows[list(model.feature_names_in_)])
    np.testing.assert_allclose(got, np.load(data / "before40_expected.npz")[name], rtol=1e-5, atol=1e-6)
    encoder = get_net_estimator(model).table_encoder_
    assert isinstance(encoder.encoding_, torch.nn.Module)


@pytest.mark.parametrize("name", BEFORE_27 + [f"table_{n}" for n in ("raw_mlp", "raw_pruned", "raw_distilled",
                                                                      "raw_tabm")])
def test_files_saved_before_the_rooms_moved_load_and_predict_identically(name):
    """Files written at commit 9986427, before ``TableEncoder`` moved to ``skensemble.preprocessing``, ONNX
    export to ``skensemble.export`` and the meta-estimators' base to ``skensemble.meta`` (issue 42;
    ``data/make_files.py before42`` and ``before42_table raw``): they load under their pinned keys and
    predict exactly what they predicted when saved."""
    from skensemble.persistence.tests.data.make_files import raw_table

    data = Path(__file__).parent / "data"
    model = skensemble.load(data / f"before42_{name}.zip")
    if name.startswith("table_"):
        expected = np.load(data / "before42_table_expected.npz")[name.removeprefix("table_")]
        X, _ = raw_table()
        rows = X.iloc[:40].copy()
        rows.loc[rows.index[0], "city"] = "Paris"  # unseen
        got = model.predict_proba(rows[list(model.feature_names_in_)])
        assert type(get_net_estimator(model).table_encoder_).__module__ == "skensemble.preprocessing._table"
    else:
        saved = np.load(data / "before42_expected.npz")
        expected = saved[name]
        got = model.predict(saved["X_reg"]) if is_regressor(model) else model.predict_proba(saved["X"])
    np.testing.assert_array_equal(got, expected)
