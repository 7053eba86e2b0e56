"""A scikit-learn pipeline ending in a skensemble estimator exports to one ONNX graph (skl2onnx)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skensemble.compression import (PrunedClassifier, PrunedRegressor, QuantizedClassifier, QuantizedRegressor)
from skensemble.export import onnx_inputs, to_onnx
from skensemble.nets import MLPNetClassifier, MLPNetRegressor

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def table():
    """Numbers with missing values, text with missing values and unseen levels, string labels."""
    rng = np.random.RandomState(0)
    n = 300
    df = pd.DataFrame({"age": rng.normal(40, 10, n), "income": rng.lognormal(10, 1, n),
                       "city": rng.choice(["paris", "oslo", "rome"], n).astype(object),
                       "plan": rng.choice(["a", "b"], n).astype(object)})
    df.loc[::9, "age"] = np.nan
    df.loc[::7, "city"] = np.nan  # as read_csv gives it (pandas 2 keeps None apart, which the imputer keeps)
    score = (df["age"].fillna(40) - 40) / 10 + (df["city"] == "oslo") * 1.5 + rng.normal(0, 0.3, n)
    labels = np.where(score > 0.5, "high", np.where(score > -0.5, "mid", "low"))
    return df, labels, score.to_numpy()


def _preprocessing():
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["age", "income"]),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), ["city", "plan"]),
    ])


def _run(path, X):
    session = ort.InferenceSession(str(path))
    return {o.name: v for o, v in zip(session.get_outputs(), session.run(None, onnx_inputs(X)))}


def _net(task):
    if task == "classifier":
        return MLPNetClassifier((16,), max_epochs=30, random_state=0)
    return MLPNetRegressor((16,), max_epochs=30, random_state=0)


CASES = {
    "net": lambda task, net: net,
    "pruned": lambda task, net: (PrunedClassifier if task == "classifier" else PrunedRegressor)(
        net, sparsity=0.5, granularity="neuron", fine_tune_epochs=2, random_state=0),
    "int8": lambda task, net: (QuantizedClassifier if task == "classifier" else QuantizedRegressor)(
        net, backend="onnxruntime", random_state=0),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("task", ["classifier", "regressor"])
def test_a_raw_table_pipeline_exports_to_one_graph(table, tmp_path, task, case):
    df, labels, score = table
    y = labels if task == "classifier" else score
    model = make_pipeline(_preprocessing(), CASES[case](task, _net(task))).fit(df, y)
    new = df.copy()
    new.loc[0, "city"] = "lima"  # a level the one-hot encoder never saw
    path = to_onnx(model, tmp_path / "model.onnx", X=df.head())
    out = _run(path, new)
    # int8 graphs: ONNX Runtime's quantized kernels inside skl2onnx's graph against the same graph in
    # the estimator; the same 1e-5 tolerance as the quantization tests' ONNX checks
    if task == "classifier":
        np.testing.assert_allclose(out["probabilities"], model.predict_proba(new), atol=1e-5)
        np.testing.assert_array_equal(out["label"], model.predict(new))
        assert out["label"].dtype.kind in "OU" and set(out["label"]) <= {"high", "mid", "low"}
    else:
        np.testing.assert_allclose(out["variable"].ravel(), model.predict(new), rtol=1e-5, atol=1e-5)


def test_integer_labels_and_multi_output_regression(table, tmp_path):
    df, labels, score = table
    numbers = df[["age", "income"]]
    clf = make_pipeline(SimpleImputer(), StandardScaler(),
                        MLPNetClassifier((8,), max_epochs=20, random_state=0)).fit(numbers, (score > 0).astype(int))
    out = _run(to_onnx(clf, tmp_path / "c.onnx", X=numbers), numbers)
    np.testing.assert_array_equal(out["label"], clf.predict(numbers))
    Y = np.column_stack([score, 2 * score + 1])
    reg = make_pipeline(SimpleImputer(), StandardScaler(),
                        MLPNetRegressor((8,), max_epochs=20, random_state=0)).fit(numbers, Y)
    out = _run(to_onnx(reg, tmp_path / "r.onnx", X=numbers), numbers)
    np.testing.assert_allclose(out["variable"], reg.predict(numbers), rtol=1e-5, atol=1e-5)


def test_a_numeric_array_pipeline_needs_no_sample(tmp_path):
    rng = np.random.RandomState(0)
    X, y = rng.rand(80, 5), rng.randint(0, 3, 80)
    model = make_pipeline(StandardScaler(), FrozenEstimator(
        MLPNetClassifier((8,), max_epochs=5, random_state=0).fit(StandardScaler().fit_transform(X), y)))
    model.fit(X, y)
    out = _run(to_onnx(model, tmp_path / "m.onnx"), X)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), atol=1e-5)


def test_a_step_skl2onnx_cannot_convert_is_named(table, tmp_path):
    from sklearn.base import BaseEstimator, TransformerMixin

    class Doubler(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return 2 * np.asarray(X, dtype=float)

    df, labels, _ = table
    numbers = df[["age", "income"]].fillna(0)
    model = make_pipeline(Doubler(), MLPNetClassifier((4,), max_epochs=2, random_state=0)).fit(numbers, labels)
    with pytest.raises(ValueError, match="skl2onnx cannot export this Pipeline.*Doubler"):
        to_onnx(model, tmp_path / "x.onnx", X=numbers)
    with pytest.raises(ValueError, match="needs X="):
        to_onnx(model, tmp_path / "x.onnx")
