"""TableEncoder and raw tables in the tabular nets (issue 29)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

import skensemble
from skensemble.compression import DistilledClassifier, PrunedClassifier, QuantizedClassifier
from skensemble.nets import MLPNetClassifier, MLPNetRegressor, ResNetRegressor, TabMClassifier
from skensemble.export import onnx_inputs, to_onnx
from skensemble.preprocessing import TableEncoder
from skensemble.preprocessing._table import needs_encoding, smooth_clip


def _table(n=400, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame({
        "income": np.exp(rng.normal(10, 1, n)),  # skewed, with outliers
        "age": np.where(rng.rand(n) < 0.15, np.nan, rng.uniform(18, 80, n)),
        "city": pd.Series(rng.choice(["Oslo", "Rome", "Lima", None], n, p=[0.4, 0.3, 0.2, 0.1]), dtype=object),
        "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        "active": rng.rand(n) > 0.3,
    })
    score = (np.log(X.income) - 10) + (X.city == "Oslo") - (X.plan == "pro") + 0.02 * X.age.fillna(50)
    y = np.where(score + rng.normal(0, 0.3, n) > 0.9, "churn", "stay")
    return X, y, score.to_numpy()


def test_encoder_recipe_numbers():
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 100.0, np.nan]})
    standard = TableEncoder(scaling="standard").fit(X)
    assert standard.center_[0] == 3.0 and standard.scale_[0] == pytest.approx(np.std([1, 2, 3, 4, 100]))
    weighted = TableEncoder(scaling="standard").fit(X, sample_weight=[2, 1, 1, 1, 1, 1])  # a row twice
    assert weighted.scale_[0] == pytest.approx(np.std([1, 1, 2, 3, 4, 100]))
    # the default: the standard deviation, or the interquartile range / 1.349 where smaller (a heavy tail)
    assert TableEncoder().fit(X).scale_[0] == pytest.approx(2 / 1.349)
    normal = np.random.RandomState(0).normal(size=(2000, 1)) * 5
    assert TableEncoder().fit(normal).scale_[0] == pytest.approx(np.std(normal), rel=0.05)
    zero_iqr = np.array([[0.0]] * 8 + [[1.0], [9.0]])  # interquartile range 0: the standard deviation
    assert TableEncoder().fit(zero_iqr).scale_[0] == pytest.approx(np.std(zero_iqr))
    enc = TableEncoder(scaling="robust").fit(X)
    assert enc.center_[0] == 3.0 and enc.scale_[0] == 2.0  # median and interquartile range of the five numbers
    out = enc.transform(X)
    np.testing.assert_allclose(out[:, 0], smooth_clip((np.array([1, 2, 3, 4, 100, 3.0]) - 3) / 2), rtol=1e-6)
    assert out[4, 0] < 3.0  # the outlier is bounded
    np.testing.assert_array_equal(out[:, 1], [0, 0, 0, 0, 0, 1])  # the missing indicator
    assert list(enc.get_feature_names_out()) == ["x", "x_missing"]


def test_encoder_categories_missing_unseen_and_the_cap():
    X = pd.DataFrame({"c": ["a", "b", "a", None, "c", "a"]})
    enc = TableEncoder(max_categories=2).fit(X)
    assert enc.categories_ == [["a", "b"]]  # by frequency; "c" beyond the cap shares "other"
    out = enc.transform(pd.DataFrame({"c": ["a", None, "zzz", "c"]}))
    np.testing.assert_array_equal(out, [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]])


def test_encoder_refuses_infinity_and_a_text_value_in_a_numeric_column():
    enc = TableEncoder().fit(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="infinity"):
        enc.transform(pd.DataFrame({"x": [np.inf, 1.0]}))
    with pytest.raises(ValueError, match="not numbers"):
        enc.transform(pd.DataFrame({"x": ["a", "b"]}))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_a_large_array_is_cast_and_checked_as_a_small_one(dtype):
    """From 65,536 cells the cast and the infinity check run in torch (a sum first): same rows, same refusals."""
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(1100, 64)) * 100).astype(dtype)  # 70,400 cells
    enc = TableEncoder().fit(X)
    big = enc.transform(X)
    np.testing.assert_array_equal(big[:50], np.vstack([enc.transform(X[i:i + 1]) for i in range(50)]))
    read_only = X.copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(enc.transform(read_only), big)
    if dtype is np.int64:
        return
    with_nan = X.copy()
    with_nan[5, 3] = np.nan  # missing: the sum is NaN, the value-by-value check finds no infinity
    assert np.isfinite(enc.transform(with_nan)).all()
    for bad in (np.inf, -np.inf, 1e39 if dtype is np.float64 else np.inf):
        with_inf = X.copy()
        with_inf[700, 10] = bad
        with pytest.raises(ValueError, match="infinity"):
            enc.transform(with_inf)
        with_inf.flags.writeable = False
        with pytest.raises(ValueError, match="infinity"):
            enc.transform(with_inf)


def test_inverse_transform_round_trips_the_table():
    X, _, _ = _table(50)
    enc = TableEncoder().fit(X)
    back = enc.inverse_transform(enc.transform(X))
    np.testing.assert_allclose(back["income"], X["income"], rtol=1e-4)
    np.testing.assert_allclose(back["age"], X["age"], rtol=1e-4)
    assert (back["city"].fillna("NA") == X["city"].fillna("NA")).all()
    assert (back["plan"] == X["plan"]).all() and (back["active"] == X["active"]).all()


def test_needs_encoding():
    assert not needs_encoding(np.ones((3, 2)))
    assert needs_encoding(np.array([[1.0, np.nan]]))
    assert needs_encoding(pd.DataFrame({"a": ["x"]}))
    assert not needs_encoding(pd.DataFrame({"a": [1.0]}))


@pytest.fixture(scope="module")
def churn():
    return _table()


@pytest.mark.parametrize("make", [
    lambda: MLPNetClassifier((32,), max_epochs=40, random_state=0),
    lambda: TabMClassifier(k=4, d_block=32, batch_size=64, random_state=0),
])
def test_a_raw_table_fits_predicts_and_round_trips(churn, make, tmp_path):
    X, y, _ = churn
    est = make().fit(X.iloc[:300], y[:300])
    assert est.n_features_in_ == 5 and est.table_encoder_.n_features_out_ == 2 + 1 + 5 + 4 + 4
    assert est.score(X.iloc[300:], y[300:]) >= 0.8
    proba = est.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X), proba)
    skensemble.save(est, tmp_path / "m.zip")
    np.testing.assert_array_equal(skensemble.load(tmp_path / "m.zip").predict_proba(X), proba)
    unseen = X.iloc[:3].assign(city=["Paris", None, "Oslo"])  # an unseen and a missing category
    assert np.all(np.isfinite(est.predict_proba(unseen)))


def test_numeric_tables_go_through_the_encoder_unless_auto_or_none(churn):
    X, y, score = churn
    numeric = X[["income"]].assign(age=X.age.fillna(50))
    est = MLPNetRegressor((8,), max_epochs=2, random_state=0).fit(numeric, score)  # the default: "always"
    encoder = est.table_encoder_
    spikes = int(numeric.age.eq(50).mean() >= 0.1)  # the filled ages: a spike, marked
    assert encoder.n_features_out_ == 2 + spikes and list(encoder.spike_values_) == [50.0] * spikes
    auto = MLPNetRegressor((8,), max_epochs=2, preprocessing="auto", random_state=0).fit(numeric, score)
    assert not hasattr(auto, "table_encoder_")  # "auto": only tables with text or missing values
    assert hasattr(auto.fit(X, score), "table_encoder_")
    with pytest.raises(ValueError, match="NaN"):
        MLPNetRegressor(preprocessing=None).fit(X[["age"]], score)


def test_a_spike_gets_an_indicator_in_every_encoding_path(tmp_path):
    """A value held by a tenth of a many-valued column's rows is marked: transform, a few rows (NumPy), the layer
    on many rows (torch), the ONNX graph, names, inverse_transform, weights and an old file without spikes."""
    rng = np.random.default_rng(0)
    spent = np.where(rng.random(400) < 0.3, 0.0, rng.gamma(2.0, 100.0, 400))
    X = pd.DataFrame({"spent": spent, "age": rng.integers(18, 80, 400).astype(float),
                      "dice": rng.integers(1, 7, 400).astype(float), "city": rng.choice(["a", "b"], 400)})
    X.loc[:5, "spent"] = np.nan
    encoder = TableEncoder().fit(X)
    assert encoder.spiked_ == [0] and list(encoder.spike_values_) == [0.0]  # not age (no spike), not dice (6 values)
    names = list(encoder.get_feature_names_out())
    assert names[:5] == ["spent", "age", "dice", "spent_missing", "spent_is_0"] and encoder.n_features_out_ == 9
    encoded = encoder.transform(X)
    np.testing.assert_array_equal(encoded[:, 4], np.where(X.spent == 0, 1.0, -1.0))  # missing is not the spike
    few = encoder.transform(X.iloc[:20])  # NumPy's kernels, bit for bit the layer's
    np.testing.assert_array_equal(few, encoded[:20])
    back = encoder.inverse_transform(encoded)
    np.testing.assert_array_equal(back.spent.to_numpy() == 0, X.spent.to_numpy() == 0)
    weighted = TableEncoder().fit(X, sample_weight=np.where(X.spent == 0, 0.01, 1.0))
    assert weighted.spiked_ == []  # the zeros weigh little: no spike
    net = MLPNetClassifier((8,), max_epochs=2, random_state=0).fit(X, X.age > 50)
    path = tmp_path / "m.onnx"
    to_onnx(net, path)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = onnx_inputs(X, [i.name for i in session.get_inputs()])
    np.testing.assert_allclose(_softmax(session.run(None, feed)[0]), net.predict_proba(X), atol=1e-5)
    state = {k: v for k, v in vars(encoder).items() if k not in ("spiked_", "spike_values_")}
    old = TableEncoder.__new__(TableEncoder)
    old.__setstate__(state)  # pickled before spike indicators
    assert old.spiked_ == [] and old.get_feature_names_out()[-1] == "city_other"
    assert old.transform(X).shape == (400, 8)  # its layer rebuilt without the spike


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_scaling_inside_the_net_helps_a_skewed_table(churn):
    X, y, _ = churn
    numeric = X[["income"]].assign(age=X.age.fillna(50))
    raw = MLPNetClassifier((32,), max_epochs=30, preprocessing="auto", random_state=0).fit(
        numeric.iloc[:300], y[:300])
    scaled = MLPNetClassifier((32,), max_epochs=30, random_state=0).fit(numeric.iloc[:300], y[:300])
    assert scaled.score(numeric.iloc[300:], y[300:]) > raw.score(numeric.iloc[300:], y[300:])


def test_wrappers_take_the_raw_table(churn):
    X, y, _ = churn
    net = MLPNetClassifier((32,), max_epochs=30, random_state=0)
    for wrapper in (PrunedClassifier(net, sparsity=0.5, granularity="neuron", fine_tune_epochs=3, random_state=0),
                    QuantizedClassifier(net, random_state=0),
                    DistilledClassifier(TabMClassifier(k=4, d_block=32, batch_size=64, random_state=0),
                                        MLPNetClassifier((16,), max_epochs=30, random_state=0), random_state=0)):
        wrapper.fit(X.iloc[:300], y[:300])
        assert wrapper.score(X.iloc[300:], y[300:]) >= 0.75, type(wrapper).__name__


class _RecordingTeacher(ClassifierMixin, BaseEstimator):
    """A teacher that reads raw tables (through a net) and records what it is asked to label."""

    seen = []

    def fit(self, X, y):
        self.model_ = MLPNetClassifier((8,), max_epochs=5, random_state=0).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        type(self).seen.append(X)
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = tags.input_tags.string = True
        return tags


def test_distillation_decodes_synthetic_rows_for_the_teacher(churn):
    X, y, _ = churn
    _RecordingTeacher.seen.clear()
    DistilledClassifier(_RecordingTeacher(), MLPNetClassifier((8,), max_epochs=2, random_state=0),
                        augment_factor=2, random_state=0).fit(X, y)
    table = pd.concat(_RecordingTeacher.seen)
    assert len(table) == 3 * len(X) and list(table.columns) == list(X.columns)
    assert set(table["city"].dropna()) <= {"Oslo", "Rome", "Lima"}
    assert table["age"].isna().mean() > 0.05  # synthetic rows keep missing values


def test_resnet_takes_a_raw_regression_table(churn):
    X, _, score = churn
    reg = ResNetRegressor(width=16, n_blocks=1, max_epochs=30, random_state=0).fit(X.iloc[:300], score[:300])
    assert reg.score(X.iloc[300:], score[300:]) > 0.5


def test_weights_of_the_encoders_statistics_are_repeated_rows():
    """A row of weight 2 is the row twice, a row of weight 0 is absent: medians, scales, categories, indicators."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.lognormal(size=30), "city": rng.choice(["a", "b", "c"], size=30)})
    X.loc[3, "x"] = np.nan
    weights = rng.integers(0, 4, size=30)
    weights[3] = 0  # the only missing value has weight 0: no indicator
    weighted = TableEncoder().fit(X, sample_weight=weights)
    repeated = TableEncoder().fit(X.loc[X.index.repeat(weights)])
    for name in ("center_", "scale_", "indicated_", "categories_", "n_features_out_"):
        np.testing.assert_array_equal(getattr(weighted, name), getattr(repeated, name))
    assert weighted.indicated_ == [] and TableEncoder().fit(X).indicated_ == [0]
    np.testing.assert_array_equal(weighted.transform(X), repeated.transform(X))


