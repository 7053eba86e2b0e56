"""Pruning: accuracy, size and predict time of pruned nets against the dense net.

For sparsity 0.5/0.75/0.9 and both granularities of ``PrunedClassifier``, on
digits and on a 784-input synthetic task, with ``torch.nn.utils.prune`` L1
masks (live masks, and masks removed into dense zeros) as comparison rows.
Neuron rows use the default ``round_to=8`` (aligned layer sizes) and
``round_to=None`` (exactly the requested fraction).  All timings in one
run, round-robin over the models (median of repeats);
predict time is the module forward (``torch.inference_mode``), as a ratio to
the dense net.

Run: ``python benchmarks/bench_pruning.py [--quick]``; writes
``benchmarks/results/pruning.md``.
"""

import argparse
import copy

import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from torch.nn.utils import prune

from _common import interleaved_latency, markdown_table, module_predictor, write_result
from skensemble.compression import PrunedClassifier
from skensemble.nets import MLPNetClassifier
from skensemble.report import count_parameters, saved_size_bytes

BATCHES = (1, 64, 4096)


def torch_prune_masks(module, sparsity, remove):
    module = copy.deepcopy(module)
    params = [(m, "weight") for m in module.modules() if isinstance(m, torch.nn.Linear)]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=sparsity)
    if remove:
        for m, name in params:
            prune.remove(m, name)
    return module


def run_task(X, y, hidden, epochs, fine_tune, sparsities, repeats):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    dense = MLPNetClassifier(hidden, max_epochs=epochs, random_state=0).fit(X_train, y_train)
    X_test32 = X_test.astype("float32")
    models = {"dense": (dense.module_, dense.score(X_test, y_test))}
    for sparsity in sparsities:
        for granularity, round_to in (("neuron", 8), ("neuron", None), ("weight", 8)):
            pruned = PrunedClassifier(
                FrozenEstimator(dense), sparsity=sparsity, granularity=granularity,
                n_steps=1 if granularity == "neuron" else 3, fine_tune_epochs=fine_tune,
                round_to=round_to, random_state=0,
            ).fit(X_train, y_train)
            suffix = ", round_to=None" if round_to is None else ""
            models[f"skensemble {granularity} {sparsity}{suffix}"] = (
                pruned.estimator_.module_, pruned.score(X_test, y_test))
        for remove in (False, True):
            masked = torch_prune_masks(dense.module_, sparsity, remove)
            with torch.inference_mode():
                acc = float((masked(torch.as_tensor(X_test32)).argmax(1).numpy() == y_test).mean())
            label = "removed" if remove else "live masks"
            models[f"torch.nn.utils.prune {sparsity} ({label}, no fine-tune)"] = (masked, acc)
    times = interleaved_latency({k: module_predictor(m) for k, (m, _) in models.items()},
                                X_test32, BATCHES, repeats=repeats)
    rows = []
    for name, (module, acc) in models.items():
        hidden = [m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear)][:-1]
        row = {"model": name, "hidden": "-".join(map(str, hidden)), "accuracy": acc,
               "parameters": count_parameters(module),
               "non-zero": count_parameters(module, nonzero=True),
               "saved bytes": saved_size_bytes(module)}
        for b in BATCHES:
            row[f"ms @{b}"] = 1000 * times[name][b]
            row[f"speedup @{b}"] = times["dense"][b] / times[name][b]
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cols = ["model", "hidden", "accuracy", "parameters", "non-zero", "saved bytes"]
    cols += [f"ms @{b}" for b in BATCHES] + [f"speedup @{b}" for b in BATCHES]
    sparsities = (0.5, 0.9) if args.quick else (0.5, 0.75, 0.9)
    sections = []
    X, y = load_digits(return_X_y=True)
    repeats = 5 if args.quick else 15
    rows = run_task(X, y, (256, 256), 60, 5, sparsities, repeats)
    sections.append(("digits, MLP 64-256-256-10",
                     "Stratified 75/25 split, random_state=0; dense trained 60 epochs; "
                     "neuron pruning in 1 step, weight pruning in 3 steps, 5 fine-tune "
                     "epochs per step.\n\n" + markdown_table(rows, cols)))
    n = 4000 if args.quick else 12000
    X, y = make_classification(n, 784, n_informative=40, n_redundant=0, n_classes=10,
                               class_sep=2.0, random_state=0)
    rows = run_task(X.astype("float32"), y, (1024, 1024), 5 if args.quick else 8, 2, sparsities, repeats)
    sections.append((f"synthetic {n} x 784, MLP 784-1024-1024-10",
                     "make_classification(n_informative=40, class_sep=2, 10 classes); dense trained "
                     f"{5 if args.quick else 8} epochs; 2 fine-tune epochs per step.\n\n"
                     + markdown_table(rows, cols)))
    write_result("pruning", "Pruning: accuracy, size and speed against the dense net", sections,
                 "python benchmarks/bench_pruning.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()
