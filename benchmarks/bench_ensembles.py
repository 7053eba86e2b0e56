"""Ensembles: parallel fit speed-up, accuracy against members and sklearn, cascade cost.

1. Fitting 4 ``MLPNetClassifier`` (256, 256) members on a 50,000 x 100 task
   with ``VotingClassifier(n_jobs=1)`` and ``n_jobs=2``, next to the same
   plain torch fits run by raw joblib with one torch thread per job.
2. On digits (stratified 75/25, random_state=0): each skensemble ensemble
   against its members and against scikit-learn's own ensembles of the same
   members.
3. The cascade's accuracy and predict time against its last stage alone.
4. Fused training: 4 same-shape MLP members trained as one batched module
   (``DeepEnsembleClassifier(fused=True)``) against the same 4 fits one
   after the other, on digits and on the 50,000-row task.

Run: ``python benchmarks/bench_ensembles.py [--quick]``; writes
``benchmarks/results/ensembles.md``.
"""

import argparse
import itertools
import time

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.ensemble import StackingClassifier as SkStacking
from sklearn.ensemble import VotingClassifier as SkVoting
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from _common import markdown_table, write_result
from skensemble.report import interleaved_times
from bench_nets import plain_torch_fit
from skensemble.ensemble import (
    CascadeClassifier,
    DeepEnsembleClassifier,
    EnsembleSelectionClassifier,
    StackingClassifier,
    VotingClassifier,
)
from skensemble.nets import MLPNetClassifier


def _plain_one_thread(X, y, epochs, seed):
    torch.set_num_threads(1)
    return plain_torch_fit(X, y, epochs, 128, seed)


def parallel_section(n, epochs, repeats):
    X, y = make_classification(n, 100, n_informative=40, n_classes=10, random_state=0)
    X = X.astype(np.float32)
    y64 = y.astype(np.int64)
    members = [(f"net{s}", MLPNetClassifier((256, 256), max_epochs=epochs, random_state=s)) for s in range(4)]
    runs = {
        "skensemble VotingClassifier n_jobs=1": lambda: VotingClassifier(members, voting="soft", n_jobs=1,
                                                                         fused=False).fit(X, y),
        "skensemble VotingClassifier n_jobs=2": lambda: VotingClassifier(members, voting="soft", n_jobs=2,
                                                                         fused=False).fit(X, y),
        "skensemble VotingClassifier, members fused (the default)": lambda: VotingClassifier(
            members, voting="soft").fit(X, y),
        "sklearn VotingClassifier n_jobs=2 (same members)": lambda: SkVoting(members, voting="soft", n_jobs=2).fit(X, y),
        "raw joblib, plain torch loops, n_jobs=1": lambda: Parallel(n_jobs=1)(
            delayed(plain_torch_fit)(X, y64, epochs, 128, s) for s in range(4)),
        "raw joblib, plain torch loops (1 thread each), n_jobs=2": lambda: Parallel(n_jobs=2)(
            delayed(_plain_one_thread)(X, y64, epochs, s) for s in range(4)),
    }
    times = interleaved_times(runs, repeats=repeats, warmup=1)
    base = times["skensemble VotingClassifier n_jobs=1"]
    raw_base = times["raw joblib, plain torch loops, n_jobs=1"]
    rows = [{"run": k, "seconds": v, "speed-up vs its n_jobs=1": (raw_base if k.startswith("raw") else base) / v}
            for k, v in times.items()]
    return (f"4 members MLP (256, 256), {epochs} epochs, batch 128, on make_classification {n} x 100 "
            f"(10 classes); median of {repeats} interleaved rounds after a warm-up round (which "
            "also starts the loky workers).\n\n"
            "The members differ only in their seeds, so by default skensemble trains them fused; the "
            "parallel rows set `fused=False`.\n\n"
            + markdown_table(rows, ["run", "seconds", "speed-up vs its n_jobs=1"]))


