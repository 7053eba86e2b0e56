"""The README's main job: train skensemble models on sklearn's digits and compare them."""

import time
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .nets import ConvNetClassifier, MLPNetClassifier


def run_demo(out="skensemble-demo", quick=False):
    """Fit the demo models on digits (stratified 75/25 split) and print a table."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    epochs = 10 if quick else 100
    models = {
        "MLPNetClassifier": MLPNetClassifier(max_epochs=epochs, random_state=0),
        "ConvNetClassifier": ConvNetClassifier((1, 8, 8), max_epochs=epochs, random_state=0),
    }
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        n_params = sum(p.numel() for p in model.module_.parameters())
        rows.append((name, model.score(X_test, y_test), n_params, fit_s))
    print(f"{'model':<20} {'test accuracy':>13} {'parameters':>11} {'fit s':>7}")
    for name, acc, n_params, fit_s in rows:
        print(f"{name:<20} {acc:>13.4f} {n_params:>11,} {fit_s:>7.1f}")
    Path(out).mkdir(parents=True, exist_ok=True)
    return rows