def _mixed(n, seed=0):
    """A table with every kind of categorical value: text (with None), ints and booleans in object columns,
    a category column, a bool column and numbers with NaN."""
    rng = np.random.RandomState(seed)
    return pd.DataFrame({
        "x": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(5, 2, n)),
        "text": pd.Series(rng.choice(["a", "b", "c", None], n), dtype=object),
        "ints": pd.Series(rng.choice([1, 2, 3], n), dtype=object).astype(str).where(rng.rand(n) > 0.5,
                                                                                     rng.choice([1, 2], n)),
        "cat": pd.Categorical(rng.choice(["lo", "hi"], n)),
        "flag": rng.rand(n) > 0.5,
    })


def test_the_encoding_is_a_float32_torch_layer_equal_to_the_recipe():
    X = _mixed(300)
    enc = TableEncoder().fit(X)
    assert isinstance(enc.encoding_, torch.nn.Module)
    rows = enc.raw_rows(X)
    assert rows.dtype == np.float32 and rows.shape == (300, 1 + 4)  # one number, four category codes
    out = enc.transform(X)
    assert out.dtype == np.float32 and out.shape == (300, enc.n_features_out_)
    np.testing.assert_array_equal(enc.encode(X).numpy(), out)
    z = (np.where(np.isnan(X["x"]), enc.center_[0], X["x"]) - enc.center_[0]) / enc.scale_[0]
    np.testing.assert_allclose(out[:, 0], smooth_clip(z), rtol=1e-6, atol=1e-6)  # float64 recipe, float32 layer
    np.testing.assert_array_equal(out[:, 1], X["x"].isna())


