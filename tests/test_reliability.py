"""Bad input, determinism and faults, for every public estimator."""

import os

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone, is_classifier
from sklearn.utils import get_tags
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from skorch.callbacks import Callback

from skensemble.ensemble import CascadeClassifier, VotingClassifier, WorkerDiedError
from skensemble.nets import MLPNetClassifier, NonFiniteLossError
from skensemble.utils import get_net

from test_common import cheap_estimators

ESTIMATORS = {type(e).__name__ + ("-static" if getattr(e, "method", "") == "static" else "")
              + ("-neuron" if getattr(e, "granularity", "") == "neuron" else "")
              + (f"-{e.preprocessing}" if getattr(e, "preprocessing", "always") != "always" else ""): e
              for e in cheap_estimators() if hasattr(e, "predict")}  # TableEncoder: nets/tests/test_table.py


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {name: clone(est).fit(X, y if is_classifier(est) else X[:, 0]) for name, est in ESTIMATORS.items()}


def _target(est, y, X):
    return y if is_classifier(est) else X[:, 0]


BAD_X = {
    "nan": (lambda X: np.where(np.eye(*X.shape, dtype=bool), np.nan, X), ValueError, "NaN"),
    "inf": (lambda X: np.where(np.eye(*X.shape, dtype=bool), np.inf, X), ValueError, "infinity"),
    "empty": (lambda X: X[:0], ValueError, "0 sample"),
    "1-D": (lambda X: X[:, 0], ValueError, "2D array"),
    "strings": (lambda X: X.astype(str).astype(object) + "x", (ValueError, TypeError), "convert|string"),
    "sparse": (lambda X: sp.csr_matrix(X), TypeError, "[Ss]parse"),
}


@pytest.mark.parametrize("case", list(BAD_X))
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_bad_X_at_fit_raises_clear_error(name, case, data):
    X, y = data
    make, error, match = BAD_X[case]
    est = clone(ESTIMATORS[name])
    Xb = make(X)
    yb = _target(est, y, X)[: Xb.shape[0]]
    if case in ("nan", "strings") and get_tags(est).input_tags.string:
        # a raw table is what the tabular nets (and what wraps them) take: it fits and predicts
        est.fit(Xb, yb)
        assert np.all(np.isfinite(np.asarray(est.predict(Xb), dtype=float))) or is_classifier(est)
        return
    with pytest.raises(error, match=match):
        est.fit(Xb, yb)


@pytest.mark.parametrize("case", ["nan", "inf", "1-D", "strings"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_bad_X_at_predict_raises_clear_error(name, case, data, fitted):
    X, _ = data
    make, error, match = BAD_X[case]
    if case == "nan" and get_tags(fitted[name]).input_tags.allow_nan and not name.endswith("-auto"):
        # the fitted TableEncoder of the net (inside) takes a missing value as the column's median
        # (preprocessing="auto" fitted none on this numeric table: NaN is refused as without one)
        assert np.all(np.isfinite(np.asarray(fitted[name].predict(make(X)), dtype=float)))
        return
    with pytest.raises(error, match=match):
        fitted[name].predict(make(X))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_wrong_features_unfitted_and_one_class(name, data, fitted):
    X, y = data
    est = fitted[name]
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])
    # scikit-learn's unfitted StackingClassifier hides predict (AttributeError),
    # of which NotFittedError is a subclass
    expected = AttributeError if name.startswith("Stacking") else NotFittedError
    with pytest.raises(expected):
        clone(ESTIMATORS[name]).predict(X)
    if is_classifier(est):
        with pytest.raises(ValueError, match="class"):
            clone(ESTIMATORS[name]).fit(X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_pandas_mixed_dtypes_and_renamed_columns(name, data, fitted):
    pd = pytest.importorskip("pandas")
    X, y = data
    est = clone(ESTIMATORS[name])
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1].astype(np.float32),
                       "c": (X[:, 2] * 10).astype(int), "d": X[:, 3]})
    est.fit(df, _target(est, y, X))
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df.rename(columns={"a": "z"}))
    text = df.assign(d=["x"] * len(df))
    if get_tags(est).input_tags.string:  # a text column is a raw table's: encoded by the net
        est.fit(text, _target(est, y, X))
        assert len(est.predict(text)) == len(df)
        return
    with pytest.raises((ValueError, TypeError)):
        est.fit(text, _target(est, y, X))


