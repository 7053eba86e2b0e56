# %% [markdown]
# # The defaults, measured
#
# The evidence behind three defaults (``CHANGELOG.md``), side by side in one run:
#
# * ``optimizer="sgd"`` (momentum 0.9 with Nesterov, ``lr=None`` = 0.01) against
#   Adam and against plain SGD at 0.001 (the old default): training accuracy
#   after the default 100 epochs on scaled wine and digits, 5 seeds;
# * ``PrunedClassifier()`` with its defaults (``granularity="auto"``, 50%)
#   against the dense MLP it prunes: parameters, held-out accuracy and
#   ``predict_proba`` time at batch 4096 (the two alternate call by call);
# * ``amp="auto"`` against float32 on the nets of ``benchmarks/bench_nets.py``
#   (which ``amp="auto"`` keeps in float32 below 100 million multiply-adds per
#   training batch; ``benchmarks/bench_amp.py`` has the crossover).
#
# Run: ``python benchmarks/bench_defaults.py [--quick]``; writes
# ``benchmarks/results/defaults.md``.

# %%
import statistics
import sys
import time

import numpy as np
from sklearn.datasets import load_digits, load_wine, make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from _common import markdown_table, write_result
from skensemble.compression import PrunedClassifier
from skensemble.nets import MLPNetClassifier
from skensemble.utils._torch import count_params

QUICK = "--quick" in sys.argv
SEEDS = range(2 if QUICK else 5)


def sgd_section():
    rows = []
    for name, loader in (("wine", load_wine), ("digits", load_digits)):
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        settings = {
            "adam (default)": {},
            "sgd (default: momentum 0.9, Nesterov, lr 0.01)": {"optimizer": "sgd"},
            "sgd without momentum, lr 0.001 (the old default)": {
                "optimizer": "sgd", "lr": 1e-3, "net_params": {"optimizer__momentum": 0.0}},
        }
        for label, params in settings.items():
            scores = [MLPNetClassifier(random_state=s, **params).fit(X, y).score(X, y) for s in SEEDS]
            rows.append({"data": name, "optimizer": label, "training accuracy (mean)": np.mean(scores),
                         "min": np.min(scores)})
    return (f"MLP (128,), 100 epochs, batch 128, standardised inputs; {len(SEEDS)} seeds.\n\n"
            + markdown_table(rows, list(rows[0])))


def _alternating(fns, X, repeats):
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn(X)
    for _ in range(repeats):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn(X)
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def pruning_section():
    rows = []
    data = {"digits": load_digits(return_X_y=True),
            "synthetic 20,000 x 100": make_classification(20000, 100, n_informative=30, n_classes=5,
                                                          random_state=0)}
    for name, (X, y) in data.items():
        X = X.astype(np.float32)
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        for hidden in ((100,), (256, 256)):
            dense = MLPNetClassifier(hidden, max_epochs=20, random_state=0).fit(X_train, y_train)
            pruned = PrunedClassifier(FrozenEstimator(dense), random_state=0).fit(X_train, y_train)
            batch = np.resize(X_test, (4096, X.shape[1]))
            t = _alternating({"dense": dense.predict_proba, "pruned": pruned.predict_proba}, batch,
                             10 if QUICK else 30)
            rows.append({"data": name, "MLP": str(hidden), "granularity_": pruned.granularity_,
                         "dense parameters": count_params(dense.module_), "pruned parameters": pruned.n_params_,
                         "dense accuracy": dense.score(X_test, y_test), "pruned accuracy": pruned.score(X_test, y_test),
                         "dense ms @4096": t["dense"] * 1e3, "pruned ms @4096": t["pruned"] * 1e3,
                         "speed-up": t["dense"] / t["pruned"]})
    return ("Dense MLP fitted 20 epochs; `PrunedClassifier(FrozenEstimator(dense))` with every default "
            "(50%, `granularity=\"auto\"`, 5 fine-tuning epochs); predict_proba medians.\n\n"
            + markdown_table(rows, list(rows[0])))


def amp_section():
    rows = []
    X, y = load_digits(return_X_y=True)
    Xs, ys = make_classification(20000 if QUICK else 50000, 100, n_informative=40, n_classes=10,
                                 random_state=0)
    cases = [("digits", X.astype(np.float32), y, 30), ("make_classification", Xs.astype(np.float32), ys, 3)]
    for name, X, y, epochs in cases:
        times = {"float32": [], "auto": []}
        chosen = None
        for _ in range(1 if QUICK else 3):
            for amp in times:
                start = time.perf_counter()
                net = MLPNetClassifier((256, 256), max_epochs=epochs, amp=False if amp == "float32" else amp,
                                       random_state=0).fit(X, y)
                times[amp].append(time.perf_counter() - start)
                if amp == "auto":
                    chosen = net.amp_dtype_
        f32, auto = statistics.median(times["float32"]), statistics.median(times["auto"])
        rows.append({"data": name, "net": "MLP (256, 256), batch 128", "amp='auto' chose": chosen,
                     "float32 fit s": f32, "amp='auto' fit s": auto, "auto / float32": auto / f32})
    return ("The (256, 256) MLP of `benchmarks/bench_nets.py`, fits alternating; median.\n\n"
            + markdown_table(rows, list(rows[0])))


def main():
    sections = [("optimizer='sgd'", sgd_section()), ("PrunedClassifier() with its defaults", pruning_section()),
                ("amp='auto'", amp_section())]
    write_result("defaults", "The defaults, measured", sections,
                 "python benchmarks/bench_defaults.py" + (" --quick" if QUICK else ""))


if __name__ == "__main__":
    main()
