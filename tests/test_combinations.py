"""The combination test: every net setting x every wrapper and use (issue 26).

Each cell fits a use of a net configuration on tiny data, predicts, gives
equal predictions after ``pickle`` and after ``skensemble.save``/``load``,
and checks that the configuration's setting took effect in the fitted net
(early stopping stopped, the scheduler changed the rate, the sample
weights changed the fit, ...).  The default run takes a diagonal of the
matrix that covers every configuration and every use at least once; the
full matrix runs with ``-m slow``.  A combination that cannot work is
listed in ``REFUSED`` with its reason and must be refused at ``fit`` with a
message naming both parts.

Adding a net option or a wrapper: add its row to ``CONFIGS`` or its column
to ``USES`` in the same change.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import EarlyStopping, GradientNormClipping, LRScheduler
from skorch.dataset import ValidSplit

import skensemble
from skensemble.compression import (DistilledClassifier, DistilledRegressor, PrunedClassifier, PrunedRegressor,
                                    QuantizedClassifier, QuantizedRegressor)
from skensemble.ensemble import (DeepEnsembleClassifier, DeepEnsembleRegressor, StackingClassifier,
                                 StackingRegressor, VotingClassifier, VotingRegressor)
from skensemble.nets import (ConvNetClassifier, ConvNetRegressor, MLPModule, MLPNetClassifier, MLPNetRegressor,
                             NetClassifier, NetRegressor, ResNetClassifier, ResNetRegressor, TabMClassifier,
                             TabMRegressor)
from skensemble.transfer import FineTunedClassifier, FineTunedRegressor

TASKS = ("classifier", "regressor")


def _data(task):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 8)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] - X[:, 2] + rng.normal(scale=0.7, size=len(X))  # noisy: early stopping stops
    y = np.where(score > 0, "yes", "no") if task == "classifier" else 10 * score + 50
    return X, y


def _raw_table(X):
    """The data as a raw table: a text column with a missing value, a category column, NaN among numbers."""
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame.loc[::7, "f3"] = np.nan
    frame["city"] = np.where(X[:, 0] > 0.5, "Oslo", np.where(X[:, 0] < -0.5, "Rome", "Lima")).astype(object)
    frame.loc[::11, "city"] = None
    frame["size"] = pd.Categorical(np.where(X[:, 4] > 0, "big", "small"))
    return frame


def _net(task, **params):
    cls = MLPNetClassifier if task == "classifier" else MLPNetRegressor
    return cls(**{"hidden_layer_sizes": (8,), "max_epochs": 4, "random_state": 0, **params})


def _cls(task, classifier, regressor):
    return classifier if task == "classifier" else regressor


# --- configurations: (build(task), check(fitted net estimator, task)) --------------------------------
def _epochs_below(limit):
    return lambda net, task: net.n_epochs_ < limit


def _lrs_decay(net, task):
    return net.net_.optimizer_.param_groups[0]["lr"] < 0.01


CONFIGS = {
    "defaults": (lambda t: _net(t), None),
    "early stopping triggers": (lambda t: _net(t, early_stopping=True, n_iter_no_change=1, max_epochs=60,
                                              lr=0.05), _epochs_below(60)),
    "early stopping not triggered": (lambda t: _net(t, early_stopping=True, n_iter_no_change=50, max_epochs=3),
                                     lambda net, task: net.n_epochs_ == 3),
    "dropout": (lambda t: _net(t, dropout=0.3), None),
    "batch norm": (lambda t: _net(t, batch_norm=True),
                   lambda net, task: any(isinstance(m, torch.nn.BatchNorm1d) for m in net.module_.modules())),
    "l1": (lambda t: _net(t, l1=1e-3), lambda net, task: net.net_.l1 == 1e-3),
    "weight decay": (lambda t: _net(t, weight_decay=1e-3),
                     lambda net, task: net.net_.optimizer_.param_groups[0]["weight_decay"] == 1e-3),
    "sgd": (lambda t: _net(t, optimizer="sgd", lr=0.05),
            lambda net, task: isinstance(net.net_.optimizer_, torch.optim.SGD)),
    **{f"optimizer {name}": (lambda t, name=name: _net(t, optimizer=getattr(torch.optim, name)),
                             lambda net, task, name=name: type(net.net_.optimizer_).__name__ == name)
       for name in ("AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam", "Rprop",
                    "Adafactor", "LBFGS")},
    "amp auto": (lambda t: _net(t, amp="auto"), None),
    "LRScheduler": (lambda t: _net(t, lr=0.01, callbacks=[("sched", LRScheduler("StepLR", step_size=1,
                                                                                 gamma=0.5))]), _lrs_decay),
    "GradientNormClipping": (lambda t: _net(t, callbacks=[("clip", GradientNormClipping(0.1))]), None),
    "skorch EarlyStopping + ValidSplit": (
        lambda t: _net(t, max_epochs=60, lr=0.05, callbacks=[("es", EarlyStopping(patience=1))],
                       net_params={"train_split": ValidSplit(0.25, stratified=False, random_state=0)}),
        _epochs_below(60)),
    "float64 input": (lambda t: _net(t), None),
    "int input": (lambda t: _net(t), None),
    "pandas input": (lambda t: _net(t), None),
    "sample_weight": (lambda t: _net(t), None),  # checked in _run_cell: the weights change the fit
    "conv": (lambda t: _cls(t, ConvNetClassifier, ConvNetRegressor)((1, 8), channels=(2,), hidden_layer_sizes=(8,),
                                                                   max_epochs=3, random_state=0), None),
    "resnet": (lambda t: _cls(t, ResNetClassifier, ResNetRegressor)(width=8, n_blocks=1, max_epochs=3,
                                                                   random_state=0), None),
    "tabm": (lambda t: _cls(t, TabMClassifier, TabMRegressor)(k=3, d_block=8, n_blocks=1, max_epochs=3,
                                                             early_stopping=False, random_state=0),
             lambda net, task: net.net_.iterator_train__k == net.k),  # each member its own batches
    "tabm members on shared batches": (
        lambda t: _cls(t, TabMClassifier, TabMRegressor)(k=3, d_block=8, n_blocks=1, max_epochs=3,
                                                        share_training_batches=True, early_stopping=False,
                                                        random_state=0),
        lambda net, task: not hasattr(net.net_, "iterator_train__k")),
    "tabm piecewise-linear embeddings, early stopping": (
        lambda t: _cls(t, TabMClassifier, TabMRegressor)(k=3, d_block=8, n_blocks=1, max_epochs=40, lr=0.05,
                                                        n_iter_no_change=2, d_embedding=4, n_bins=8,
                                                        num_embeddings="piecewise_linear", random_state=0),
        _epochs_below(40)),
    "periodic embeddings": (lambda t: _net(t, num_embeddings="periodic", d_embedding=4),
                            lambda net, task: type(net.module_.layers[0]).__name__ == "NumEmbeddings"),
    "resnet piecewise-linear embeddings": (
        lambda t: _cls(t, ResNetClassifier, ResNetRegressor)(width=8, n_blocks=1, max_epochs=3, d_embedding=4,
                                                            n_bins=8, num_embeddings="piecewise_linear",
                                                            random_state=0),
        lambda net, task: len(net.num_embedding_bins_) == net._n_module_inputs()),  # a bin set per input column
    "raw table (text, missing values)": (lambda t: _net(t), lambda net, task: hasattr(net, "table_encoder_")),
    "missing values (numeric)": (lambda t: _net(t), lambda net, task: net.table_encoder_.indicated_ == [3]),
    "user module": (lambda t: _cls(t, NetClassifier, NetRegressor)(
        MLPModule, module_params={"hidden_layer_sizes": (8,)}, max_epochs=3, random_state=0), None),
}

# --- uses: use(net, X, y, task) -> fitted estimator; its inner fitted net is found by _inner ----------
def _fit(net, X, y, task, **fit_params):
    return net.fit(X, y, **fit_params)


def _pruned(granularity, **kw):
    def use(net, X, y, task, **fit_params):
        return _cls(task, PrunedClassifier, PrunedRegressor)(net, sparsity=0.5, granularity=granularity,
                                                             fine_tune_epochs=2, random_state=0, **kw).fit(X, y, **fit_params)
    return use


def _distilled_student(net, X, y, task, **fit_params):
    teacher = _net(task, hidden_layer_sizes=(16,))
    return _cls(task, DistilledClassifier, DistilledRegressor)(teacher, student=net, augment_factor=1,
                                                               random_state=0).fit(X, y, **fit_params)


def _distilled_teacher(net, X, y, task, **fit_params):
    return _cls(task, DistilledClassifier, DistilledRegressor)(net, student=_net(task), augment_factor=1,
                                                               random_state=0).fit(X, y, **fit_params)


def _quantized(**kw):
    def use(net, X, y, task, **fit_params):
        return _cls(task, QuantizedClassifier, QuantizedRegressor)(net, random_state=0, **kw).fit(X, y, **fit_params)
    return use


def _quantized_pruned(net, X, y, task, **fit_params):
    pruned = _cls(task, PrunedClassifier, PrunedRegressor)(net, sparsity=0.5, granularity="neuron",
                                                           fine_tune_epochs=1, random_state=0)
    return _cls(task, QuantizedClassifier, QuantizedRegressor)(pruned, random_state=0).fit(X, y, **fit_params)


def _fine_tuned(net, X, y, task, **fit_params):
    source = net.fit(X, y)
    return _cls(task, FineTunedClassifier, FineTunedRegressor)(FrozenEstimator(source), max_epochs=2,
                                                               random_state=0).fit(X, y, **fit_params)


def _deep(net, X, y, task, **fit_params):
    return _cls(task, DeepEnsembleClassifier, DeepEnsembleRegressor)(net, n_estimators=2, random_state=0).fit(X, y, **fit_params)


def _voting(net, X, y, task, **fit_params):
    soft = {"voting": "soft"} if task == "classifier" else {}
    return _cls(task, VotingClassifier, VotingRegressor)([("a", net), ("b", clone(net))], **soft).fit(X, y, **fit_params)


def _stacking(net, X, y, task, **fit_params):
    return _cls(task, StackingClassifier, StackingRegressor)([("a", net), ("b", clone(net))], cv=2).fit(X, y, **fit_params)


def _grid(net, X, y, task, **fit_params):
    return GridSearchCV(net, {"random_state": [0, 1]}, cv=2, n_jobs=2).fit(X, y, **fit_params).best_estimator_


def _partial_fit(net, X, y, task, **fit_params):
    classes = {"classes": np.unique(y)} if task == "classifier" else {}
    for _ in range(3):
        net.partial_fit(X, y, **classes, **fit_params)
    assert net.n_epochs_ == 3
    return net


def _clone(net, X, y, task, **fit_params):
    return clone(clone(net)).fit(X, y, **fit_params)


def _cross_validate_threads(net, X, y, task, **fit_params):
    from joblib import parallel_backend
    from sklearn.model_selection import cross_validate

    with parallel_backend("threading", n_jobs=2):
        return cross_validate(net, X, y, cv=2, return_estimator=True, params=fit_params)["estimator"][0]


def _selection(net, X, y, task, **fit_params):
    from skensemble.ensemble import EnsembleSelectionClassifier, EnsembleSelectionRegressor

    return _cls(task, EnsembleSelectionClassifier, EnsembleSelectionRegressor)(
        [("a", net), ("b", clone(net).set_params(random_state=1))], ensemble_size=4, cv=2).fit(X, y, **fit_params)


def _cascade(net, X, y, task, **fit_params):
    from sklearn.linear_model import LogisticRegression

    from skensemble.ensemble import CascadeClassifier

    if task == "regressor":  # the cascade is a classifier: the regressor's column is ensemble selection
        return _selection(net, X, y, task, **fit_params)
    # a raw table's text columns and missing values reach every member: the cheap first stage is then a small
    # net, which encodes them
    raw = pd.DataFrame(X).isna().to_numpy().any() or (isinstance(X, pd.DataFrame) and "city" in X)
    first = _net(task, hidden_layer_sizes=(4,)) if raw else LogisticRegression()
    return CascadeClassifier([("first", first), ("net", net)], threshold=0.8).fit(X, y, **fit_params)


def _search(net, X, y, task, **fit_params):
    from skensemble.model_selection import CompressionSearchCV

    space = {"uncompressed": net, "int8": _cls(task, QuantizedClassifier, QuantizedRegressor)(clone(net))}
    return CompressionSearchCV(net, space=space, cv=2, max_drop=0.5).fit(X, y, **fit_params).best_estimator_


def _report(net, X, y, task, **fit_params):
    from skensemble.report import compression_report

    est = net.fit(X, y, **fit_params)
    table = compression_report({"net": est}, X, y, n_repeats=1).to_dict()["net"]
    assert table["parameters"] > 0 and table["saved bytes"] > 0
    return est


def _onnx(net, X, y, task, **fit_params):
    pytest.importorskip("onnxscript")
    est = net.fit(X, y, **fit_params)
    _check_onnx(est, X, task, tol=1e-4)
    return est


def _check_onnx(est, X, task, tol):
    """The exported graph in ONNX Runtime predicts what ``est`` predicts on ``X`` (to ``tol``)."""
    import tempfile

    ort = pytest.importorskip("onnxruntime")
    from skensemble.export import onnx_inputs, to_onnx

    with tempfile.TemporaryDirectory() as tmp:
        to_onnx(est, f"{tmp}/m.onnx")
        session = ort.InferenceSession(f"{tmp}/m.onnx")
        out = session.run(None, onnx_inputs(X, [i.name for i in session.get_inputs()]))[0]
    want = est.logits(X) if task == "classifier" else est.predict(X)
    # the graph is float32; a net fitted with mixed precision predicts under autocast (bfloat16 rounding)
    tol = tol if _inner(est).amp_dtype_ == "float32" else 2e-2
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))


def _onnx_raw_table(net, X, y, task, **fit_params):
    """The net fitted on a raw table exports its encoding too: equal on unseen and missing categories."""
    pytest.importorskip("onnxscript")
    est = net.fit(X, y, **fit_params)
    rows = X.astype({"size": object})
    rows.loc[rows.index[0], "city"] = "Paris"  # unseen
    rows.loc[rows.index[1], "size"] = "huge"  # unseen in a category column
    rows.loc[rows.index[2], "size"] = None  # missing where fit saw none
    rows.loc[rows.index[3], "f0"] = np.nan  # missing where fit saw none
    _check_onnx(est, rows, task, tol=1e-5)
    return est


def _onnx_pipeline(net, X, y, task, **fit_params):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    import tempfile

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skensemble.export import onnx_inputs, to_onnx

    pipe = make_pipeline(StandardScaler(), net)
    step = pipe.steps[-1][0]
    pipe.fit(X, y, **{f"{step}__{k}": v for k, v in fit_params.items()})
    with tempfile.TemporaryDirectory() as tmp:
        to_onnx(pipe, f"{tmp}/p.onnx", X=X[:5])
        session = ort.InferenceSession(f"{tmp}/p.onnx")
        out = dict(zip([o.name for o in session.get_outputs()], session.run(None, onnx_inputs(X))))
    got = out["probabilities"] if task == "classifier" else out["variable"].ravel()
    want = pipe.predict_proba(X) if task == "classifier" else pipe.predict(X)
    tol = 1e-4 if pipe[-1].amp_dtype_ == "float32" else 2e-2
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))
    if task == "classifier":
        np.testing.assert_array_equal(out["label"], pipe.predict(X))
    return pipe


def _fine_tuned_all(net, X, y, task, **fit_params):
    source = net.fit(X, y)
    return _cls(task, FineTunedClassifier, FineTunedRegressor)(FrozenEstimator(source), freeze="none",
                                                               reinit=1, max_epochs=2, random_state=0).fit(X, y, **fit_params)


USES = {
    "fit": _fit,
    "prune weights": _pruned("weight"),
    "prune neurons": _pruned("neuron"),
    "prune neurons in 3 steps": _pruned("neuron", n_steps=3),
    "prune members": _pruned("member", n_members=2),
    "distil: student": _distilled_student,
    "distil: teacher": _distilled_teacher,
    "int8 dynamic": _quantized(),
    "int8 static": _quantized(method="static"),
    "float16": _quantized(dtype="float16", backend="torch"),
    "int8 of pruned": _quantized_pruned,
    "fine-tune": _fine_tuned,
    "deep ensemble": _deep,
    "voting": _voting,
    "stacking": _stacking,
    "GridSearchCV n_jobs=2": _grid,
    "partial_fit": _partial_fit,
    "clone": _clone,
    "cross_validate threading": _cross_validate_threads,
    "ensemble selection": _selection,
    "cascade": _cascade,
    "CompressionSearchCV": _search,
    "compression report": _report,
    "to_onnx": _onnx,
    "to_onnx of a pipeline": _onnx_pipeline,
    "to_onnx of the raw table": _onnx_raw_table,
    "fine-tune all, reinit 1": _fine_tuned_all,
}

# (configuration, use) -> the words the refusal at fit must contain (both parts named)
REFUSED = {
    **{(config, "prune members"): r"Pruned(Classifier|Regressor)\(granularity='member'\) cannot prune "
       r"\w+: its net \w+ has no ensemble members" for config in CONFIGS if not config.startswith("tabm")},
    **{(config, use): r"FineTuned(Classifier|Regressor) cannot fine-tune TabM(Classifier|Regressor).*nn.Linear"
       for config in CONFIGS if config.startswith("tabm")
       for use in ("fine-tune", "fine-tune all, reinit 1")},
}

# uses that fit on the configuration's data as a raw table (text and category columns, missing values)
RAW_TABLE_USES = {"to_onnx of the raw table"}

# (configuration, use) pairs that do not apply, with the reason
NOT_APPLICABLE = {
    **{(config, "to_onnx of the raw table"): f"a {config} net reads numbers in its own layout; raw tables are "
       "the tabular nets' (MLP, ResNet, TabM)" for config in ("conv", "user module")},
    ("raw table (text, missing values)", "to_onnx of a pipeline"): (
        "the pipeline's StandardScaler takes no text column; a raw table's pipeline export is the "
        "ColumnTransformer tests' (compression/tests/test_onnx_pipelines.py)"),
}


def _inner(est):
    """The fitted net estimator a use's setting check reads (the one that trained with the configuration)."""
    if hasattr(est, "steps"):
        return _inner(est.steps[-1][1])
    for attr in ("estimators_", "estimator_", "student_"):
        inner = getattr(est, attr, None)
        if isinstance(inner, list):
            inner = inner[0]
        if inner is not None and hasattr(inner, "net_"):
            return inner
        if inner is not None:
            found = _inner(inner)
            if found is not None:
                return found
    return est if hasattr(est, "net_") else None


