"""Write the saved files that ``test_persistence.py`` loads back (``python make_files.py PREFIX [raw]``).

Run with the skensemble version the files should come from; the files written
for ``before27_*`` came from commit 7bb1830 (the version before the compression
families moved into folders, issue 27): one file per compression family and
nesting, each fitted on tiny data, and ``PREFIX_expected.npz`` with their
predictions on the rows they are checked on.  With ``raw``, nets fitted on a
raw table (text, a category column, missing values) and wrappers of them; the
``before40_*`` files came from commit 6901b36 (the table encoder in float64
NumPy, before it became a torch layer, issue 40).  ``before42_*`` (``python make_files.py before42``) and
``before42_table_*`` (``python make_files.py before42_table raw``) came from commit 9986427, before the
table encoder, ONNX export and the meta-estimators' base moved to rooms of their own (issue 42).
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


def raw_table():
    """A raw table (numbers with missing values, text with a missing value, a category column) and labels."""
    import pandas as pd

    rng = np.random.RandomState(0)
    n = 300
    X = pd.DataFrame({"income": np.exp(rng.normal(10, 1, n)), "age": rng.uniform(18, 80, n),
                      "city": rng.choice(["Oslo", "Rome", "Lima"], n).astype(object),
                      "plan": pd.Categorical(rng.choice(["basic", "pro"], n))})
    X.loc[::9, "age"] = np.nan
    X.loc[::13, "city"] = None
    y = np.where(np.log(X["income"]) + (X["city"] == "Oslo") - (X["plan"] == "pro") > 10, "yes", "no")
    return X, y


def raw_table_models():
    from skensemble.nets import TabMClassifier

    mlp = MLPNetClassifier((16,), max_epochs=5, random_state=0)
    return {
        "raw_mlp": mlp,
        "raw_pruned": PrunedClassifier(mlp, sparsity=0.5, granularity="neuron", fine_tune_epochs=1,
                                       random_state=0),
        "raw_distilled": DistilledClassifier(RandomForestClassifier(10, random_state=0),
                                             MLPNetClassifier((8,), max_epochs=3, random_state=0),
                                             augment_factor=1, random_state=0),
        "raw_tabm": TabMClassifier(k=2, d_block=8, n_blocks=1, max_epochs=2, random_state=0),
    }


def main_raw(prefix):
    out = Path(__file__).parent
    X, y = raw_table()
    rows = X.iloc[:40].copy()
    rows.loc[rows.index[0], "city"] = "Paris"  # unseen
    expected = {}
    for name, est in raw_table_models().items():
        fit_X = X.drop(columns=["city", "plan"]) if name == "raw_distilled" else X
        est.fit(fit_X, y)
        skensemble.save(est, out / f"{prefix}_{name}.zip")
        expected[name] = est.predict_proba(rows[fit_X.columns])
    np.savez(out / f"{prefix}_expected.npz", **expected)


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
    (main_raw if sys.argv[2:] == ["raw"] else main)(sys.argv[1] if len(sys.argv) > 1 else "files")
