"""scikit-learn's estimator checks on a cheap instance of every public estimator.

Expected failures are listed in ``EXPECTED_FAILED_CHECKS`` with the reason, and are strict (a check
that starts passing fails the run).  Two checks whose tolerance is below float32's rounding run at
float32's tolerance for the estimators in ``ROUNDING_CHECKS``.
"""

import numpy as np
from sklearn.base import clone, is_regressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.utils import shuffle
from sklearn.utils.estimator_checks import parametrize_with_checks

from skensemble.compression import (
    DistilledClassifier,
    DistilledRegressor,
    PrunedClassifier,
    PrunedRegressor,
    QuantizedClassifier,
    QuantizedRegressor,
)
from skensemble.ensemble import (
    CascadeClassifier,
    DeepEnsembleClassifier,
    DeepEnsembleRegressor,
    EnsembleSelectionClassifier,
    EnsembleSelectionRegressor,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from skensemble.nets import (
    ConvNetClassifier,
    ConvNetRegressor,
    MLPNetClassifier,
    MLPNetRegressor,
    NetClassifier,
    NetRegressor,
    ResNetClassifier,
    ResNetRegressor,
    TabMClassifier,
    TableEncoder,
    TabMRegressor,
)
from skensemble.model_selection import CompressionSearchCV
from skensemble.transfer import FineTunedClassifier, FineTunedRegressor

_NET = dict(hidden_layer_sizes=(8,), max_epochs=20, lr=0.01, random_state=0)
_RESNET = dict(width=8, n_blocks=1, max_epochs=20, lr=0.01, random_state=0)
_TABM = dict(k=3, d_block=16, n_blocks=1, num_embeddings=None, dropout=0.0, max_epochs=20, lr=0.01, early_stopping=False, random_state=0)


def cheap_estimators():
    """Tiny instances: a few hidden units, a few epochs, no validation split."""
    return [
        MLPNetClassifier(**_NET),
        MLPNetRegressor(**_NET),
        ConvNetClassifier(channels=(4,), **_NET),
        ConvNetRegressor(channels=(4,), **_NET),
        ResNetClassifier(**_RESNET),
        ResNetRegressor(**_RESNET),
        MLPNetClassifier(**_NET, num_embeddings="piecewise_linear", d_embedding=4),
        MLPNetClassifier(**_NET, preprocessing="auto"),  # numeric tables reach the module as they are
        MLPNetRegressor(**_NET, num_embeddings="piecewise_linear", d_embedding=4),
        MLPNetRegressor(**_NET, preprocessing=None),  # numeric input only, as given
        ResNetRegressor(**_RESNET, num_embeddings="periodic", d_embedding=4),
        TableEncoder(),
        TableEncoder(scaling="robust"),
        TabMClassifier(**_TABM),
        TabMRegressor(**_TABM),
        TabMClassifier(**{**_TABM, "early_stopping": True, "num_embeddings": "piecewise_linear"}),
        TabMRegressor(**{**_TABM, "num_embeddings": "periodic", "arch_type": "tabm-mini"}),
        PrunedClassifier(ResNetClassifier(**_RESNET), sparsity=0.5, granularity="neuron",
                         fine_tune_epochs=2, random_state=0),
        PrunedClassifier(TabMClassifier(**_TABM), granularity="member", n_members=2, fine_tune_epochs=1,
                         random_state=0),
        PrunedRegressor(TabMRegressor(**_TABM), granularity="neuron", sparsity=0.5, fine_tune_epochs=1,
                        random_state=0),
        FineTunedClassifier(FrozenEstimator(_pretrained()), freeze="none", input_layer="replace",
                            max_epochs=20, lr=0.01, random_state=0),
        FineTunedRegressor(FrozenEstimator(_pretrained()), freeze="none", input_layer="replace",
                           max_epochs=20, lr=0.01, random_state=0),
        _search(MLPNetClassifier(**_NET), PrunedClassifier),
        _search(MLPNetRegressor(**_NET), PrunedRegressor),
        NetClassifier(_tiny_module, module_params={"width": 8}, max_epochs=20, lr=0.01, random_state=0),
        NetRegressor(_tiny_module, module_params={"width": 8}, max_epochs=20, lr=0.01, random_state=0),
        PrunedClassifier(MLPNetClassifier(**_NET), sparsity=0.5, fine_tune_epochs=2, random_state=0),
        PrunedClassifier(MLPNetClassifier((16,), max_epochs=20, lr=0.01, random_state=0),
                         sparsity=0.5, granularity="neuron", fine_tune_epochs=2, random_state=0),
        QuantizedClassifier(MLPNetClassifier(**_NET), random_state=0),
        DistilledClassifier(LogisticRegression(), MLPNetClassifier(**_NET), augment_factor=1,
                            random_state=0),
        QuantizedClassifier(MLPNetClassifier(**_NET), method="static", random_state=0),
        PrunedRegressor(MLPNetRegressor(**_NET), sparsity=0.5, fine_tune_epochs=2, random_state=0),
        DistilledRegressor(LinearRegression(), MLPNetRegressor(**_NET), augment_factor=1,
                           random_state=0),
        PrunedRegressor(MLPNetRegressor((16,), max_epochs=20, lr=0.01, random_state=0),
                        sparsity=0.5, granularity="neuron", fine_tune_epochs=2, random_state=0),
        QuantizedRegressor(MLPNetRegressor(**_NET), random_state=0),
        QuantizedRegressor(MLPNetRegressor(**_NET), method="static", random_state=0),
        VotingClassifier(_members(), voting="soft", devices=["cpu"]),
        StackingClassifier(_members(), cv=3),
        CascadeClassifier(_members()),
        EnsembleSelectionClassifier(_members(), ensemble_size=5, cv=3),
        VotingRegressor(_regressors(), devices=["cpu"]),
        StackingRegressor(_regressors(), cv=3),
        EnsembleSelectionRegressor(_regressors(), ensemble_size=5, cv=3),
        DeepEnsembleClassifier(MLPNetClassifier(**_NET), n_estimators=2, random_state=0),
        DeepEnsembleRegressor(MLPNetRegressor(**_NET), n_estimators=2, random_state=0),
    ]


def _tiny_module(n_features, n_outputs, width):
    """A user's module as a factory function (sizes filled in at fit)."""
    from torch import nn

    return nn.Sequential(nn.Linear(n_features, width), nn.ReLU(), nn.Linear(width, n_outputs))


def _search(net, pruned):
    """A two-candidate compression search (the net, and the net pruned by weights)."""
    return CompressionSearchCV(net, space={"uncompressed": net, "pruned": pruned(
        net, sparsity=0.5, fine_tune_epochs=2, random_state=0)}, objective="params", cv=2)


def _pretrained():
    """A tiny net fitted on a 2-feature source task (the checks' data get a fresh input layer)."""
    X = np.random.RandomState(0).normal(size=(60, 2))
    return MLPNetClassifier(**{**_NET, "max_epochs": 5}).fit(X, (X[:, 0] > 0).astype(int))


def _members():
    return [("lr", LogisticRegression()), ("net", MLPNetClassifier(**_NET))]


def _regressors():
    return [("ridge", Ridge()), ("net", MLPNetRegressor(**_NET))]


_BATCH_NORM_WEIGHTS = (
    "the residual net's batch norms normalise each training batch by its own statistics, in "
    "which a repeated row counts twice and a row of weight 2 once, so the two fits differ "
    "(up to 0.25 in probability on the check's tiny data)."
)

# Real failures, each with its reason; strict: a check that starts passing fails the run (keep this list short).
EXPECTED_FAILED_CHECKS = {
    **{name: {"check_sample_weight_equivalence_on_dense_data": _BATCH_NORM_WEIGHTS}
       for name in ("ResNetClassifier", "ResNetRegressor")},
    **{
        name: {"check_estimators_overwrite_params": (
            "the check compares joblib.hash of a deepcopy of the parameters taken before fit with "
            "the parameters after it; a deepcopy of a fitted torch module never hashes like the "
            "module (joblib.hash(copy.deepcopy(m)) != joblib.hash(m)), so the pretrained net "
            "inside FrozenEstimator differs although fit leaves it untouched (asserted in "
            "skensemble/transfer/tests/test_fine_tune.py)."
        )}
        for name in ("FineTunedClassifier", "FineTunedRegressor")
    },
    **{
        name: {"check_sample_weight_equivalence_on_dense_data": (
            "the weights reach the teacher's fit, but the student learns from a transfer set built from the rows "
            "of X, in which a repeated row is two rows and a row of weight 2 one: the students differ.")}
        for name in ("DistilledClassifier", "DistilledRegressor")
    },
}
_DYNAMIC_INT8_SUBSETS = (
    "dynamic int8 quantization scales activations by the range of the whole batch, so a sample's "
    "outputs change slightly (here up to 4e-3) with the other samples of its batch; static int8 and "
    "float nets are invariant.")


def _expected_failures(estimator):
    """The strict expected failures of one instance (a wrapper inherits its net's batch-norm reason)."""
    name = type(estimator).__name__
    expected = dict(EXPECTED_FAILED_CHECKS.get(name, {}))
    if name.startswith("Quantized") and estimator.method == "dynamic":
        expected["check_methods_subset_invariance"] = _DYNAMIC_INT8_SUBSETS
    if name.startswith("Pruned") and type(estimator.estimator).__name__.startswith("ResNet"):
        expected["check_sample_weight_equivalence_on_dense_data"] = "its net is a ResNet: " + _BATCH_NORM_WEIGHTS
    if name.startswith("Quantized") and estimator.method == "static":
        expected["check_sample_weight_equivalence_on_dense_data"] = (
            "static int8 calibrates its activation ranges on calibration_size rows of X drawn at random, "
            "unweighted: a repeated row is drawn more often than a row of weight 2, so the ranges differ.")
    if getattr(estimator, "early_stopping", False) is True:
        expected["check_sample_weight_equivalence_on_dense_data"] = (
            "early stopping holds out validation_fraction of the rows: a repeated row's copies can fall on "
            "both sides of the split, a weighted row on one side only, so the fits differ.")
    return expected


# Checks whose 1e-7 tolerance is below float32's rounding: the nets compute in float32, so a row's outputs
# round differently in a batch of one than in the whole set (up to 3.2e-7 measured), and a weight of 2 equals
# a repeated row up to about 5e-7 relative. For these estimators the two checks run as written here, with
# float32's tolerance (1e-5): a real failure (a batch that couples its rows, weights that do nothing) is
# orders of magnitude larger and still fails.
FLOAT32_TOLERANCE = 1e-5
ROUNDING_CHECKS = {
    "check_methods_subset_invariance": {"MLPNetRegressor", "ResNetClassifier", "ResNetRegressor",
                                        "TabMRegressor", "PrunedRegressor"},
    "check_sample_weight_equivalence_on_dense_data": {
        "MLPNetClassifier", "MLPNetRegressor", "ConvNetClassifier", "ConvNetRegressor", "NetClassifier",
        "NetRegressor", "TabMClassifier", "TabMRegressor", "CascadeClassifier", "PrunedClassifier",
        "PrunedRegressor", "QuantizedClassifier", "QuantizedRegressor", "FineTunedClassifier",
        "FineTunedRegressor", "DeepEnsembleClassifier", "DeepEnsembleRegressor", "VotingClassifier",
        "VotingRegressor", "EnsembleSelectionClassifier"},
}


def _methods(estimator, names):
    return [m for m in names if hasattr(estimator, m)]


def check_methods_subset_invariance_float32(estimator):
    """scikit-learn's check (each method on the whole set and row by row) at float32's tolerance."""
    X = 3 * np.random.RandomState(0).uniform(size=(20, 3))
    y = X[:, 0].astype(int)
    fitted = clone(estimator).fit(X, y)
    for method in _methods(fitted, ["predict", "transform", "decision_function", "score_samples",
                                    "predict_proba"]):
        whole = np.ravel(getattr(fitted, method)(X))
        by_row = np.ravel([getattr(fitted, method)(row[None, :]) for row in X])
        np.testing.assert_allclose(whole, by_row, atol=FLOAT32_TOLERANCE, err_msg=f"{method} of a subset")


def check_sample_weight_equivalence_float32(estimator):
    """scikit-learn's check (integer weights against repeated rows, zero against removed) at float32's tolerance."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    if is_regressor(estimator):
        y = y.astype(float)
    weights = rng.randint(0, 5, size=15)
    X_repeated, y_repeated = X.repeat(weights, axis=0), y.repeat(weights)
    X_weighted, y_weighted, weights = shuffle(X, y, weights, random_state=0)
    weighted, repeated = clone(estimator), clone(estimator)
    if "cv" in estimator.get_params():  # the weights and repetitions in one cross-validation group only
        X_weighted, y_weighted, weighted_cv = _in_first_group(X_weighted, y_weighted, X, y)
        weights = np.hstack([weights, np.ones(2 * len(y), dtype=int)])
        X_repeated, y_repeated, repeated_cv = _in_first_group(X_repeated, y_repeated, X, y)
        weighted.set_params(cv=weighted_cv)
        repeated.set_params(cv=repeated_cv)
    repeated.fit(X_repeated, y_repeated)
    weighted.fit(X_weighted, y_weighted, sample_weight=weights)
    for method in _methods(estimator, ["predict_proba", "decision_function", "predict", "transform"]):
        np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X),
                                   rtol=FLOAT32_TOLERANCE, atol=FLOAT32_TOLERANCE, err_msg=method)


def _in_first_group(X_first, y_first, X, y):
    groups = np.hstack([np.zeros(len(y_first)), np.ones(len(y)), np.full(len(y), 2)])
    X_all, y_all = np.vstack([X_first, X, X]), np.hstack([y_first, y, y])
    return X_all, y_all, list(LeaveOneGroupOut().split(X_all, groups=groups))


_TOLERANT = {"check_methods_subset_invariance": check_methods_subset_invariance_float32,
             "check_sample_weight_equivalence_on_dense_data": check_sample_weight_equivalence_float32}


def _check_name(check):
    return getattr(getattr(check, "func", check), "__name__", "")


@parametrize_with_checks(cheap_estimators(), expected_failed_checks=_expected_failures, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    name = _check_name(check)
    if type(estimator).__name__ in ROUNDING_CHECKS.get(name, ()) and name not in _expected_failures(estimator):
        _TOLERANT[name](estimator)  # the same check at float32's tolerance (see ROUNDING_CHECKS)
    else:
        check(estimator)