def _predictions(est, X, task):
    return est.predict_proba(X) if task == "classifier" else est.predict(X)


def _run_cell(config, use, task, tmp_path):
    if (config, use) in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[(config, use)])
    build, check = CONFIGS[config]
    X, y = _data(task)
    if config == "float64 input":
        X = X.astype(np.float64)
    elif config == "int input":
        X = np.round(X * 10).astype(np.int64)
    elif config == "pandas input" or (config == "defaults" and use == "fit"):
        X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
        y = pd.Series(y, name="target")
    elif config.startswith("raw table"):
        X = _raw_table(X)
    elif config == "missing values (numeric)":
        X = X.copy()
        X[::7, 3] = np.nan
    if use in RAW_TABLE_USES and not isinstance(X, pd.DataFrame):
        X = _raw_table(np.asarray(X, dtype=np.float32))
    elif use in RAW_TABLE_USES and "city" not in X:
        X = _raw_table(X.to_numpy(dtype=np.float32))
    net = build(task)
    fit_params = {}
    if config == "sample_weight":
        fit_params["sample_weight"] = np.where(np.asarray(X)[:, 0] > 0, 5.0, 0.2)
    if (config, use) in REFUSED:
        with pytest.raises((ValueError, TypeError), match=REFUSED[(config, use)]):
            USES[use](net, X, y, task, **fit_params)
        return
    est = USES[use](net, X, y, task, **fit_params)
    pred = _predictions(est, X, task)
    assert len(pred) == len(X) and np.all(np.isfinite(pred))
    if task == "classifier":
        assert set(est.predict(X)) <= {"yes", "no"}
    np.testing.assert_array_equal(_predictions(pickle.loads(pickle.dumps(est)), X, task), pred)
    skensemble.save(est, tmp_path / "m.zip")
    np.testing.assert_array_equal(_predictions(skensemble.load(tmp_path / "m.zip"), X, task), pred)
    if fit_params:  # the weights changed the fit
        unweighted = USES[use](build(task), X, y, task)
        assert not np.array_equal(_predictions(unweighted, X, task), pred), f"sample_weight ignored by {use}"
    if check is not None and use in SETTING_VISIBLE:
        inner = _inner(est)
        assert inner is not None and check(inner, task), f"{config} did not take effect in {use}"