def fused_section(n, epochs, repeats):
    """K same-shape members trained fused against the same K fits one after the other."""
    X, y = load_digits(return_X_y=True)
    big_X, big_y = make_classification(n, 100, n_informative=40, n_classes=10, random_state=0)
    tasks = [("digits", X, y, (64,), 30), ("digits", X, y, (256, 256), 30),
             (f"make_classification {n} x 100", big_X.astype(np.float32), big_y, (256, 256), epochs)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])  # a CUDA row where a GPU is present
    peak = {device: _peak_flops(device) for device in devices}
    rows = []
    for (task, A, b, hidden, n_epochs), device in [(t, d) for d in devices for t in tasks]:
        A_train, A_test, b_train, b_test = train_test_split(A, b, test_size=0.25, stratify=b, random_state=0)
        net = MLPNetClassifier(hidden, max_epochs=n_epochs, random_state=0, device=device)
        fitted = {}

        def run(fused, net=net, A_train=A_train, b_train=b_train, fitted=fitted):
            fitted[fused] = DeepEnsembleClassifier(net, n_estimators=4, fused=fused, random_state=0).fit(
                A_train, b_train)

        kernels = _kernels_alone(A_train, b_train, hidden, n_epochs, 4, 128, device)
        times = interleaved_times({"separate": lambda: run(False), "fused": lambda: run(True), "kernels": kernels},
                                  repeats=repeats, warmup=1)
        gaps = [abs(f.score(A_test, b_test) - s.score(A_test, b_test))
                for f, s in zip(fitted[True].estimators_, fitted[False].estimators_)]
        floor = _product_flops(A.shape[1], hidden, len(np.unique(b)), len(A_train), n_epochs, 4) / peak[device]
        rows.append({"task": task, "device": device, "members": f"4 x MLP {hidden}, {n_epochs} epochs, batch 128",
                     "4 separate fits s": times["separate"], "fused s": times["fused"],
                     "speed-up": times["separate"] / times["fused"],
                     "kernels alone s": times["kernels"], "kernels' speed-up": times["separate"] / times["kernels"],
                     "products at peak s": floor, "speed-up bound": times["separate"] / floor,
                     "largest member accuracy gap": max(gaps),
                     "ensemble accuracy": fitted[True].score(A_test, b_test)})
    cols = list(rows[0])
    return ("`DeepEnsembleClassifier(net, n_estimators=4, fused=True)` against `fused=False` (the same 4 "
            "members fitted one after the other, `n_jobs=1`), on the 75% training split; median of "
            f"{repeats} interleaved rounds after a warm-up round. The accuracy gap compares each fused member "
            "with its separately trained twin (same seed) on the held-out 25%. *Products at peak* is the time "
            "the fit's matrix products alone (forward, weight and input gradients of every member) would take "
            "at this machine's float32 peak, measured in the same run as a 2048 x 2048 product at "
            f"{', '.join(f'{d}: {v / 1e9:.0f} GFLOP/s' for d, v in peak.items())}; *speed-up bound* is the "
            "separate fits' time over it, the most any fused fit could gain with every other cost at zero. "
            "*Kernels alone* runs the fused fit's kernels back to back with nothing else around them (measured "
            "in the same rounds): the members' batches gathered, every product batched over the members, the "
            "ReLUs and their gradients, the loss and its gradient, the bias sums and one `torch.optim.Adam` "
            "step of the stacks (fused kernel) per batch; no callbacks, history, checks or exact per-member "
            "products, so no fused fit of these members can take less; *kernels' speed-up* is the separate "
            "fits' time over it. "
            "Rows on `cuda` run only where a GPU is present.\n\n"
            + markdown_table(rows, cols))


def _kernels_alone(X, y, hidden, epochs, n_members, batch_size, device):
    """A callable running a fused fit's kernels alone on ``(X, y)``: the floor of any fused fit's time.

    Per batch, for the ``n_members`` stacked MLPs (ReLU, cross-entropy):
    each member's rows gathered, the batched forward products, ReLUs, the
    loss gradient, the batched weight and input gradients, bias sums, and
    one step of ``torch.optim.Adam`` (fused kernel) over the stacks.
    """
    X = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    labels = torch.as_tensor(np.unique(y, return_inverse=True)[1], device=device)
    sizes = [X.shape[1], *hidden, int(labels.max()) + 1]
    generator = torch.Generator(device).manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(n_members, b, a, generator=generator, device=device) / a ** 0.5)
               for a, b in itertools.pairwise(sizes)]
    biases = [torch.nn.Parameter(torch.zeros(n_members, 1, b, device=device)) for b in sizes[1:]]
    for p in (*weights, *biases):
        p.grad = torch.zeros_like(p)
    optimizer = torch.optim.Adam([*weights, *biases], lr=1e-3, fused=True)
    minus_one = torch.full((n_members, batch_size, 1), -1.0, device=device)

    def step(idx):
        h = X.index_select(0, idx.reshape(-1)).view(n_members, idx.shape[1], -1)
        target = torch.gather(labels.expand(n_members, -1), 1, idx).unsqueeze(-1)
        inputs, outputs = [], []
        for i, (W, b) in enumerate(zip(weights, biases)):
            inputs.append(h)
            h = torch.baddbmm(b, h, W.transpose(1, 2))
            if i < len(weights) - 1:
                h = h.relu_()
                outputs.append(h)
        g = torch.softmax(h, -1).scatter_add_(-1, target, minus_one[:, : idx.shape[1]]).div_(idx.shape[1])
        for i in range(len(weights) - 1, -1, -1):
            if i < len(weights) - 1:
                g = g.masked_fill_(outputs[i] <= 0, 0.0)
            torch.bmm(g.transpose(1, 2), inputs[i], out=weights[i].grad)
            torch.sum(g, 1, keepdim=True, out=biases[i].grad)
            if i:
                g = torch.bmm(g, weights[i])
        optimizer.step()

    def fit():
        with torch.no_grad():
            for _ in range(epochs):
                order = torch.stack([torch.randperm(len(X), generator=generator, device=device)
                                     for _ in range(n_members)])
                for lo in range(0, len(X), batch_size):
                    step(order[:, lo:lo + batch_size])
        if device == "cuda":
            torch.cuda.synchronize()

    return fit


