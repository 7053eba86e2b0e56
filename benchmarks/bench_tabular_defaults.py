# %% [markdown]
# # Defaults of the tabular nets on real tables (issue 29)
#
# The six classification tables of ``bench_tabular.py``, 3 stratified 75/25
# splits each: candidate defaults of ``MLPNetClassifier`` and
# ``ResNetClassifier`` side by side (today's defaults behind the benchmark's
# imputer + scaler + one-hot pipeline; early stopping; the nets' own table
# encoder, ``preprocessing="always"``; numerical embeddings; label smoothing;
# width).  Reported: accuracy per table and its mean, mean log loss, total fit
# seconds.  ``CHANGELOG.md`` cites it for ``ResNet*``'s ``early_stopping=True``.
#
# Run: ``python benchmarks/bench_tabular_defaults.py``; writes
# ``benchmarks/results/tabular_defaults.md``.

# %%
import time
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from _common import markdown_table, write_result
from bench_tabular import TABLES, encoder, load
from skensemble.nets import MLPNetClassifier, ResNetClassifier

SPLITS = range(3)
OWN = dict(early_stopping=True, preprocessing="always", random_state=0)
VARIANTS = {
    "MLPNet: defaults (pipeline)": lambda: make_pipeline(encoder(), MLPNetClassifier(random_state=0)),
    "MLPNet: early stopping, own encoder": lambda: MLPNetClassifier(**OWN),
    "MLPNet: + label smoothing 0.1": lambda: MLPNetClassifier(**OWN, net_params={"criterion__label_smoothing": 0.1}),
    "MLPNet: + (256, 256)": lambda: MLPNetClassifier((256, 256), **OWN),
    "MLPNet: + periodic embeddings": lambda: MLPNetClassifier(num_embeddings="periodic", **OWN),
    "MLPNet: + piecewise-linear embeddings": lambda: MLPNetClassifier(num_embeddings="piecewise_linear", **OWN),
    "MLPNet: + piecewise-linear, patience 20": lambda: MLPNetClassifier(
        num_embeddings="piecewise_linear", n_iter_no_change=20, **OWN),
    "ResNet: no early stopping (pipeline; the old default)": lambda: make_pipeline(
        encoder(), ResNetClassifier(early_stopping=False, random_state=0)),
    "ResNet: defaults (pipeline; early stopping)": lambda: make_pipeline(encoder(), ResNetClassifier(random_state=0)),
    "ResNet: early stopping, own encoder": lambda: ResNetClassifier(preprocessing="always", random_state=0),
    "ResNet: + dropout 0.1, weight decay 1e-4": lambda: make_pipeline(encoder(), ResNetClassifier(
        dropout=0.1, weight_decay=1e-4, random_state=0)),
}


def main():
    results = {label: {} for label in VARIANTS}
    tables = [t for t in TABLES if t[3] == "classification"]
    for name, source, target, task, log_target, rows in tables:
        X, y = load(source, target, log_target, rows)
        for split in SPLITS:
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=split,
                                                                stratify=y)
            for label, make in VARIANTS.items():
                model = make()
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train, y_train)
                seconds = time.perf_counter() - start
                proba = model.predict_proba(X_test)
                classes = model.classes_
                results[label].setdefault(name, []).append(
                    (accuracy_score(y_test, classes[proba.argmax(1)]), log_loss(y_test, proba, labels=classes),
                     seconds))
        print(name, flush=True)
    rows = []
    for label, per in results.items():
        accs = [np.mean([r[0] for r in v]) for v in per.values()]
        losses = [np.mean([r[1] for r in v]) for v in per.values()]
        row = {"variant": label, "mean accuracy": 100 * float(np.mean(accs))}
        row.update({name: 100 * float(a) for name, a in zip(per, accs)})
        row.update({"mean log loss": float(np.mean(losses)),
                    "log loss per table": ", ".join(f"{v:.3f}" for v in losses),
                    "fit s (total)": float(sum(r[2] for v in per.values() for r in v))})
        rows.append(row)
    write_result("tabular_defaults", "Defaults of the tabular nets on real tables",
                 [(f"{len(tables)} classification tables, {len(SPLITS)} splits (accuracy in %)",
                   markdown_table(rows, list(rows[0])))], "python benchmarks/bench_tabular_defaults.py")


if __name__ == "__main__":
    main()
