"""MLPNetClassifier against a plain torch loop, a bare skorch net and sklearn's MLP.

Same architecture (two hidden layers), optimiser (Adam), learning rate,
epochs and batch size for all; the mixed-precision row shows what ``amp``
costs or gains on this machine's CPU; every fit is timed in this one run, and
fit times are reported as ratios to the plain torch loop.

Run: ``python benchmarks/bench_nets.py [--quick]``; writes
``benchmarks/results/nets.md``.  To measure what a CPU with AVX2 only does
(no AVX-512, no native bfloat16) on a newer CPU, cap torch's and oneDNN's
kernels: ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python
benchmarks/bench_nets.py --name nets_avx2``.
"""

import argparse
import os
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from skorch import NeuralNetClassifier
from torch import nn

from _common import markdown_table, median_time, write_result
from skensemble.nets import MLPNetClassifier
from skensemble.nets._modules import MLPModule

HIDDEN = (256, 256)
AMP = "skensemble MLPNetClassifier amp='bfloat16' (autocast forced)"
AMP_AUTO = "skensemble MLPNetClassifier amp='auto' (bfloat16 where native, else float32)"
LR = 1e-3


def plain_torch_fit(X, y, epochs, batch_size, seed=0):
    """The reference: a hand-written loop over tensor slices."""
    torch.manual_seed(seed)
    module = MLPModule(X.shape[1], int(y.max()) + 1, HIDDEN)
    opt = torch.optim.Adam(module.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(len(Xt))
        Xs, ys = Xt[perm], yt[perm]
        for i in range(0, len(Xt), batch_size):
            opt.zero_grad()
            loss = loss_fn(module(Xs[i : i + batch_size]), ys[i : i + batch_size])
            loss.backward()
            opt.step()
            loss.item()  # the same sync that skorch does to log the loss
    return module.eval()


def plain_predict(module, X):
    with torch.no_grad():
        return module(torch.as_tensor(X)).argmax(1).numpy()


def run_task(name, X, y, epochs, batch_size, repeats):
    X = X.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    y_train64 = y_train.astype(np.int64)
    K = int(y.max()) + 1
    fitted = {}

    def fit_plain():
        fitted["plain torch loop"] = plain_torch_fit(X_train, y_train64, epochs, batch_size)

    def fit_ours():
        fitted["skensemble MLPNetClassifier"] = MLPNetClassifier(
            HIDDEN, max_epochs=epochs, batch_size=batch_size, lr=LR, random_state=0
        ).fit(X_train, y_train)

    def fit_amp():
        fitted[AMP] = MLPNetClassifier(
            HIDDEN, max_epochs=epochs, batch_size=batch_size, lr=LR, amp="bfloat16", random_state=0
        ).fit(X_train, y_train)

    def fit_amp_auto():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the fallback's warning, once per fit
            fitted[AMP_AUTO] = MLPNetClassifier(
                HIDDEN, max_epochs=epochs, batch_size=batch_size, lr=LR, amp="auto", random_state=0
            ).fit(X_train, y_train)

    def fit_skorch():
        torch.manual_seed(0)
        fitted["bare skorch NeuralNetClassifier"] = NeuralNetClassifier(
            MLPModule, module__n_features=X.shape[1], module__n_outputs=K,
            module__hidden_layer_sizes=HIDDEN, criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam, lr=LR, max_epochs=epochs, batch_size=batch_size,
            train_split=None, iterator_train__shuffle=True, verbose=0,
        ).fit(X_train, y_train64)

    def fit_sklearn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted["sklearn MLPClassifier"] = MLPClassifier(
                HIDDEN, learning_rate_init=LR, max_iter=epochs, batch_size=batch_size,
                tol=0, n_iter_no_change=epochs + 1, alpha=0.0, random_state=0,
            ).fit(X_train, y_train)

    fits = {
        "plain torch loop": fit_plain,
        "skensemble MLPNetClassifier": fit_ours,
        AMP: fit_amp,
        AMP_AUTO: fit_amp_auto,
        "bare skorch NeuralNetClassifier": fit_skorch,
        "sklearn MLPClassifier": fit_sklearn,
    }
    # Interleave the repeats so that machine noise hits every method alike.
    times = {k: [] for k in fits}
    for k, f in fits.items():  # warm-up round
        f()
    for _ in range(repeats):
        for k, f in fits.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    fit_s = {k: float(np.median(v)) for k, v in times.items()}

    predictors = {
        "plain torch loop": lambda: plain_predict(fitted["plain torch loop"], X_test),
        "skensemble MLPNetClassifier": lambda: fitted["skensemble MLPNetClassifier"].predict(X_test),
        AMP: lambda: fitted[AMP].predict(X_test),
        AMP_AUTO: lambda: fitted[AMP_AUTO].predict(X_test),
        "bare skorch NeuralNetClassifier": lambda: fitted["bare skorch NeuralNetClassifier"].predict(X_test),
        "sklearn MLPClassifier": lambda: fitted["sklearn MLPClassifier"].predict(X_test),
    }
    rows = []
    for k in fits:
        pred = predictors[k]()
        rows.append({
            "model": k,
            "fit s": fit_s[k],
            "fit / plain torch": fit_s[k] / fit_s["plain torch loop"],
            "predict ms": 1000 * median_time(predictors[k], repeats=5),
            "accuracy": float(np.mean(pred == y_test)),
        })
    ref = next(r["predict ms"] for r in rows if r["model"] == "plain torch loop")
    for r in rows:
        r["predict / plain torch"] = r["predict ms"] / ref
    header = (f"{name}: {len(X_train)} train / {len(X_test)} test samples, {X.shape[1]} features, "
              f"{K} classes; MLP {HIDDEN}, Adam lr={LR}, {epochs} epochs, batch {batch_size}; "
              f"median of {repeats} interleaved fits after one warm-up round.")
    cols = ["model", "fit s", "fit / plain torch", "predict ms", "predict / plain torch", "accuracy"]
    return header + "\n\n" + markdown_table(rows, cols)


GRIDS = {"small sizes": [(32,), (64,), (128,), (64, 64)],
         "medium sizes": [(64,), (128,), (256,), (256, 256)]}


def small_grid_section(repeats):
    """GridSearchCV of 4 MLP sizes x 3 folds on digits, 20 epochs, n_jobs=1: skensemble against sklearn."""
    from sklearn.model_selection import GridSearchCV

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rows = []
    for batch in (200, 128):
        for grid_name, sizes in GRIDS.items():
            searches = {
                "skensemble": lambda: GridSearchCV(MLPNetClassifier(max_epochs=20, batch_size=batch, lr=LR,
                                                                    random_state=0),
                                                   {"hidden_layer_sizes": sizes}, cv=3).fit(X, y),
                "sklearn": lambda: GridSearchCV(MLPClassifier(max_iter=20, batch_size=batch,
                                                              learning_rate_init=LR, random_state=0),
                                                {"hidden_layer_sizes": sizes}, cv=3).fit(X, y),
            }
            best = {}
            times = {k: [] for k in searches}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for fit in searches.values():
                    fit()  # warm-up
                for _ in range(repeats):
                    for k, fit in searches.items():
                        start = time.perf_counter()
                        best[k] = fit().best_score_
                        times[k].append(time.perf_counter() - start)
            med = {k: float(np.median(v)) for k, v in times.items()}
            rows.append({"grid": f"{grid_name} {sizes}", "batch": batch, "skensemble s": med["skensemble"],
                         "sklearn s": med["sklearn"], "skensemble / sklearn": med["skensemble"] / med["sklearn"],
                         "best CV accuracy skensemble": best["skensemble"], "best CV accuracy sklearn": best["sklearn"]})
    return (f"`GridSearchCV` over 4 `hidden_layer_sizes` x 3 folds (13 fits with the refit), 20 epochs, Adam "
            f"lr={LR}, `n_jobs=1`, digits scaled to [0, 1]; `MLPNetClassifier` against scikit-learn's "
            f"`MLPClassifier` with the same grid and batch size; median of {repeats} interleaved rounds after a "
            "warm-up round.\n\n" + markdown_table(rows, list(rows[0])))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller 50k task, 1 repeat")
    parser.add_argument("--name", default="nets", help="results file name (e.g. nets_avx2 for a run under "
                                                        "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2)")
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    sections = [("digits", run_task("digits", X, y, epochs=30, batch_size=128,
                                    repeats=1 if args.quick else 5))]
    n = 10_000 if args.quick else 50_000
    X, y = make_classification(n, 100, n_informative=40, n_classes=10, random_state=0)
    sections.append((f"make_classification {n} x 100",
                     run_task("synthetic", X, y, epochs=10, batch_size=128,
                              repeats=1 if args.quick else 5)))
    sections.append(("Small data: a grid search on digits", small_grid_section(1 if args.quick else 5)))
    emulated = {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ}
    prefix = " ".join(f"{k}={v}" for k, v in emulated.items())
    command = (prefix + " " if prefix else "") + "python benchmarks/bench_nets.py" + \
        (" --quick" if args.quick else "") + (f" --name {args.name}" if args.name != "nets" else "")
    write_result(args.name, "Nets: fit and predict cost against plain torch, skorch and sklearn", sections, command)


if __name__ == "__main__":
    main()