def _product_flops(n_features, hidden, n_classes, n_rows, epochs, n_members):
    """Floating-point operations of the matrix products of fitting ``n_members`` MLPs: per row and layer,
    the forward product, the weight gradient and (past the first layer) the input gradient."""
    sizes = [n_features, *hidden, n_classes]
    macs = [a * b for a, b in itertools.pairwise(sizes)]
    return 2 * n_rows * epochs * n_members * (3 * sum(macs) - macs[0])


def _peak_flops(device, n=2048, repeats=10):
    """Float32 matrix-product rate (FLOP/s) of one large product on ``device``, best of ``repeats``."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 2):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def accuracy_section():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    members = [(f"mlp{s}", MLPNetClassifier((128,), random_state=s)) for s in range(3)]
    members += [("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
                ("rf", RandomForestClassifier(300, random_state=0)),
                ("svc", make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(), ensemble=False)))]
    rows = []
    for name, est in members:
        m = clone(est).fit(X_train, y_train)
        rows.append({"model": f"member {name}", "accuracy": m.score(X_test, y_test)})
    best = max(r["accuracy"] for r in rows)
    models = {
        "skensemble VotingClassifier (soft)": VotingClassifier(members, voting="soft", n_jobs=2),
        "sklearn VotingClassifier (soft)": SkVoting(members, voting="soft", n_jobs=2),
        "skensemble StackingClassifier (cv=5)": StackingClassifier(members, n_jobs=2),
        "sklearn StackingClassifier (cv=5)": SkStacking(members, n_jobs=2),
        "skensemble EnsembleSelectionClassifier (cv=5, 50 rounds)": EnsembleSelectionClassifier(members, n_jobs=2),
    }
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(X_train, y_train)
        rows.append({"model": name, "accuracy": model.score(X_test, y_test),
                     "fit s": time.perf_counter() - t})
    for r in rows:
        r["vs best member"] = r["accuracy"] - best
    return ("Members and ensembles on digits (stratified 75/25 split, random_state=0).\n\n"
            + markdown_table(rows, ["model", "accuracy", "vs best member", "fit s"]))


def cascade_section():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    big = MLPNetClassifier((1024, 1024), max_epochs=30, random_state=0)
    last = clone(big).fit(X_train, y_train)
    X_big = np.concatenate([X_test] * 10)
    models = {"last stage alone: MLP (1024, 1024)": last}
    for threshold in (0.9, 0.99):
        models[f"cascade LR -> MLP, threshold {threshold}"] = CascadeClassifier(
            [("lr", lr), ("mlp", big)], threshold=threshold).fit(X_train, y_train)
    times = interleaved_times({k: (lambda m=m: m.predict(X_big)) for k, m in models.items()}, repeats=7)
    t_last = times["last stage alone: MLP (1024, 1024)"]
    rows = []
    for name, m in models.items():
        first = float(np.mean(m.predict_stage(X_test) == 0)) if hasattr(m, "predict_stage") else 0.0
        rows.append({"model": name, "accuracy": m.score(X_test, y_test), "decided by stage 1": first,
                     "predict ms (4,500 rows)": 1000 * times[name], "speed-up": t_last / times[name]})
    return ("digits; predict time on the test split repeated 10 times.\n\n"
            + markdown_table(rows, ["model", "accuracy", "decided by stage 1",
                                    "predict ms (4,500 rows)", "speed-up"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, epochs, repeats = (10_000, 3, 1) if args.quick else (50_000, 10, 3)
    sections = [("Parallel member fits", parallel_section(n, epochs, repeats)),
                ("Fused training of same-shape members", fused_section(n, epochs, repeats)),
                ("Accuracy: ensembles, members and scikit-learn's ensembles", accuracy_section()),
                ("Cascade: accuracy and predict cost", cascade_section())]
    write_result("ensembles", "Ensembles: parallel fits, accuracy and cascade cost", sections,
                 "python benchmarks/bench_ensembles.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()
