"""scikit-learn's estimator checks on a cheap instance of every public estimator.

Expected failures are listed in ``EXPECTED_FAILED_CHECKS`` with the reason.
"""

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
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


_FLOAT32_WEIGHTS = (
    "a weight of 2 equals a repeated row only up to float32 rounding: the weighted "
    "and the repeated fit differ by about 5e-7 relative, over the check's 1e-7."
)

_BATCH_NORM_WEIGHTS = (
    "the residual net's batch norms normalise each training batch by its own statistics, in "
    "which a repeated row counts twice and a row of weight 2 once, so the two fits differ "
    "(up to 0.25 in probability on the check's tiny data)."
)

# Every entry needs a reason; keep this list short.
EXPECTED_FAILED_CHECKS = {
    **{name: {"check_sample_weight_equivalence_on_dense_data": _BATCH_NORM_WEIGHTS,
              "check_methods_subset_invariance": (
                  "float32 products round differently on a batch of one row than on the whole "
                  "set: up to 1.6e-7 in probability on the check's data (measured 2026-12-05, "
                  "after per-fit generators changed the fitted weights), above the check's 1e-7; "
                  "the residual net has nothing that couples the rows of a batch at prediction.")}
       for name in ("ResNetClassifier", "ResNetRegressor")},
    **{
        name: {"check_sample_weight_equivalence_on_dense_data": _FLOAT32_WEIGHTS}
        # the cascade's cheap instance has a net member
        for name in ("MLPNetClassifier", "MLPNetRegressor", "ConvNetClassifier", "ConvNetRegressor",
                     "NetClassifier", "NetRegressor", "TabMClassifier",
                     "CascadeClassifier")
    },
    "TabMRegressor": {"check_methods_subset_invariance": (
        "float32 products round differently on a batch of one row than on the whole set (the periodic "
        "embeddings' cos/sin and the members' batched products): up to 3.2e-7 on the check's data, above "
        "its 1e-7; nothing in TabM couples the rows of a batch at prediction.")},
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
        name: {"check_methods_subset_invariance": (
            "dynamic int8 quantization scales activations by the range of the whole "
            "batch, so a sample's outputs change slightly (here up to 4e-3) with "
            "the other samples of its batch; static int8 and float nets are invariant."
        )}
        for name in ("QuantizedClassifier", "QuantizedRegressor")
    },
}
EXPECTED_FAILED_CHECKS["TabMRegressor"]["check_sample_weight_equivalence_on_dense_data"] = _FLOAT32_WEIGHTS
EXPECTED_FAILED_CHECKS["MLPNetRegressor"]["check_methods_subset_invariance"] = (
    "float32 products round differently on a batch of one row than on the whole set (the piecewise-linear "
    "embeddings' and the layers' batched products; the table encoding is exact per row, tested in "
    "nets/tests/test_table.py): up to 1.8e-7 on the check's data with the encoder's standard-deviation scale "
    "(measured 2026-12-06), above its 1e-7; nothing in the net couples the rows of a batch at prediction.")
# the wrappers that take sample_weight train a net with it (issue 26): the nets' reason holds for them
for _name in ("PrunedClassifier", "PrunedRegressor", "QuantizedClassifier", "QuantizedRegressor",
              "FineTunedClassifier", "FineTunedRegressor",
              "DeepEnsembleClassifier", "DeepEnsembleRegressor"):
    EXPECTED_FAILED_CHECKS.setdefault(_name, {})["check_sample_weight_equivalence_on_dense_data"] = (
        "its net is trained with the weights: " + _FLOAT32_WEIGHTS)
EXPECTED_FAILED_CHECKS.setdefault("VotingRegressor", {})["check_sample_weight_equivalence_on_dense_data"] = (
    "its net member is trained with the weights: " + _FLOAT32_WEIGHTS + " Measured 2026-12-06 on this "
    "session's machine: one of 30 outputs differs by 1.3e-7 relative; it passed on the machine before.")
EXPECTED_FAILED_CHECKS.setdefault("EnsembleSelectionClassifier", {})[
    "check_sample_weight_equivalence_on_dense_data"] = (
    "its net member is trained with the weights: " + _FLOAT32_WEIGHTS + " Measured 2026-12-06 with the "
    "encoder's standard-deviation scale: one of 45 probabilities differs by 2.2e-7 relative (it passed by that "
    "margin with the interquartile range).")
EXPECTED_FAILED_CHECKS.setdefault("VotingClassifier", {})["check_sample_weight_equivalence_on_dense_data"] = (
    "its net member is trained with the weights: " + _FLOAT32_WEIGHTS + " With scikit-learn 1.6 (the "
    "minimum-dependencies run) one of 45 probabilities differs by more than the check's 1e-7; it passes "
    "with 1.9.")
for _name in ("DistilledClassifier", "DistilledRegressor"):
    EXPECTED_FAILED_CHECKS.setdefault(_name, {})["check_sample_weight_equivalence_on_dense_data"] = (
        "the weights reach the teacher's fit, but the student learns from a transfer set built from the rows "
        "of X, in which a repeated row is two rows and a row of weight 2 one: the students differ.")


@parametrize_with_checks(
    cheap_estimators(),
    expected_failed_checks=lambda est: {
        check: reason for check, reason in EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}).items()
        # static int8 scales by calibrated ranges, not by the batch: it is subset-invariant
        if not (check == "check_methods_subset_invariance" and getattr(est, "method", None) == "static")
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
