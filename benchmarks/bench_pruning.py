"""Pruning: accuracy, size and predict time of pruned nets against the dense net.

For sparsity 0.5/0.75/0.9 and both granularities of ``PrunedClassifier``, on
digits and on a 784-input synthetic task, with ``torch.nn.utils.prune`` L1
masks (live masks, and masks removed into dense zeros) as comparison rows.
Neuron rows use the default ``round_to=8`` (aligned layer sizes) and
``round_to=None`` (exactly the requested fraction).  All timings in one
run, round-robin over the models (median of repeats);
predict time is the module forward (``torch.inference_mode``), as a ratio to
the dense net.

Residual sections: a residual tabular net and a ResNet-18-style image net,
both written in the tests (``skensemble/compression/tests/user_modules.py``),
pruned by ``PrunedClassifier`` (channel-dependency analysis, neurons; layer
trimming) and by Torch-Pruning run directly (``MetaPruner`` with L1 group
magnitude, the same ratio, ``round_to`` and fine-tuning), timed side by side.
Torch-Pruning's default prunes each layer by the ratio, like skensemble's
``scope="layer"``; skensemble's default ``scope="global"`` ranks units of all
layers together.

Run: ``python benchmarks/bench_pruning.py [--quick] [--residual-only]``
(needs the ``bench`` extra for Torch-Pruning); writes
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
from skensemble.meta._base import train_epochs
from skensemble.compression.tests.user_modules import ResNet18Style, TabularResNet
from skensemble.nets import MLPNetClassifier, NetClassifier
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


def torch_pruning_directly(dense, X_train, y_train, ratio, fine_tune, head, round_to=8):
    """Torch-Pruning's MetaPruner on a copy of the dense net, then the same fine-tuning."""
    import torch_pruning as tp

    tuned = copy.deepcopy(dense)
    module = tuned.module_
    example = torch.as_tensor(X_train[:2], dtype=torch.float32)
    pruner = tp.pruner.MetaPruner(module, example, importance=tp.importance.GroupMagnitudeImportance(p=1),
                                  pruning_ratio=ratio, ignored_layers=[module.get_submodule(head)],
                                  round_to=round_to)
    pruner.step()
    tuned.net_.initialize_optimizer()
    train_epochs(tuned, X_train.astype("float32"), tuned.encode_targets(y_train), fine_tune, 0)
    return tuned


def _code_lines(paths):
    return sum(len([line for line in open(p) if line.strip() and not line.strip().startswith("#")])
               for p in paths)


def run_residual(name, dense, X_train, X_test, y_train, y_test, head, fine_tune, batches, repeats,
                 trim_layers=()):
    X_test32 = X_test.astype("float32")
    models = {"dense": (dense.module_, dense.score(X_test, y_test), "")}
    for ratio in (0.5, 0.75):
        for scope in ("global", "layer"):
            pruned = PrunedClassifier(FrozenEstimator(dense), sparsity=ratio, granularity="neuron",
                                      scope=scope, fine_tune_epochs=fine_tune,
                                      random_state=0).fit(X_train, y_train)
            models[f"skensemble neuron {ratio}, scope={scope}"] = (
                pruned.estimator_.module_, pruned.score(X_test, y_test), "")
        tp_net = torch_pruning_directly(dense, X_train, y_train, ratio, fine_tune, head)
        models[f"Torch-Pruning {ratio}"] = (tp_net.module_, tp_net.score(X_test, y_test), "")
    for n in trim_layers:
        trimmed = PrunedClassifier(FrozenEstimator(dense), granularity="layer", n_layers=n,
                                   fine_tune_epochs=fine_tune, random_state=0).fit(X_train, y_train)
        models[f"skensemble layer, {n} block(s)"] = (trimmed.estimator_.module_, trimmed.score(X_test, y_test),
                                                     ", ".join(trimmed.removed_layers_))
    times = interleaved_latency({k: module_predictor(m) for k, (m, _, _) in models.items()},
                                X_test32, batches, repeats=repeats)
    rows = []
    for label, (module, acc, removed) in models.items():
        row = {"model": label, "accuracy": acc, "parameters": count_parameters(module),
               "saved bytes": saved_size_bytes(module), "removed": removed}
        for b in batches:
            row[f"ms @{b}"] = 1000 * times[label][b]
            row[f"speedup @{b}"] = times["dense"][b] / times[label][b]
        rows.append(row)
    cols = ["model", "accuracy", "parameters", "saved bytes"] + [f"ms @{b}" for b in batches]
    cols += [f"speedup @{b}" for b in batches] + (["removed"] if trim_layers else [])
    return name, markdown_table(rows, cols)


def residual_sections(quick, repeats):
    import skensemble.graph._dependency as dependency
    import skensemble.compression.pruning._surgery as surgery
    import torch_pruning as tp
    from pathlib import Path

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    sections = []
    dense = NetClassifier(TabularResNet, module_params={"width": 128, "hidden": 256, "n_blocks": 3},
                          max_epochs=20, random_state=0).fit(X_train, y_train)
    name, table = run_residual("digits, residual tabular net (test-written TabularResNet 64-128x3 blocks of 256)",
                               dense, X_train, X_test, y_train, y_test, "head", 5, BATCHES, repeats,
                               trim_layers=(1, 2))
    sections.append((name, "Dense trained 20 epochs; every pruned row fine-tuned 5 epochs (Adam, lr 1e-3); "
                           "round_to=8 for both pruners.\n\n" + table))
    widths = (16, 32, 64, 128)
    image = NetClassifier(ResNet18Style, module_params={"widths": widths}, max_epochs=4 if quick else 12,
                          random_state=0).fit(X_train, y_train)
    name, table = run_residual(f"digits 8x8 images, ResNet-18-style net (test-written, widths {widths})",
                               image, X_train, X_test, y_train, y_test, "fc", 2 if quick else 4,
                               (1, 64, 1024), repeats)
    sections.append((name, f"Dense trained {4 if quick else 12} epochs; every pruned row fine-tuned "
                           f"{2 if quick else 4} epochs.\n\n" + table))
    own = _code_lines([dependency.__file__, surgery.__file__])
    theirs = _code_lines(Path(tp.__file__).parent.rglob("*.py"))
    sections.append(("Code size", f"skensemble's dependency analysis and surgery "
                                  f"(`_dependency.py`, `_surgery.py`): {own} non-blank lines; the installed "
                                  f"Torch-Pruning {tp.__version__} package: {theirs}."))
    return sections


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--residual-only", action="store_true")
    args = parser.parse_args()
    cols = ["model", "hidden", "accuracy", "parameters", "non-zero", "saved bytes"]
    cols += [f"ms @{b}" for b in BATCHES] + [f"speedup @{b}" for b in BATCHES]
    sparsities = (0.5, 0.9) if args.quick else (0.5, 0.75, 0.9)
    sections = []
    repeats = 5 if args.quick else 15
    if args.residual_only:
        write_result("pruning_residual", "Pruning residual networks: skensemble against Torch-Pruning",
                     residual_sections(args.quick, repeats),
                     "python benchmarks/bench_pruning.py --residual-only" + (" --quick" if args.quick else ""))
        return
    X, y = load_digits(return_X_y=True)
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
    sections += residual_sections(args.quick, repeats)
    write_result("pruning", "Pruning: accuracy, size and speed against the dense net", sections,
                 "python benchmarks/bench_pruning.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()
