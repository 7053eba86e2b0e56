"""Distillation: a small net student against its teacher and against hard-label training.

On digits, breast_cancer, wine and a non-linear synthetic task, averaged over
seeds (a new stratified 75/25 split and seed each time).  The teacher is a soft
``VotingClassifier`` of a random forest, histogram gradient boosting and a
calibrated SVC.  The student is ``MLPNetClassifier((32,))`` trained on hard
labels, or distilled without augmentation and with each augmentation.  X is
standardised (fitted on the training split) for every model.

Run: ``python benchmarks/bench_distillation.py [--quick]``; writes
``benchmarks/results/distillation.md``.
"""

import argparse
import warnings

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_moons
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from _common import markdown_table, write_result
from skensemble.compression import DistilledClassifier
from skensemble.nets import MLPNetClassifier
from skensemble.report import count_parameters, predict_latency


def synthetic(seed=0):
    """Two interleaved moons in 2 informative dims plus 8 noise dims."""
    X, y = make_moons(1500, noise=0.3, random_state=seed)
    rng = np.random.RandomState(seed)
    return np.hstack([X, rng.normal(size=(len(X), 8))]), y


TASKS = {
    "digits": lambda: load_digits(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "moons + 8 noise dims": synthetic,
}
VARIANTS = ["hard labels", "distilled, no augmentation", "distilled + noise",
            "distilled + mixup", "distilled + munge"]


def teacher_for(seed):
    return VotingClassifier(
        [("rf", RandomForestClassifier(300, random_state=seed)),
         ("hgb", HistGradientBoostingClassifier(random_state=seed)),
         ("svc", CalibratedClassifierCV(SVC(random_state=seed), ensemble=False))],
        voting="soft",
    )


def student(seed, epochs):
    return MLPNetClassifier((32,), max_epochs=epochs, random_state=seed)


def run_seed(X, y, seed, epochs):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    teacher = teacher_for(seed).fit(X_train, y_train)
    out = {"teacher": (teacher.score(X_test, y_test), teacher)}
    out["hard labels"] = (None, student(seed, epochs).fit(X_train, y_train))
    for name, aug in [("distilled, no augmentation", None), ("distilled + noise", "noise"),
                      ("distilled + mixup", "mixup"), ("distilled + munge", "munge")]:
        d = DistilledClassifier(FrozenEstimator(teacher), student(seed, epochs), augmentation=aug,
                                augment_factor=4, random_state=seed).fit(X_train, y_train)
        out[name] = (None, d)
    scores = {k: m.score(X_test, y_test) for k, (_, m) in out.items()}
    times = {k: predict_latency(m.predict, X_test, 256, n_repeats=5) for k, (_, m) in out.items()}
    params = count_parameters(out["hard labels"][1])
    return scores, times, params


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seeds = range(2) if args.quick else range(5)
    epochs = 30 if args.quick else 60
    rows, gains = [], []
    for task, load in TASKS.items():
        X, y = load()
        results = [run_seed(X, y, s, epochs) for s in seeds]
        mean = lambda key, i: float(np.mean([r[i][key] for r in results]))  # noqa: E731
        teacher_ms = 1000 * mean("teacher", 1)
        rows.append({"task": task, "model": "teacher (RF + HGB + SVC soft vote)",
                     "accuracy": mean("teacher", 0), "predict ms @256": teacher_ms,
                     "parameters": "-", "teacher / student time": 1.0})
        for v in VARIANTS:
            ms = 1000 * mean(v, 1)
            rows.append({"task": task, "model": f"MLP(32) {v}", "accuracy": mean(v, 0),
                         "predict ms @256": ms, "parameters": results[0][2],
                         "teacher / student time": teacher_ms / ms})
        gains.append({v: mean(v, 0) - mean("hard labels", 0) for v in VARIANTS[1:]})
    cols = ["task", "model", "accuracy", "predict ms @256", "parameters", "teacher / student time"]
    summary = (f"Mean over {len(list(seeds))} seeds; student trained {epochs} epochs (over the "
               f"transfer set of 5x the training rows when augmented).\n\n"
               "Accuracy gain over hard-label training of the same student, mean across "
               "tasks (per task in brackets, in the order of the table):\n\n"
               + "\n".join(f"- {v}: {np.mean([g[v] for g in gains]):+.4f} ("
                           + ", ".join(f"{g[v]:+.4f}" for g in gains) + ")"
                           for v in VARIANTS[1:]))
    write_result("distillation", "Distillation: students against teachers and hard-label training",
                 [("Results", summary + "\n\n" + markdown_table(rows, cols))],
                 "python benchmarks/bench_distillation.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        main()