def test_labels_unseen_at_fit_score_as_wrong(data, fitted):
    X, y = data
    est = fitted["MLPNetClassifier"]
    assert est.score(X, y + 5) == 0.0  # predictions are always among classes_


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    X=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
                 elements=st.one_of(st.floats(-1e6, 1e6), st.sampled_from([np.nan, np.inf, -np.inf]))),
    n_classes=st.integers(1, 4),
)
def test_fuzz_net_never_crashes_in_torch(X, n_classes):
    y = np.arange(len(X)) % n_classes
    est = MLPNetClassifier((4,), max_epochs=2, random_state=0)
    try:
        est.fit(X, y)
    except (ValueError, TypeError, NonFiniteLossError) as exc:
        assert str(exc)
        return
    proba = est.predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1)
    assert set(est.predict(X)) <= set(y)


# --- determinism ---------------------------------------------------------------
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_same_random_state_same_model(name, data, fitted):
    X, y = data
    est = ESTIMATORS[name]
    again = clone(est).fit(X, _target(est, y, X))
    method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
    np.testing.assert_array_equal(getattr(again, method)(X), getattr(fitted[name], method)(X))
    try:
        a, b = get_net(again).module_.state_dict(), get_net(fitted[name]).module_.state_dict()
    except TypeError:
        return  # ensembles: compared through predictions
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_parallel_ensembles_are_deterministic(data):
    X, y = data
    # different widths: not fused into one module, so the two members really are fitted in parallel
    members = [(f"n{s}", MLPNetClassifier((8 + 4 * s,), max_epochs=5, random_state=s)) for s in range(2)]
    runs = [VotingClassifier(members, voting="soft", n_jobs=2).fit(X, y).predict_proba(X) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    runs = [CascadeClassifier(members, n_jobs=2).fit(X, y).predict_proba(X) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


# --- faults --------------------------------------------------------------------
def test_diverging_loss_stops_with_clear_error(data):
    X, y = data
    # preprocessing=None: rows of 1e30 reach the module unscaled (the table encoder would scale them)
    est = MLPNetClassifier(optimizer="sgd", lr=1e3, max_epochs=5, preprocessing=None)
    with pytest.raises(NonFiniteLossError, match="diverged"):
        est.fit(X * 1e30, y)
    assert not hasattr(est, "net_")  # no garbage model left behind


class Die(LogisticRegression):
    """A member whose fit kills its worker process."""

    def fit(self, X, y, sample_weight=None):
        os._exit(1)


def test_dead_worker_leaves_ensemble_unfitted(data):
    X, y = data
    for ens in (VotingClassifier([("ok", LogisticRegression()), ("die", Die())], n_jobs=2),
                CascadeClassifier([("ok", LogisticRegression()), ("die", Die())], n_jobs=2)):
        with pytest.raises(WorkerDiedError, match="worker process died"):
            ens.fit(X, y)
        assert not hasattr(ens, "estimators_")


class InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_a_usable_net(data):
    X, y = data
    est = MLPNetClassifier((8,), max_epochs=50, callbacks=[("stop", InterruptAt(3))], random_state=0)
    est.fit(X, y)  # skorch ends training on Ctrl-C and keeps what was learned
    assert est.n_epochs_ == 3
    assert est.predict(X).shape == (len(X),)


def test_out_of_memory_on_predict_is_retried(data, monkeypatch):
    X, y = data
    est = MLPNetClassifier((8,), max_epochs=2, random_state=0).fit(X, y)
    expected = est.predict_proba(X)
    real_infer = est.net_.infer
    original = est.net_.get_params_for("iterator_valid")["batch_size"]
    seen = []

    def fake_infer(X_, *a, **kw):
        seen.append(len(X_))
        if len(X_) > 16:
            raise torch.OutOfMemoryError("CUDA out of memory (fake)")
        return real_infer(X_, *a, **kw)

    monkeypatch.setattr(est.net_, "infer", fake_infer)
    np.testing.assert_allclose(est.predict_proba(X), expected)
    assert seen[0] > 16 and seen[-1] <= 16
    assert est.net_.get_params_for("iterator_valid")["batch_size"] == original  # restored
    monkeypatch.setattr(est.net_, "infer", lambda *a, **k: (_ for _ in ()).throw(
        torch.OutOfMemoryError("fake")))
    with pytest.raises(MemoryError, match="even with batches of 1"):
        est.predict(X)