@pytest.mark.parametrize("n", [1, 5, 64, 65, 500])
def test_short_and_long_tables_encode_alike_with_unseen_and_missing_values(n):
    """Tables up to 64 rows go through one object matrix and dictionary lookups, longer ones column by column
    and vectorised lookups: both give every row the same codes, whatever the values' types."""
    X = _mixed(400)
    enc = TableEncoder().fit(X)
    rows = _mixed(n, seed=1)
    rows.loc[rows.index[0], "text"] = "unseen"
    rows["ints"] = rows["ints"].where(np.arange(n) != min(1, n - 1), None)
    alone = np.vstack([enc.transform(rows.iloc[[i]]) for i in range(n)])
    np.testing.assert_array_equal(enc.transform(rows), alone)  # a row encodes alike alone and in any batch
    text = [c for c in enc.get_feature_names_out() if c.startswith("text")]
    block = enc.transform(rows)[:, [list(enc.get_feature_names_out()).index(c) for c in text]]
    assert block[0, text.index("text_other")] == 1  # unseen
    np.testing.assert_array_equal(block.sum(axis=1), 1)  # one code per row


def test_the_torch_layer_is_rebuilt_on_load_and_pickle(tmp_path):
    X = _mixed(200)
    enc = TableEncoder().fit(X)
    skensemble.save(enc, tmp_path / "enc.zip")
    for back in (skensemble.load(tmp_path / "enc.zip"), pickle.loads(pickle.dumps(enc))):
        assert isinstance(back.encoding_, torch.nn.Module)
        np.testing.assert_array_equal(back.transform(X), enc.transform(X))


