# %% [markdown]
# # The table encoder's scale: standard deviation or interquartile range (issue 40)
#
# The tabular nets encode every table (``preprocessing="always"``); each
# numeric column is centred on its median, divided by a scale and smoothly
# clipped.  Three scales side by side, as the nets' encoder:
# ``scaling="auto"`` (the standard deviation, or the interquartile range over
# 1.349 where smaller), ``scaling="standard"`` (the standard deviation) and
# ``scaling="robust"`` (the interquartile range, RealMLP's), and no encoding
# at all (``preprocessing=None``):
#
# * digits behind a ``StandardScaler`` and as they are, MLP (32,) and (64,),
#   20 epochs, 2-fold stratified CV (the habit of scikit-learn users: arrays
#   they already scale);
# * the six classification tables of ``bench_tabular.py`` (diamonds is a
#   regression table; none sampled), 5 splits 75/25, ``MLPNetClassifier`` and
#   ``ResNetClassifier`` with their defaults on the raw table.
#
# Run alone: ``python benchmarks/bench_tabular_scaling.py``; writes
# ``benchmarks/results/tabular_scaling.md``.  ``CHANGELOG.md`` cites it.

# %%
import contextlib
import functools
import sys
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import markdown_table, write_result
from bench_tabular import TABLES, load
from skensemble.nets import MLPNetClassifier, ResNetClassifier
from skensemble.preprocessing import TableEncoder
from skensemble.nets import _base

RULES = ("auto", "standard", "robust")
SPLITS = range(int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--splits=")), 5)))


@contextlib.contextmanager
def nets_scale_by(scaling):
    """The nets fit their table encoder with ``scaling`` for the block (a candidate default, measured)."""
    saved = _base.TableEncoder
    _base.TableEncoder = functools.partial(TableEncoder, scaling=scaling)
    try:
        yield
    finally:
        _base.TableEncoder = saved


def digits_rows():
    X, y = load_digits(return_X_y=True)
    rows = []
    for scaled in (True, False):
        for hidden in ((32,), (64,)):
            row = {"data": "digits" + (" behind StandardScaler" if scaled else ""), "MLP": str(hidden)}
            for rule in (None, *RULES):
                net = MLPNetClassifier(hidden, max_epochs=20, random_state=0,
                                       preprocessing=None if rule is None else "always")
                model = make_pipeline(StandardScaler(), net) if scaled else net
                with nets_scale_by(rule or "standard"):
                    scores = cross_val_score(model, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0))
                row["preprocessing=None" if rule is None else rule] = float(scores.mean())
            for rule in RULES:
                row[f"{rule} - None (points)"] = 100 * (row[rule] - row["preprocessing=None"])
            rows.append(row)
            print(row, flush=True)
    return rows


def table_rows(make, label):
    rows, means = [], {rule: [] for rule in RULES}
    for name, source, target, task, log_target, n_rows in TABLES:
        if task != "classification":
            continue
        X, y = load(source, target, log_target, n_rows)
        row = {"net": label, "table": name}
        for rule in RULES:
            acc, loss = [], []
            for split in SPLITS:
                X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=split,
                                                                    stratify=y)
                with nets_scale_by(rule):
                    model = make().fit(X_train, y_train)
                acc.append(accuracy_score(y_test, model.predict(X_test)))
                loss.append(log_loss(y_test, model.predict_proba(X_test), labels=model.classes_))
            row[f"{rule} accuracy"], row[f"{rule} log loss"] = float(np.mean(acc)), float(np.mean(loss))
            means[rule].append(np.mean(acc))
        rows.append(row)
        print(row, flush=True)
    rows.append({"net": label, "table": "mean", **{f"{rule} accuracy": float(np.mean(v)) for rule, v in means.items()},
                 **{f"{rule} - robust (points)": 100 * float(np.mean(means[rule]) - np.mean(means["robust"]))
                    for rule in RULES[:-1]}})
    return rows


# %%
if __name__ == "__main__":
    import skensemble

    skensemble.show_versions()
    warnings.filterwarnings("ignore")
    digits = digits_rows()
    tables = (table_rows(lambda: MLPNetClassifier(random_state=0), "MLPNet")
              + table_rows(lambda: ResNetClassifier(random_state=0), "ResNet"))
    write_result("tabular_scaling", "The table encoder's scale: standard deviation, interquartile range or the smaller", [
        ("Digits, 20 epochs, 2-fold CV (accuracy)",
         markdown_table(digits, ["data", "MLP", "preprocessing=None", *RULES,
                                 *[f"{rule} - None (points)" for rule in RULES]])),
        (f"Classification tables of bench_tabular.py, {len(SPLITS)} splits, defaults on the raw table",
         markdown_table(tables, ["net", "table", *[f"{r} {m}" for r in RULES for m in ("accuracy", "log loss")],
                                 *[f"{rule} - robust (points)" for rule in RULES[:-1]]])),
    ], "python benchmarks/bench_tabular_scaling.py")
