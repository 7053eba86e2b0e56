import numpy as np
import pytest
from sklearn.datasets import load_wine

import skensemble
from skensemble.__main__ import main


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    pd = pytest.importorskip("pandas")
    X, y = load_wine(return_X_y=True, as_frame=True)
    X["region"] = np.where(X["alcohol"] > 13, "north", "south")
    X["label"] = np.array(["barolo", "grignolino", "barbera"])[y]
    path = tmp_path_factory.mktemp("data") / "wine.csv"
    X.to_csv(path, index=False)
    return path, pd


def test_compress_saves_a_model_that_loads_and_predicts(wine_csv, tmp_path, capsys):
    path, pd = wine_csv
    assert main(["compress", str(path), "--target", "label", "--out", str(tmp_path), "--quick"]) == 0
    assert "Chosen:" in capsys.readouterr().out
    model = skensemble.load(tmp_path / "model.zip")
    df = pd.read_csv(path)
    y = df.pop("label")
    assert set(model.predict(df)) <= set(y)
    assert (model.predict(df) == y).mean() > 0.85
    report = (tmp_path / "report.md").read_text()
    assert "| net |" in report and "Chosen:" in report


@pytest.mark.parametrize(
    "edit, args, message",
    [
        (None, ["missing.csv", "--target", "label"], "No such file"),
        (None, ["{csv}", "--target", "nope"], "Target column 'nope' is not in"),
        (lambda df: df.assign(label="same"), ["{csv}", "--target", "label"], "only one class"),
        (lambda df: df.assign(region=[f"id{i}" for i in range(len(df))]), ["{csv}", "--target", "label"],
         "Column 'region' is not numeric"),
        (lambda df: df.assign(ash=np.nan), ["{csv}", "--target", "label"], "missing values"),
    ],
)
def test_compress_errors(wine_csv, tmp_path, capsys, edit, args, message):
    path, pd = wine_csv
    if edit is not None:
        bad = tmp_path / "bad.csv"
        edit(pd.read_csv(path)).to_csv(bad, index=False)
        path = bad
    argv = ["compress"] + [a.format(csv=path) for a in args] + ["--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_demo_quick_prints_the_report(tmp_path, capsys):
    main(["demo", "--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    for name in ("base net", "pruned 75%", "int8", "pruned + int8", "ensemble", "distilled"):
        assert name in out
    assert (tmp_path / "report.md").exists()
