"""Write the saved files that ``test_persistence.py`` loads back (``python make_files.py PREFIX``).

Run with the skensemble version the files should come from; the files written
for ``before27_*`` came from commit 7bb1830 (the version before the compression
families moved into folders, issue 27): one file per compression family and
nesting, each fitted on tiny data, and ``PREFIX_expected.npz`` with their
predictions on the rows they are checked on.
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import Ridge

import skensemble
from skensemble.compression import (DistilledClassifier, DistilledRegressor, PrunedClassifier, PrunedRegressor,
                                    QuantizedClassifier, QuantizedRegressor)
from skensemble.nets import ConvNetClassifier, MLPNetClassifier, MLPNetRegressor, ResNetRegressor
from skensemble.transfer import FineTunedClassifier


def models():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16, y[:400]
    Xr, yr = load_diabetes(return_X_y=True)
    Xr, yr = Xr[:300], yr[:300]
    mlp = MLPNetClassifier((32,), max_epochs=10, random_state=0).fit(X, y)
    conv = ConvNetClassifier((8, 8), channels=(4,), hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    reg = MLPNetRegressor((16,), max_epochs=10, random_state=0)
    clf = {
        "pruned_neuron": PrunedClassifier(mlp, sparsity=0.5, granularity="neuron", fine_tune_epochs=1,
                                          random_state=0),
        "pruned_weight": PrunedClassifier(mlp, sparsity=0.5, fine_tune_epochs=1, random_state=0),
        "int8_onnx_of_pruned": QuantizedClassifier(
            PrunedClassifier(mlp, sparsity=0.25, granularity="neuron", fine_tune_epochs=1, random_state=0),
            backend="onnxruntime", random_state=0),
        "int8_torch_static_conv": QuantizedClassifier(conv, method="static", backend="torch", random_state=0),
        "half": QuantizedClassifier(mlp, dtype="float16"),
        "distilled": DistilledClassifier(RandomForestClassifier(20, random_state=0),
                                         MLPNetClassifier((16,), max_epochs=5, random_state=0),
                                         augment_factor=1, random_state=0),
        "fine_tuned": FineTunedClassifier(FrozenEstimator(mlp), max_epochs=2, random_state=0),
    }
    regs = {
        "pruned_layer_resnet": PrunedRegressor(ResNetRegressor(width=16, n_blocks=2, max_epochs=5,
                                                               random_state=0),
                                               granularity="layer", n_layers=1, fine_tune_epochs=1,
                                               random_state=0),
        "int8_dynamic_regressor": QuantizedRegressor(reg, backend="torch", random_state=0),
        "distilled_regressor": DistilledRegressor(Ridge(), MLPNetRegressor((8,), max_epochs=5, random_state=0),
                                                  augment_factor=1, random_state=0),
    }
    return (X, y, clf), (Xr, yr, regs)


def main(prefix):
    out = Path(__file__).parent
    (X, y, clf), (Xr, yr, regs) = models()
    expected = {"X": X[:50], "X_reg": Xr[:50]}
    for name, est in clf.items():
        est.fit(X, y)
        skensemble.save(est, out / f"{prefix}_{name}.zip")
        expected[name] = est.predict_proba(X[:50])
    for name, est in regs.items():
        est.fit(Xr, yr)
        skensemble.save(est, out / f"{prefix}_{name}.zip")
        expected[name] = est.predict(Xr[:50])
    np.savez(out / f"{prefix}_expected.npz", **expected)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "files")
