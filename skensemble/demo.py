"""The README's main job: compress and ensemble nets on sklearn's digits, then compare."""

import time
import warnings
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from .compression import DistilledClassifier, PrunedClassifier, QuantizedClassifier
from .ensemble import VotingClassifier
from .nets import MLPNetClassifier
from .report import compression_report


def _fit(name, model, X, y, log):
    start = time.perf_counter()
    model.fit(X, y)
    log(f"  fitted {name:<28} in {time.perf_counter() - start:5.1f} s")
    return model


def run_demo(out="skensemble-demo", quick=False, log=print):
    """Train a base net and its compressed and ensembled variants; report them.

    On digits (stratified 75/25 split, random_state=0): a (256, 256) MLP; the
    same net with 75% of its neurons pruned; int8-quantized; pruned then
    quantized; a soft-voting ensemble of two nets and a random forest; and a
    (64,) MLP distilled from that ensemble.  Prints the compression report and
    writes ``report.md`` and ``report.png`` to ``out``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    epochs = 15 if quick else 60
    log(f"skensemble demo on digits: {len(X_train)} training and {len(X_test)} test samples")
    base = _fit("base net MLP(256, 256)", MLPNetClassifier((256, 256), max_epochs=epochs,
                                                              random_state=0), X_train, y_train, log)
    pruned = _fit("pruned (75% neurons)", PrunedClassifier(
        FrozenEstimator(base), sparsity=0.75, granularity="neuron", n_steps=2,
        fine_tune_epochs=3 if quick else 10, random_state=0), X_train, y_train, log)
    quantized = _fit("int8 quantized", QuantizedClassifier(FrozenEstimator(base)), X_train, y_train, log)
    both = _fit("pruned + int8", QuantizedClassifier(FrozenEstimator(pruned)), X_train, y_train, log)
    ensemble = _fit("ensemble (2 nets + forest)", VotingClassifier(
        [("net0", MLPNetClassifier((256, 256), max_epochs=epochs, random_state=1)),
         ("net1", MLPNetClassifier((128,), max_epochs=epochs, random_state=2)),
         ("forest", RandomForestClassifier(200, random_state=0))],
        voting="soft", n_jobs=2), X_train, y_train, log)
    distilled = _fit("distilled MLP(64) from ensemble", DistilledClassifier(
        FrozenEstimator(ensemble), MLPNetClassifier((64,), max_epochs=epochs, random_state=0),
        augment_factor=2 if quick else 4, random_state=0), X_train, y_train, log)
    models = {"base net": base, "pruned 75%": pruned, "int8": quantized,
              "pruned + int8": both, "ensemble": ensemble, "distilled": distilled}
    report = compression_report(models, X_test, y_test, reference="base net",
                                n_repeats=3 if quick else 7)
    log("")
    log(str(report))
    (out / "report.md").write_text(
        "# skensemble demo: compression report on digits\n\n" + report.to_markdown() + "\n")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.plot(out / "report.png")
        log(f"\nwrote {out / 'report.md'} and {out / 'report.png'}")
    except ImportError:
        log(f"\nwrote {out / 'report.md'} (install matplotlib for the plot)")
    return report