def test_few_rows_encode_in_numpy_bit_for_bit_as_the_layer():
    """``TableEncoding.encode_few`` (NumPy's kernels, what a prediction on a few rows uses) equals the torch
    layer exactly: random statistics, missing numbers, numbers that overflow, indicators and categories."""
    from skensemble.preprocessing._table_module import TableEncoding

    rng = np.random.RandomState(0)
    for _ in range(60):
        n_numeric, sizes = rng.randint(0, 30), list(rng.randint(3, 9, rng.randint(0, 4)))
        n_numeric += not (n_numeric or sizes)
        n = rng.randint(1, 200)
        indicated = sorted(rng.choice(n_numeric, rng.randint(0, n_numeric + 1), replace=False))
        layer = TableEncoding(rng.normal(0, 10, n_numeric), np.exp(rng.normal(0, 3, n_numeric)), indicated, sizes)
        numbers = (rng.standard_cauchy((n, n_numeric)) * np.exp(rng.normal(0, 5, (n, n_numeric)))).astype(np.float32)
        numbers[rng.rand(n, n_numeric) < 0.1] = np.nan
        numbers[0, 0] = 3e38  # beyond float32 once scaled: the largest float32, as torch's nan_to_num_
        codes = [rng.randint(0, s, (n, 1)) for s in sizes]
        rows = np.hstack([numbers] + codes).astype(np.float32)
        with torch.inference_mode():
            expected = layer(torch.from_numpy(rows.copy()))
        got = layer.encode_few(rows)
        assert got.dtype == torch.float32 and torch.equal(got, expected)


@pytest.mark.parametrize("kind", ["float64", "float32", "int64", "fortran", "frame32", "missing"])
def test_encoding_in_place_never_touches_the_callers_table(kind):
    """A large numeric array of another dtype than float32 is converted, and its float32 copy encoded in place
    (a 12.8 MB tensor less on 4096 x 784); the caller's table is never written and the rows equal the layer's."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 50)) * 10
    if kind == "missing":
        X[::7, 3] = np.nan
    encoder = TableEncoder().fit(X)
    given = {"float64": lambda: X, "float32": lambda: X.astype(np.float32), "int64": lambda: X.astype(np.int64),
             "missing": lambda: X, "fortran": lambda: np.asfortranarray(X.astype(np.float32)),
             "frame32": lambda: pd.DataFrame(X.astype(np.float32))}[kind]()
    before = np.array(given, copy=True)
    got = encoder.encode(given)
    np.testing.assert_array_equal(np.asarray(given), before)
    with torch.no_grad():
        expected = encoder.encoding_(torch.from_numpy(encoder.raw_rows(before if kind != "frame32" else given)))
    assert torch.equal(got, expected)