# uses whose fitted estimator holds a net trained with the configuration's own settings
SETTING_VISIBLE = {"fit", "GridSearchCV n_jobs=2", "deep ensemble", "voting", "stacking", "distil: student",
                   "clone", "cross_validate threading", "compression report", "to_onnx",
                   "to_onnx of a pipeline", "to_onnx of the raw table"}


# the optimizer rows' cells in the default run: the ensembles that train same-shape members fused
_OPTIMIZER_USES = ("deep ensemble", "voting", "ensemble selection")


def _diagonal():
    """Every configuration and every use at least once per task, in cells that apply."""
    configs, uses = list(CONFIGS), list(USES)
    cells = []
    for task in TASKS:
        for i in range(max(len(configs), len(uses))):
            config, use = configs[i % len(configs)], uses[(i * 7) % len(uses)]
            if config.startswith("optimizer ") and i < len(configs):
                cells.append((config, _OPTIMIZER_USES[(i + TASKS.index(task)) % 3], task))
                config = "defaults"
            if (config, use) in NOT_APPLICABLE:
                cells.append((config, next(u for u in uses if (config, u) not in NOT_APPLICABLE), task))
                config = "defaults"
            cells.append((config, use, task))
    return cells


def test_the_diagonal_covers_every_configuration_and_use():
    cells = _diagonal()
    assert not [cell for cell in cells if cell[:2] in NOT_APPLICABLE]
    for task in TASKS:
        assert {c for c, _, t in cells if t == task} == set(CONFIGS)
        assert {u for _, u, t in cells if t == task} == set(USES)


@pytest.mark.parametrize("config, use, task", _diagonal())
def test_combination(config, use, task, tmp_path):
    _run_cell(config, use, task, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("use", list(USES))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_full_matrix(config, use, task, tmp_path):
    _run_cell(config, use, task, tmp_path)
