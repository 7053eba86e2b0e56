import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skensemble.nets import ConvNetClassifier, ConvNetRegressor, MLPNetClassifier, MLPNetRegressor


def cheap(**kw):
    params = dict(hidden_layer_sizes=(16,), max_epochs=60, lr=0.02, random_state=0)
    params.update(kw)
    return MLPNetClassifier(**params)


# --- accuracy on real data ----------------------------------------------------
def test_mlp_defaults_reach_096_on_digits(digits_mlp, digits_split):
    _, X_test, _, y_test = digits_split
    assert digits_mlp.score(X_test, y_test) >= 0.96


def test_conv_reaches_097_on_digits(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = ConvNetClassifier(input_shape=(1, 8, 8), random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.97
    assert isinstance(clf.module_.layers[1], torch.nn.Conv2d)


def test_conv_1d_signal_and_inferred_length(small_data):
    X, y = small_data
    clf = ConvNetClassifier((2, -1), channels=(4,), hidden_layer_sizes=(8,),
                            max_epochs=5, random_state=0).fit(X, y)
    assert isinstance(clf.module_.layers[1], torch.nn.Conv1d)
    assert clf.module_.layers[0].shape == (2, 3)
    assert clf.predict(X).shape == (len(X),)


def test_regressor_fits_and_keeps_target_shape():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = 100 * X[:, 0] - 50 * X[:, 1] + 1000  # far from unit scale
    reg = MLPNetRegressor((32,), max_epochs=150, lr=0.01, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (300,)
    assert reg.score(X, y) > 0.95
    Y = np.c_[y, -y]
    assert MLPNetRegressor((8,), max_epochs=2).fit(X, Y).predict(X).shape == (300, 2)


def test_conv_regressor_learns_a_local_pattern():
    """A 1-D signal whose target is a local feature: the conv regressor finds it."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1200, 32))
    y = 10 * np.abs(X[:, 10:13]).sum(axis=1) + 500  # non-linear, far from unit scale
    reg = ConvNetRegressor((1, 32), channels=(8,), hidden_layer_sizes=(32,), max_epochs=80,
                           lr=0.01, random_state=0).fit(X[:900], y[:900])
    assert reg.score(X[900:], y[900:]) > 0.8
    Y = np.c_[y, -2 * y]
    both = ConvNetRegressor((1, 32), channels=(4,), max_epochs=2, random_state=0).fit(X, Y)
    assert both.predict(X[:5]).shape == (5, 2)


# --- labels and input types ---------------------------------------------------
@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array([-3, 7, 42])])
def test_original_labels_come_back(small_data, labels):
    X, y = small_data
    clf = cheap().fit(X, labels[y])
    assert set(clf.predict(X)) <= set(labels)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.score(X, labels[y]) > 0.8


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32])
def test_any_numeric_dtype(small_data, dtype):
    X, y = small_data
    proba = cheap(max_epochs=2).fit((X * 10).astype(dtype), y).predict_proba(X.astype(dtype))
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_pandas_input_sets_feature_names(small_data):
    pd = pytest.importorskip("pandas")
    X, y = small_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = cheap(max_epochs=2).fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


# --- bad input ----------------------------------------------------------------
@pytest.mark.parametrize(
    "make_X, match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), "infinity"),
        (lambda X: X[:, 0], "Expected 2D array"),
        (lambda X: X[:0], "0 sample"),
        (lambda X: X.astype(str).astype(object) + "x", "could not convert|argument must be"),
    ],
)
def test_bad_X_at_fit_is_named(small_data, make_X, match):
    X, y = small_data
    X_bad = make_X(X)
    with pytest.raises(ValueError, match=match):  # preprocessing=None: raw tables are refused as any bad X
        cheap(preprocessing=None).fit(X_bad, y[: len(X_bad)] if len(X_bad) else y[:0])


def test_single_class_is_refused(small_data):
    X, _ = small_data
    with pytest.raises(ValueError, match="only one class"):
        cheap().fit(X, np.zeros(len(X)))


def test_continuous_target_is_refused(small_data):
    X, _ = small_data
    with pytest.raises(ValueError, match="Unknown label type"):
        cheap().fit(X, np.linspace(0, 1, len(X)))


def test_predict_errors(small_data, digits_mlp):
    X, _ = small_data
    with pytest.raises(NotFittedError):
        cheap().predict(X)
    with pytest.raises(ValueError, match="has 6 features, but MLPNetClassifier is expecting 64"):
        digits_mlp.predict(X)
    # a missing value is the column's median at fit (the net's table encoder); infinity is refused
    medians = np.tile(digits_mlp.table_encoder_.center_, (2, 1))
    np.testing.assert_array_equal(digits_mlp.predict_proba(np.full((2, 64), np.nan)), digits_mlp.predict_proba(medians))
    with pytest.raises(ValueError, match="infinity"):
        digits_mlp.predict_proba(np.full((2, 64), np.inf))


def test_bad_parameters_and_devices(small_data):
    X, y = small_data
    with pytest.raises(ValueError, match="lr"):
        cheap(lr=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        cheap(activation="swish").fit(X, y)
    with pytest.raises(ValueError, match="Unknown device 'gpu0'"):
        cheap(device="gpu0").fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            cheap(device="cuda:1").fit(X, y)
    with pytest.raises(ValueError, match="does not fit X with 6 features"):
        ConvNetClassifier((1, 4, 4)).fit(X, y)


# --- cloning, pickling, determinism ---------------------------------------------
def test_clone_pickle_joblib_round_trip(digits_mlp, digits_split, tmp_path):
    _, X_test, _, _ = digits_split
    expected = digits_mlp.predict_proba(X_test)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(digits_mlp)).predict_proba(X_test), expected)
    joblib.dump(digits_mlp, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict_proba(X_test), expected)
    X_train, _, y_train, _ = digits_split
    refit = clone(digits_mlp).fit(X_train, y_train)
    np.testing.assert_array_equal(refit.predict_proba(X_test), expected)


def test_fit_leaves_global_torch_rng_untouched(small_data):
    X, y = small_data
    torch.manual_seed(123)
    state = torch.get_rng_state()
    clf = cheap().fit(X, y)
    clf.predict_proba(X)
    assert torch.equal(state, torch.get_rng_state())


def test_random_state_none_differs(small_data):
    X, y = small_data
    a = cheap(random_state=None, max_epochs=1).fit(X, y).predict_proba(X)
    b = cheap(random_state=None, max_epochs=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, b)


def test_gridsearch_pipeline_same_scores_with_n_jobs(digits_split):
    X_train, _, y_train, _ = digits_split
    pipe = Pipeline([("scale", StandardScaler()), ("net", cheap(max_epochs=5))])
    grid = {"net__hidden_layer_sizes": [(8,), (16,)], "net__lr": [0.01, 0.003]}
    scores = [
        GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(X_train, y_train).cv_results_["mean_test_score"]
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(scores[0], scores[1])
    assert scores[0].max() > 0.85


def test_cross_validate_in_pipeline(digits_split):
    X_train, _, y_train, _ = digits_split
    pipe = Pipeline([("scale", StandardScaler()), ("net", cheap(max_epochs=5))])
    res = cross_validate(pipe, X_train, y_train, cv=3, n_jobs=2)
    assert res["test_score"].min() > 0.85


# --- skorch power stays reachable ----------------------------------------------
def test_callbacks_net_params_and_history(small_data):
    X, y = small_data

    class Count(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kw):
            self.epochs += 1

    user_cb = Count()
    clf = cheap(max_epochs=3, optimizer="sgd", callbacks=[("count", user_cb)],
                net_params={"optimizer__momentum": 0.9}).fit(X, y)
    assert dict(clf.net_.callbacks_)["count"].epochs == 3
    assert clf.net_.optimizer_.param_groups[0]["momentum"] == 0.9
    assert len(clf.history_) == clf.n_epochs_ == 3
    assert not hasattr(user_cb, "epochs")  # the user's callback was copied, not mutated


def test_early_stopping_stops_and_restores(small_data):
    X, _ = small_data
    y = np.random.RandomState(1).randint(0, 3, len(X))  # noise: validation loss rises
    clf = cheap(max_epochs=300, lr=0.05, early_stopping=True, n_iter_no_change=5).fit(X, y)
    assert clf.n_epochs_ < 300
    assert "valid_loss" in clf.history_[-1]


def test_l1_penalty_shrinks_weights(small_data):
    X, y = small_data
    w = [cheap(max_epochs=40, l1=l1).fit(X, y).module_.layers[0].weight.abs().mean().item()
         for l1 in (0.0, 0.01)]
    assert w[1] < 0.7 * w[0]


def test_batch_norm_and_dropout_build(small_data):
    X, y = small_data
    clf = cheap(batch_norm=True, dropout=0.2, activation="tanh").fit(X, y)
    kinds = [type(m).__name__ for m in clf.module_.layers]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "SeededDropout", "Linear"]
    assert clf.score(X, y) > 0.8


# --- sample weights -------------------------------------------------------------
def test_equal_sample_weights_are_the_unweighted_fit(small_data):
    X, y = small_data
    plain = cheap(max_epochs=10).fit(X, y)
    weighted = cheap(max_epochs=10).fit(X, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_array_equal(plain.predict_proba(X), weighted.predict_proba(X))


def test_sample_weights_steer_the_fit(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    net = MLPNetClassifier((32,), max_epochs=20, random_state=0)
    ignore_zeros = np.where(y_train == 0, 0.0, 1.0)
    plain = clone(net).fit(X_train, y_train)
    weighted = clone(net).fit(X_train, y_train, sample_weight=ignore_zeros)
    zeros = y_test == 0
    assert np.mean(plain.predict(X_test[zeros]) == 0) > 0.9
    assert np.mean(weighted.predict(X_test[zeros]) == 0) < 0.2  # class 0 carried no weight
    # the other classes are learnt as well as without weights
    assert weighted.score(X_test[~zeros], y_test[~zeros]) >= plain.score(X_test[~zeros], y_test[~zeros]) - 0.03
    again = clone(net).fit(X_train, y_train, sample_weight=ignore_zeros)
    np.testing.assert_array_equal(again.predict_proba(X_test), weighted.predict_proba(X_test))


@pytest.mark.parametrize("make", [
    lambda: MLPNetClassifier((8,), max_epochs=3, early_stopping=True, random_state=0),
    lambda: ConvNetClassifier((2, -1), channels=(4,), hidden_layer_sizes=(8,), max_epochs=3,
                              random_state=0),
    lambda: MLPNetRegressor((8,), max_epochs=3, early_stopping=True, random_state=0),
])
def test_sample_weights_in_every_net(small_data, make):
    X, y = small_data
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    est = make().fit(X, y, sample_weight=w)
    assert est.predict(X).shape == y.shape
    if "valid_acc" in est.history_[-1]:  # weighted validation accuracy, a number in [0, 1]
        assert 0 <= est.history_[-1, "valid_acc"] <= 1


@pytest.mark.parametrize("weights, match", [
    (lambda n: -np.ones(n), "Negative values in sample_weight"),
    (lambda n: np.zeros(n), "non-zero"),
    (lambda n: np.ones(n - 1), "shape"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
])
def test_bad_sample_weights_are_named(small_data, weights, match):
    X, y = small_data
    with pytest.raises(ValueError, match=match):
        cheap().fit(X, y, sample_weight=weights(len(y)))


def test_weighted_net_can_be_compressed_and_saved(small_data, tmp_path):
    import skensemble
    from sklearn.frozen import FrozenEstimator

    from skensemble.compression import PrunedClassifier

    X, y = small_data
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    net = cheap(hidden_layer_sizes=(16,), early_stopping=True, max_epochs=10).fit(X, y, sample_weight=w)
    pruned = PrunedClassifier(FrozenEstimator(net), granularity="neuron", fine_tune_epochs=2,
                              random_state=0).fit(X, y)
    assert pruned.estimator_.module_.layers[0].out_features == 8
    loaded = skensemble.load(skensemble.save(net, tmp_path / "w.zip"))
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))


# --- mixed precision ------------------------------------------------------------
@pytest.fixture(scope="module")
def amp_nets(digits_split):
    X_train, _, y_train, _ = digits_split
    make = lambda amp: MLPNetClassifier((64,), max_epochs=15, amp=amp, random_state=0)  # noqa: E731
    return {amp: make(amp).fit(X_train, y_train) for amp in (False, "bfloat16", "float16")}


@pytest.mark.parametrize("amp", ["bfloat16", "float16"])
def test_amp_trains_in_low_precision_to_full_accuracy(amp_nets, digits_split, amp):
    _, X_test, _, y_test = digits_split
    net, full = amp_nets[amp], amp_nets[False]
    assert net.net_.amp_dtype == getattr(torch, amp)
    assert next(net.module_.parameters()).dtype == torch.float32  # weights stay float32
    assert net.score(X_test, y_test) >= full.score(X_test, y_test) - 0.02
    proba = net.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    # predictions go through autocast: not the float32 forward of the same weights
    with torch.no_grad():
        fp32 = torch.softmax(net.module_(torch.as_tensor(net._validate_X(X_test[:50], reset=False))), 1)
    assert not np.allclose(proba[:50], fp32.numpy(), atol=1e-6)
    np.testing.assert_allclose(proba[:50], fp32.numpy(), atol=0.05)
    assert not hasattr(net.net_, "grad_scaler_")  # training state is not kept


def test_float16_amp_scales_the_loss(small_data, monkeypatch):
    X, y = small_data
    steps = []
    original = torch.amp.GradScaler.step
    monkeypatch.setattr(torch.amp.GradScaler, "step",
                        lambda self, opt, *a, **k: steps.append(self.get_scale()) or original(self, opt, *a, **k))
    net = cheap(amp="float16", max_epochs=3, batch_size=40).fit(X, y)
    assert len(steps) == 3 * 3  # one scaled step per batch (120 samples / 40)
    assert steps[0] == 2.0 ** 16
    assert len(cheap(amp="bfloat16", max_epochs=3, batch_size=40).fit(X, y).history_) == 3
    assert len(steps) == 9  # bfloat16 needs no scaling
    assert net.predict(X).shape == y.shape


class _GradNorms(Callback):
    """Records the total gradient norm ``on_grad_computed`` callbacks see, and the weights training starts from."""

    def initialize(self):
        self.norms = []
        return self

    def on_train_begin(self, net, **kwargs):
        self.start = {k: v.clone() for k, v in net.module_.state_dict().items()}

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def test_float16_gradients_are_unscaled_before_gradient_callbacks(small_data):
    """GradientNormClipping under float16 autocast clips the real gradients, not those times the loss scale."""
    from skorch.callbacks import GradientNormClipping

    X, y = small_data

    def fit(amp, clip=None):
        callbacks = [("norms", _GradNorms())] + ([("clip", GradientNormClipping(clip))] if clip else [])
        net = cheap(amp=amp, max_epochs=2, batch_size=40, optimizer="sgd", lr=0.1, callbacks=callbacks).fit(X, y)
        record = dict(net.net_.callbacks_)["norms"]
        moved = max(float((net.module_.state_dict()[k] - v).abs().max()) for k, v in record.start.items())
        return record.norms, moved

    (full, _), (half, _) = fit(False), fit("float16")
    ratios = np.array(half) / np.array(full)
    assert np.all((ratios > 0.5) & (ratios < 2))  # float16's rounding, not the 2**16 loss scale
    # clipped to 0.01, SGD moves the weights as far under float16 as under float32 (scaled gradients
    # clipped to 0.01 and unscaled after would move them 2**16 times less)
    moved = {amp: fit(amp, clip=0.01)[1] for amp in (False, "float16")}
    assert moved["float16"] > 0.5 * moved[False] > 0


def test_bfloat16_autocast_is_reproducible_and_saved(small_data, tmp_path):
    import skensemble

    X, y = small_data
    a = cheap(amp="bfloat16", max_epochs=5).fit(X, y)
    assert a.net_.amp_dtype == torch.bfloat16
    b = cheap(amp="bfloat16", max_epochs=5).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    loaded = skensemble.load(skensemble.save(a, tmp_path / "amp.zip"))
    np.testing.assert_array_equal(loaded.predict_proba(X), a.predict_proba(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(a)).predict_proba(X), a.predict_proba(X))
    with pytest.raises(ValueError, match="amp"):
        cheap(amp="int8").fit(X, y)


# --- amp chosen by the hardware ---------------------------------------------------
@pytest.mark.parametrize("amp", [True, "auto"])
def test_amp_without_native_bf16_trains_in_float32_with_one_warning(small_data, monkeypatch, amp):
    import warnings

    from skensemble.nets import _base

    monkeypatch.setattr(_base, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(_base, "cpu_capability", lambda: "AVX2")
    X, y = small_data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = MLPNetClassifier((8,), max_epochs=2, amp=amp, random_state=0).fit(X, y)
    messages = [str(w.message) for w in caught if "native bfloat16" in str(w.message)]
    assert len(messages) == 1 and "AVX2" in messages[0] and f"amp={amp!r}" in messages[0]
    assert net.amp_dtype_ == "float32" and net.net_.amp_dtype is None
    plain = MLPNetClassifier((8,), max_epochs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(net.predict_proba(X), plain.predict_proba(X))  # exactly the float32 fit


@pytest.mark.parametrize("amp", [True, "auto"])
def test_amp_with_native_bf16_uses_bfloat16_autocast_where_the_work_pays(small_data, monkeypatch, amp):
    """bfloat16 from BF16_MIN_WORK forward multiply-adds per training batch up, float32 below (no timing)."""
    from skensemble.nets import _base

    monkeypatch.setattr(_base, "cpu_has_bf16", lambda: True)
    X, y = small_data
    small = MLPNetClassifier((8,), max_epochs=2, amp=amp, random_state=0).fit(X, y)
    assert small.amp_dtype_ == "float32" and small.net_.amp_dtype is None
    plain = MLPNetClassifier((8,), max_epochs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(small.predict_proba(X), plain.predict_proba(X))  # exactly the float32 fit
    work = small.net_._work_per_step(np.asarray(X, dtype=np.float32))
    monkeypatch.setattr(_base, "BF16_MIN_WORK", work)  # this net's batch is now just enough
    net = MLPNetClassifier((8,), max_epochs=2, amp=amp, random_state=0).fit(X, y)
    assert net.amp_dtype_ == "bfloat16" and net.net_.amp_dtype == torch.bfloat16
    assert _base.amp_dtype(amp, "cpu", work=work - 1) == (None, None)
    assert _base.amp_dtype(amp, "cpu", work=None) == (torch.bfloat16, None)


def test_explicit_amp_dtype_is_used_as_asked(small_data, monkeypatch):
    from skensemble.nets import _base

    monkeypatch.setattr(_base, "cpu_has_bf16", lambda: False)
    X, y = small_data
    net = MLPNetClassifier((8,), max_epochs=1, amp="bfloat16", random_state=0).fit(X, y)
    assert net.amp_dtype_ == "bfloat16"
    assert MLPNetClassifier((8,), max_epochs=1, random_state=0).fit(X, y).amp_dtype_ == "float32"


@pytest.mark.parametrize("where", ["layer", "module", "global", "pre-hook"])
def test_hooks_see_every_prediction(small_data, where):
    """A prediction calls an MLP's layers' ``forward`` directly (torch's call machinery cost a third of its
    forward on one row) only where no hook would see them: a forward hook on a layer, on the module, a global
    one and a pre-hook all still run, and change the prediction they touch."""
    X, y = small_data
    net = cheap(hidden_layer_sizes=(8,)).fit(X, y)
    plain = net.predict_proba(X[:3])
    module = net.net_.module_
    calls = []

    def hook(mod, inputs, output):
        calls.append(type(mod).__name__)
        return output * 0 if isinstance(mod, torch.nn.Linear) and mod.out_features == len(net.classes_) else None

    def pre_hook(mod, inputs):
        calls.append(type(mod).__name__)
        return (inputs[0] * 0,)

    if where == "layer":
        handle = module.layers[-1].register_forward_hook(hook)
    elif where == "module":
        handle = module.register_forward_hook(lambda mod, i, out: calls.append("module") or out * 0)
    elif where == "global":
        handle = torch.nn.modules.module.register_module_forward_hook(hook)
    else:
        handle = module.layers[0].register_forward_pre_hook(pre_hook)
    try:
        hooked = net.predict_proba(X[:3])
    finally:
        handle.remove()
    assert calls
    if where != "pre-hook":  # zero logits: uniform probabilities
        np.testing.assert_allclose(hooked, 1 / len(net.classes_))
    else:
        assert not np.allclose(hooked, plain)
    np.testing.assert_array_equal(net.predict_proba(X[:3]), plain)
