"""Transfer learning: fine-tuning a pretrained net against training from scratch on few labels.

Task pairs (source task with plenty of labels -> target task with 5, 20 or
100 labelled rows per class), all built from bundled or synthetic data:

* **shifted digits (conv)**: a ``ConvNetClassifier`` pretrained on a quarter
  of sklearn's 8x8 digits; the target is the other images moved 2 pixels
  right and down (a domain shift that convolutions are built for).
* **digits 0-4 -> 5-9 (conv)**: pretrained on five classes, the target is
  the other five (shared stroke features, new classes).
* **digits 0-4 -> 5-9 (MLP)**: the same pair with an MLP, where an earlier
  naive recipe lost about 20 points to training from scratch.
* **shared latent (MLP, tabular)**: 30 features made by a random two-layer
  map of a 6-d latent; the source labels and the target labels are two
  different 5-class readouts of the latent.

Recipes: scratch (the same architecture trained on the target rows only),
and ``FineTunedClassifier`` with its defaults (which are the fifth recipe
below for nets of two or more pretrained layer groups), the body frozen (head only), full
fine-tuning (pretrained layers at a tenth of the head's learning rate),
gradual unfreezing (one layer group thawed every quarter of the epochs),
the top hidden layer re-initialized with full fine-tuning at one learning
rate (``reinit=1``), and only the first layer kept (frozen) with every later
layer re-initialized (``reinit=n_groups - 1``).  Every
recipe gets the same epochs (more for fewer rows, so every run takes at
least 300 gradient steps).  Mean and standard deviation over 5 seeds (the
labelled rows and the training seed change; the source net is fixed); every
target test set has 300 rows.

Run: ``python benchmarks/bench_transfer.py [--quick]``; writes
``benchmarks/results/transfer.md``.
"""

import argparse
import math

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from _common import markdown_table, write_result
from skensemble.nets import ConvNetClassifier, MLPNetClassifier
from skensemble.transfer import FineTunedClassifier

BATCH = 64


def shifted(X, dy=2, dx=2):
    images = X.reshape(-1, 8, 8)
    out = np.zeros_like(images)
    out[:, dy:, dx:] = images[:, : 8 - dy, : 8 - dx]
    return out.reshape(len(X), 64)


def digits_pairs():
    X, y = load_digits(return_X_y=True)
    # shifted pair: a quarter of the images (original) for pretraining, the others shifted
    X_src, X_tgt, y_src, y_tgt = train_test_split(X, y, test_size=0.75, stratify=y, random_state=0)
    conv = ConvNetClassifier((1, 8, 8), channels=(16, 32), hidden_layer_sizes=(64,), random_state=0)
    mlp = MLPNetClassifier((128, 64), random_state=0)
    low = y < 5
    return {
        "shifted digits (conv)": (conv, (X_src, y_src), (shifted(X_tgt), y_tgt)),
        "digits 0-4 -> 5-9 (conv)": (conv, (X[low], y[low]), (X[~low], y[~low])),
        "digits 0-4 -> 5-9 (MLP)": (mlp, (X[low], y[low]), (X[~low], y[~low])),
    }


def shared_latent_pair(n_source=5000, n_target=2500, seed=0):
    rng = np.random.RandomState(seed)
    W1, W2 = rng.normal(size=(6, 32)), rng.normal(size=(32, 30)) / np.sqrt(32)
    readout_src, readout_tgt = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))

    def draw(n, readout):
        Z = rng.normal(size=(n, 6))
        X = np.tanh(Z @ W1) @ W2 + 0.05 * rng.normal(size=(n, 30))
        return X, np.argmax(Z @ readout, axis=1)

    return MLPNetClassifier((128, 64), random_state=0), draw(n_source, readout_src), draw(n_target, readout_tgt)


def labelled(X, y, per_class, seed):
    rng = np.random.RandomState(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    return X[idx], y[idx]


def recipes(source, epochs, seed):
    frozen = FrozenEstimator(source)
    common = dict(max_epochs=epochs, batch_size=BATCH, random_state=seed)
    n_groups = sum(isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) for m in source.module_.modules()) - 1
    return {
        "defaults (freeze='none', reinit='auto', body_lr_factor=1.0)": FineTunedClassifier(frozen, **common),
        "head only": FineTunedClassifier(frozen, freeze="body", reinit=0, **common),
        "full fine-tune (body lr / 10)": FineTunedClassifier(frozen, freeze="none", reinit=0, body_lr_factor=0.1,
                                                             **common),
        "gradual unfreezing": FineTunedClassifier(frozen, freeze="body", reinit=0, body_lr_factor=0.1,
                                                  unfreeze_every=max(1, epochs // 4), **common),
        "top layer re-initialized, full fine-tune": FineTunedClassifier(
            frozen, freeze="none", reinit=1, body_lr_factor=1.0, **common),
        "first layer frozen, the rest re-initialized": FineTunedClassifier(
            frozen, freeze="body", reinit=n_groups - 1, **common),
    }


def run_pair(name, base, source_data, target_data, sizes, seeds):
    X_src, y_src = source_data
    source = clone(base).set_params(max_epochs=60).fit(X_src, y_src)
    X_pool, X_test, y_pool, y_test = train_test_split(*target_data, test_size=300, stratify=target_data[1],
                                                      random_state=0)
    rows = []
    for per_class in sizes:
        scores = {}
        n_rows = per_class * len(np.unique(y_pool))
        epochs = max(30, math.ceil(300 / math.ceil(n_rows / BATCH)))
        for seed in seeds:
            X, y = labelled(X_pool, y_pool, per_class, seed)
            scratch = clone(base).set_params(max_epochs=epochs, batch_size=BATCH, random_state=seed)
            scores.setdefault("scratch", []).append(scratch.fit(X, y).score(X_test, y_test))
            for recipe, model in recipes(source, epochs, seed).items():
                scores.setdefault(recipe, []).append(model.fit(X, y).score(X_test, y_test))
        base_mean = np.mean(scores["scratch"])
        for recipe, values in scores.items():
            rows.append({"rows per class": per_class, "epochs": epochs, "recipe": recipe,
                         "accuracy (mean)": float(np.mean(values)), "std": float(np.std(values)),
                         "vs scratch (points)": 100 * (np.mean(values) - base_mean)})
    cols = ["rows per class", "epochs", "recipe", "accuracy (mean)", "std", "vs scratch (points)"]
    source_note = (f"Source net: {type(base).__name__} trained 60 epochs on {len(X_src)} rows; "
                   f"target test set: {len(X_test)} rows.")
    return name, source_note + "\n\n" + markdown_table(rows, cols)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = (5, 20) if args.quick else (5, 20, 100)
    seeds = range(2) if args.quick else range(5)
    pairs = digits_pairs()
    pairs["shared latent (MLP, tabular)"] = shared_latent_pair()
    sections = [run_pair(name, *pair, sizes, seeds) for name, pair in pairs.items()]
    write_result("transfer", "Transfer learning: fine-tuning against training from scratch", sections,
                 "python benchmarks/bench_transfer.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()
