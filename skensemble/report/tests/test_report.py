import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from skensemble.compression import PrunedClassifier, QuantizedClassifier
from skensemble.report import (
    compression_report,
    count_parameters,
    pareto_front,
    predict_latency,
    saved_size_bytes,
)


@pytest.fixture(scope="module")
def report(digits_mlp_256, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    models = {
        "dense": digits_mlp_256,
        "pruned": PrunedClassifier(FrozenEstimator(digits_mlp_256), sparsity=0.5,
                                   granularity="neuron", random_state=0).fit(X_train, y_train),
        "int8": QuantizedClassifier(FrozenEstimator(digits_mlp_256)).fit(X_train, y_train),
        "lr": LogisticRegression(max_iter=2000).fit(X_train, y_train),
    }
    return compression_report(models, X_test, y_test, n_repeats=2), models


def test_report_measures_every_column(report, digits_split):
    rep, models = report
    _, X_test, _, y_test = digits_split
    d = rep.to_dict()
    assert list(d) == ["dense", "pruned", "int8", "lr"]
    assert d["dense"]["score"] == pytest.approx(models["dense"].score(X_test, y_test))
    assert d["dense"]["parameters"] == 85002 and d["lr"]["parameters"] is None
    assert d["pruned"]["parameters"] <= 0.3 * 85002
    assert d["int8"]["saved bytes"] < d["dense"]["saved bytes"] / 3.5
    assert d["dense"]["size ratio"] == 1.0 and d["dense"]["latency ratio @256"] == 1.0
    assert all(d[m][f"latency @{b}"] > 0 for m in d for b in (1, 256))
    frame = rep.to_frame()
    assert frame.loc["pruned", "parameters"] == d["pruned"]["parameters"]
    text = str(rep)
    assert "pruned" in text and "ratios relative to 'dense'" in text
    html = rep._repr_html_()
    assert html.count("<tr>") == 5 and "<th>saved bytes</th>" in html


def test_plot_writes_an_image(report, tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    rep, _ = report
    path = tmp_path / "report.png"
    rep.plot(path)
    with Image.open(path) as img:
        assert img.size == (1100, 450)
        assert len(img.convert("L").getcolors(maxcolors=256 * 256)) > 10  # not a blank canvas


def test_pareto_front():
    assert pareto_front([1, 2, 3, 4], [0.5, 0.9, 0.8, 0.95]) == [0, 1, 3]


def test_metric_helpers(digits_mlp_256, digits_split):
    _, X_test, _, _ = digits_split
    module = digits_mlp_256.module_
    assert count_parameters(module) == count_parameters(digits_mlp_256) == 85002
    assert saved_size_bytes(module) > 85002 * 4
    assert predict_latency(digits_mlp_256.predict, X_test, 64, n_repeats=3) > 0


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_int8_models_count_their_weights(digits_mlp_256, digits_split, backend):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    X_train, _, y_train, _ = digits_split
    q = QuantizedClassifier(FrozenEstimator(digits_mlp_256), backend=backend).fit(X_train, y_train)
    assert count_parameters(q) == 85002
    assert 0.9 * 85002 < count_parameters(q, nonzero=True) <= 85002


def test_report_errors(digits_mlp_256, digits_split):
    _, X_test, _, y_test = digits_split
    with pytest.raises(ValueError, match="empty"):
        compression_report({}, X_test, y_test)
    with pytest.raises(ValueError, match="reference 'x'"):
        compression_report({"a": digits_mlp_256}, X_test, y_test, reference="x")


def test_regression_report_has_r2_rmse_and_mae():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score

    from skensemble.compression import QuantizedRegressor
    from skensemble.nets import MLPNetRegressor

    X, y = load_diabetes(return_X_y=True)
    net = MLPNetRegressor((256, 256), max_epochs=10, lr=0.01, random_state=0).fit(X, y)
    models = {"net": net, "int8": QuantizedRegressor(FrozenEstimator(net)).fit(X, y),
              "ridge": Ridge().fit(X, y)}
    report = compression_report(models, X, y, batch_sizes=(8,), n_repeats=1)
    assert report.columns[:4] == ["model", "score", "RMSE", "MAE"] and report.score_name == "R^2"
    row = report.to_dict()["ridge"]
    assert row["score"] == pytest.approx(r2_score(y, models["ridge"].predict(X)))
    assert row["MAE"] == pytest.approx(mean_absolute_error(y, models["ridge"].predict(X)))
    assert row["RMSE"] >= row["MAE"] > 0
    assert report.to_dict()["int8"]["size ratio"] < 0.35
    assert "score = R^2" in str(report)


def test_calibration_columns_for_classifiers(digits_split):
    from sklearn.linear_model import LogisticRegression

    from skensemble.report import compression_report, expected_calibration_error

    X_train, X_test, y_train, y_test = digits_split
    lr = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    overconfident = LogisticRegression(C=1e4, max_iter=5000).fit(X_train, y_train)
    d = compression_report({"lr": lr, "sharp": overconfident}, X_test, y_test, n_repeats=1).to_dict()
    assert d["lr"]["ECE"] == expected_calibration_error(y_test, lr.predict_proba(X_test), lr.classes_)
    assert 0 <= d["lr"]["ECE"] < 0.1 and d["lr"]["log loss"] < d["sharp"]["log loss"]
    # perfectly confident and right: no calibration error; confident and wrong: all of it
    assert expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]], [0, 1]) == 0
    assert expected_calibration_error([1, 0], [[1.0, 0.0], [0.0, 1.0]], [0, 1]) == 1
