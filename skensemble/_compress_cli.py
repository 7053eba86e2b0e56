"""``skensemble compress DATA.csv --target COLUMN``: the demo's job on a user's CSV.

Classification or regression (detected from the target, or ``--task``);
missing values are imputed and text columns encoded inside the saved model.
"""

import json
import time
import warnings
from pathlib import Path

import numpy as np
from skorch.callbacks import Callback

MAX_LEVELS = 50  # text columns with more levels are target-encoded instead of one-hot encoded
MIN_ROWS = 20  # rows with a target below which a 3-fold search on 75% of them means nothing
MAX_CLASSES = 20  # a numeric target with more distinct values (or any fraction) is a regression target


class DataError(ValueError):
    """The CSV cannot be used as it is; the message says why."""


def read_table(path, target, task="auto", log=print):
    """Features (DataFrame), target (Series) and task from a CSV, with clear errors.

    Missing feature values are kept (the saved pipeline imputes them); a
    text column holding a different value on every row (an identifier) is
    dropped with a message naming it.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {path}")
    try:
        df = pd.read_csv(path)
    except Exception as exc:  # pandas raises several parser errors
        raise DataError(f"Could not read {path} as CSV: {exc}") from None
    if target not in df.columns:
        raise DataError(f"Target column {target!r} is not in {path.name}; columns: {list(df.columns)}")
    missing_target = df[target].isna()
    if missing_target.any():
        log(f"Dropping {int(missing_target.sum())} rows whose target {target!r} is missing.")
        df = df[~missing_target].reset_index(drop=True)
    if len(df) < MIN_ROWS:
        raise DataError(f"{path.name} has {len(df)} rows with a target; cross-validated compression needs "
                        f"at least {MIN_ROWS}.")
    y = df.pop(target)
    task = detect_task(y) if task == "auto" else task
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        raise DataError(f"--task regression needs a numeric target; {target!r} is {y.dtype}.")
    if y.nunique() < 2:
        kind = "a classifier needs at least two classes" if task == "classification" else \
            "a regressor needs a target that varies"
        raise DataError(f"Target column {target!r} has only one class ({y.iloc[0]!r}); {kind}.")
    for c in list(df.columns):
        if df[c].isna().all():
            raise DataError(f"Column {c!r} is missing on every row: it carries nothing to learn from; drop it.")
        if _looks_like_dates(df[c]):
            example = df[c].dropna().iloc[0]
            raise DataError(f"Column {c!r} holds dates (e.g. {example!r}), which the nets cannot read as they "
                            "are: convert it to numbers (days since a start, year, month, weekday) or drop it.")
        if not pd.api.types.is_numeric_dtype(df[c]) and df[c].nunique() == len(df):
            log(f"Dropping column {c!r}: a different value on every row (an identifier) "
                "carries nothing to learn from.")
            df = df.drop(columns=c)
    if df.shape[1] == 0:
        raise DataError("The CSV has no usable feature columns besides the target.")
    return df, y, task


_DATE = r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}(:\d{2})?)?\s*$"


def _looks_like_dates(column):
    """Whether a text column holds dates (or date-times) on nearly every row (ISO or d/m/y forms)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.dropna().astype(str)
    return len(values) > 0 and values.str.match(_DATE).mean() >= 0.9


def detect_task(y):
    """``"regression"`` for a numeric target with fractions or many values, else ``"classification"``."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=float)
    fractional = not np.all(np.equal(np.mod(values, 1), 0))
    return "regression" if fractional or y.nunique() > MAX_CLASSES else "classification"


def make_encoder(X, log=print):
    """Impute and encode the columns; every step is fitted inside the saved pipeline.

    Numeric columns: median imputation with a missing-value indicator.  Text
    columns: the most frequent value for missing entries, then one-hot
    encoding, or target encoding (``TargetEncoder``, cross-fitted) when a
    column has more than ``MAX_LEVELS`` values.
    """
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    text = [c for c in X.columns if c not in numeric]
    many = [c for c in text if X[c].nunique() > MAX_LEVELS]
    few = [c for c in text if c not in many]
    for c in many:
        log(f"Column {c!r} has {X[c].nunique()} text values: target-encoded (cross-fitted) "
            "instead of one-hot encoded.")
    missing = [c for c in X.columns if X[c].isna().any()]
    if missing:
        log(f"Columns with missing values, imputed inside the saved model: {missing}.")
    steps = [("numeric", SimpleImputer(strategy="median", add_indicator=True), numeric),
             ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                           OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
              few),
             ("target_encoded", make_pipeline(SimpleImputer(strategy="most_frequent"), _target_encoder()),
              many)]
    return ColumnTransformer([step for step in steps if step[2]], verbose_feature_names_out=False)


def _target_encoder():
    """``TargetEncoder`` cross-fitted on shuffled folds, seeded (scikit-learn 1.9 takes the folds as ``cv``
    and deprecates ``random_state``; earlier versions take only ``random_state``)."""
    import sklearn
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import TargetEncoder

    from ._compat import release

    if release(sklearn.__version__) >= (1, 9):
        return TargetEncoder(cv=KFold(5, shuffle=True, random_state=0))
    return TargetEncoder(random_state=0)


QUICK_EPOCHS, EPOCHS = 10, 100  # the nets' epochs with --quick and without
# --quick searches these of the default space (and the student of gradient boosting), with 2 folds
QUICK_CANDIDATES = {
    "mlp": ("uncompressed", "pruned neurons 0.75", "int8 dynamic", "pruned neurons 0.75 + int8"),
    "tabm": ("uncompressed", "members 8", "members 8 + int8", "int8 dynamic"),
}
BASES = tuple(QUICK_CANDIDATES)


def base_net(task, base, epochs, quick, random_state=0):
    """The unfitted net every candidate starts from: ``base`` ``"mlp"`` (two layers of 128) or ``"tabm"``.

    Both take the CSV's raw table (``preprocessing="always"``); ``"tabm"`` is
    ``TabMClassifier``/``TabMRegressor`` with k = 32 members (the space prunes
    them to 8), as measured in ``benchmarks/results/cli_bases.md``.
    """
    from . import nets

    if base not in BASES:
        raise ValueError(f"base must be one of {BASES}, got {base!r}.")
    regression = task == "regression"
    common = dict(max_epochs=epochs, early_stopping=not quick, preprocessing="always", random_state=random_state)
    if base == "tabm":
        return (nets.TabMRegressor if regression else nets.TabMClassifier)(k=32, **common)
    return (nets.MLPNetRegressor if regression else nets.MLPNetClassifier)((128, 128), **common)


def compression_space(task, encoder, epochs, quick, random_state=0, base="mlp"):
    """The candidates of a run, by name: the search's default space plus a student of boosting.

    The candidates take the CSV's raw table: each is built on an unfitted
    net (:func:`base_net`: a ``(128, 128)`` MLP, or a TabM) with
    ``preprocessing="always"``, whose table encoder (robust scaling, missing
    indicators, one-hot categories) is fitted with it in every fold and
    saved inside it.  For a TabM the space holds member pruning and the
    distilled MLP with piecewise-linear embeddings too.  The student's
    teacher, gradient boosting, reads the table through ``encoder`` (a
    ``ColumnTransformer``).
    """
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline

    from . import compression, nets
    from .model_selection import default_space

    regression = task == "regression"
    Net = nets.MLPNetRegressor if regression else nets.MLPNetClassifier
    Distilled = compression.DistilledRegressor if regression else compression.DistilledClassifier
    Boosting = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
    net = base_net(task, base, epochs, quick, random_state)
    space = default_space(net, random_state=random_state)
    if quick:  # the kinds that matter most, fine-tuned briefly: under 30 s on 5,000 rows (the MLP)
        space = {name: space[name] for name in QUICK_CANDIDATES[base]}
        if base == "mlp":
            space["pruned neurons 0.75"].set_params(fine_tune_epochs=2)
            space["pruned neurons 0.75 + int8"].set_params(estimator__fine_tune_epochs=2)
    space["distilled MLP (32,) from boosting"] = Distilled(
        make_pipeline(clone(encoder), Boosting(random_state=random_state)),
        Net((32,), max_epochs=epochs, preprocessing="always", random_state=random_state),
        augment_factor=2 if quick else 4, random_state=random_state)
    return space


TEACHER = "teacher: TabM (uncompressed, for comparison)"


def fit_teacher(task, X_train, y_train, log=print, random_state=0, max_seconds=None):
    """The strong net students learn from: a TabM with its defaults and early stopping, fitted once.

    Fitted on the training rows only (FAST-DAD's recipe, Fakoor et al.
    2020); the search then cross-validates students of it
    (:func:`teacher_students`), whose validation rows the teacher has seen,
    so their cross-validated scores lean optimistic: the held-out rows,
    which nothing saw, judge the chosen model.  With ``max_seconds`` no
    epoch starts once they are spent; early stopping then keeps the best
    epoch so far.
    """
    from . import nets

    Teacher = nets.TabMRegressor if task == "regression" else nets.TabMClassifier
    started = time.perf_counter()
    callbacks = [] if max_seconds is None else [("time_limit", _TimeLimit(max_seconds))]
    teacher = Teacher(early_stopping=True, preprocessing="always", callbacks=callbacks,
                      random_state=random_state).fit(X_train, y_train)
    limit = dict(teacher.net_.callbacks_).get("time_limit")  # the fitted net's copy of the callback
    stopped = " (stopped by its share of --time-limit)" if getattr(limit, "stopped", False) else ""
    log(f"Fitted the teacher, a TabM of {teacher.k} members, in {time.perf_counter() - started:.0f} s, "
        f"{len(teacher.history_)} epochs{stopped}")
    return teacher


class _TimeLimit(Callback):
    """End a training after the epoch during which ``seconds`` were spent, as ``EarlyStopping`` ends one."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_begin(self, net, **kwargs):
        self.started_, self.stopped = time.perf_counter(), False

    def on_epoch_end(self, net, **kwargs):
        if time.perf_counter() - self.started_ > self.seconds:
            self.stopped = True
            raise KeyboardInterrupt  # skorch's way for a callback to end a training; early stopping keeps the best


TEACHER_SHARE = 0.35  # of --time-limit, at most, for the teacher's epochs (diamonds, 3,750 rows: 37 s of 297)


def students_first(space, students):
    """``space`` with ``students`` right after the uncompressed net: searched before the other candidates, so
    a time limit that ends the search early skips the candidates least likely to be chosen."""
    names = list(space)
    return {names[0]: space[names[0]], **students, **{n: space[n] for n in names[1:]}}


def teacher_students(task, teacher, epochs, random_state=0):
    """Candidates distilled from the fitted ``teacher``: an MLP of 128 units with piecewise-linear embeddings
    in int8, then MLPs of 128 and 64 units so in float32 (a TabM distilled so kept its score at 6-7x lower
    latency, ``results/tabm_compression.md``)."""
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    from . import compression, nets

    regression = task == "regression"
    Net = nets.MLPNetRegressor if regression else nets.MLPNetClassifier
    Distilled = compression.DistilledRegressor if regression else compression.DistilledClassifier
    Quantized = compression.QuantizedRegressor if regression else compression.QuantizedClassifier
    students = {}
    for width in (128, 64):
        student = Net((width,), num_embeddings="piecewise_linear", max_epochs=epochs, early_stopping=True,
                      preprocessing="always", random_state=random_state)
        students[f"distilled MLP ({width},) from TabM"] = Distilled(
            FrozenEstimator(teacher), student, augment_factor=4, random_state=random_state)
    int8 = Quantized(clone(students["distilled MLP (128,) from TabM"]), random_state=random_state)
    # the int8 student first: a time limit that stops the search early still has the small model
    # (CPS1988, 28,155 rows, int8 last: the search reached two students and chose one of 239 kB)
    return {"distilled MLP (128,) from TabM + int8": int8, **students}


BOOSTING = "gradient boosting (HistGradientBoosting, for comparison)"


def gradient_boosting(task, encoder):
    """The obvious alternative a tabular user would fit: scikit-learn's histogram gradient boosting."""
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline

    Boosting = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    return make_pipeline(clone(encoder), Boosting(random_state=0))


def against(chosen, other, metric, title, name):
    """One sentence: which of the chosen model and ``other`` (``name``) wins on the held-out score and on speed."""
    lower_is_better = metric.upper() in ("RMSE", "MAE", "LOG LOSS")
    better = chosen["score"] < other["score"] if lower_is_better else chosen["score"] > other["score"]
    score = ("the chosen model" if better else name) if chosen["score"] != other["score"] else "neither"
    latency, speed = "latency @1", ""
    if chosen.get(latency) and other.get(latency):
        ratio = other[latency] / chosen[latency]
        speed = (f"; at batch 1 the chosen model predicts in {chosen[latency] * 1e3:.3g} ms against "
                 f"{other[latency] * 1e3:.3g} ms ({'the chosen model' if ratio > 1 else name} is "
                 f"{max(ratio, 1 / ratio):.1f}x faster)")
    return (f"Against {title} on the same rows: held-out {metric} {chosen['score']:.4f} "
            f"against {other['score']:.4f} ({score} wins on score), {chosen['saved bytes']:,} against "
            f"{other['saved bytes']:,} bytes{speed}.")


def _reading_columns(model, X_train):
    """``model`` behind a step that keeps the training columns: the saved model reads the whole CSV.

    The command drops columns it cannot use (identifiers, dates); the nets
    take exactly the columns they were fitted on, so the saved pipeline
    selects them first (as pandas, keeping their dtypes).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    columns = ColumnTransformer([("columns", "passthrough", list(X_train.columns))],
                                verbose_feature_names_out=False).set_output(transform="pandas").fit(X_train)
    return Pipeline([("columns", columns), ("model", model)])


def write_onnx(model, path, X_rows, log=print):
    """Write ``model`` as ONNX (its table encoding inside) and check it against the estimator on ``X_rows``.

    Returns ``(session, max_difference)``: the file opened in ONNX Runtime
    (``_predict_cli.OnnxModel``) and the largest difference between it and
    the estimator, of probabilities, or of predictions relative to
    ``1 + |prediction|``; ``None`` when the ONNX packages are missing or the
    model cannot be exported.
    """
    from ._predict_cli import OnnxModel
    from .export import to_onnx

    try:
        to_onnx(model, path)
        session = OnnxModel(Path(path))
    except ImportError as exc:
        log(f"No model.onnx: {exc}")
        return None
    except (TypeError, ValueError) as exc:
        log(f"No model.onnx: this model cannot be exported ({exc}).")
        return None
    proba, predictions = session.outputs(X_rows)
    expected = model.predict_proba(X_rows) if proba is not None else model.predict(X_rows)
    got = np.asarray(proba if proba is not None else predictions, dtype=np.float64)
    scale = 1.0 if proba is not None else 1.0 + np.abs(expected)
    return session, float(np.max(np.abs(got - expected) / scale))


def serving_latency(session, boosting, X_row):
    """Seconds of one row through the ONNX file and through gradient boosting's estimator call, round-robin."""
    from .report._metrics import interleaved_times

    feed = session._feed(X_row)
    call = boosting.predict_proba if hasattr(boosting, "predict_proba") else boosting.predict
    times = interleaved_times({"onnx": lambda: [session.session.run(None, feed) for _ in range(50)],
                               "boosting": lambda: [call(X_row) for _ in range(5)]}, repeats=7)
    return times["onnx"] / 50, times["boosting"] / 5


def _serving_sentence(onnx):
    """The ONNX file's batch-1 latency beside gradient boosting's estimator call, as a sentence."""
    if onnx is None:
        return ""
    agreement = (f"it reproduces model.zip's predictions to {onnx['max_difference']:.1e}"
                 if onnx["max_difference"] <= 1e-5 else
                 f"its predictions differ from model.zip's by up to {onnx['max_difference']:.2g} (this model's "
                 "reduced precision runs in torch only; the file holds its float net)")
    return (f"\nmodel.onnx predicts one row in {onnx['latency_s'] * 1e6:,.0f} us in ONNX Runtime, gradient "
            f"boosting's estimator in {onnx['boosting_latency_s'] * 1e6:,.0f} us "
            f"({onnx['boosting_latency_s'] / onnx['latency_s']:.0f}x); {agreement} on the held-out rows.")


def _plain(value):
    """A report cell as JSON data."""
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value if isinstance(value, (int, float, str, type(None))) else str(value)


def run_compress(data, target, out="skensemble-compress", max_drop=0.01, objective="size", quick=False,
                 log=print, task="auto", cv=None, n_jobs=None, base="mlp", teacher="tabm", time_limit=None):
    """Search compressions of a net on the CSV with ``CompressionSearchCV``, save the chosen model.

    ``base`` is the net the compressions start from (:func:`base_net`).
    ``teacher`` ``"tabm"`` (not with ``quick``) fits a TabM once on the
    training rows and adds students distilled from it to the candidates
    (:func:`teacher_students`); the held-out table compares the teacher too.
    ``time_limit`` (seconds, None: no limit) bounds the run: no candidate
    is launched once the time left is what the fits after the search need
    (:func:`search_budget`); the report names the candidates skipped.

    75% of the rows go to the search (``cv``-fold cross-validation of every
    candidate; the cheapest by ``objective`` within ``max_drop`` of the best
    cross-validated score is refitted on them); the other 25% measure the
    chosen model against the uncompressed net and histogram gradient
    boosting.  Writes ``model.zip``, ``model.onnx`` (the chosen model with its
    table encoding inside, checked against ``model.zip`` on the held-out
    rows; needs the ``onnx`` extra), ``report.md`` (both tables),
    ``summary.json`` (the held-out rows and the run's time), ``report.png``
    and ``pareto.png`` to ``out``.
    """
    from sklearn.model_selection import train_test_split

    from .report import compression_report

    started = time.perf_counter()
    cv = cv if cv is not None else 2 if quick else 3
    X, y, task = read_table(data, target, task, log=log)
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=stratify,
                                                        random_state=0)
    encoder = make_encoder(X_train, log=log)  # gradient boosting's (the nets encode the table themselves)
    _log_data(data, X_train, X_test, y, task, log)
    epochs = QUICK_EPOCHS if quick else EPOCHS
    space = compression_space(task, encoder, epochs=epochs, quick=quick, base=base)
    fitted_teacher = None
    if teacher == "tabm" and not quick:
        fitted_teacher = fit_teacher(task, X_train, y_train, log=log,
                                     max_seconds=None if time_limit is None else TEACHER_SHARE * time_limit)
        space = students_first(space, teacher_students(task, fitted_teacher, epochs))
    max_time = search_budget(time_limit, time.perf_counter() - started)
    search = _search(space, X_train, y_train, max_drop, objective, cv, n_jobs, log, max_time)
    skipped = [name for name in space if name not in search.candidate_names_]
    if skipped:
        log(f"Skipped {len(skipped)} candidates to keep within --time-limit {time_limit:g} s: {', '.join(skipped)}")
    models = _held_out_models(search, space, task, encoder, X_train, y_train, fitted_teacher)
    held_out = compression_report(models, X_test, y_test, n_repeats=3 if quick else 7)
    table = compression_report(search)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_path, onnx = _write_models(search.best_estimator_, models[BOOSTING], out, X_train, X_test, log)
    choice = _choice(search, held_out, max_drop, objective) + _serving_sentence(onnx)
    (out / "summary.json").write_text(json.dumps({
        "data": Path(data).name, "target": target, "task": task, "rows": int(len(X)),
        "chosen": search.best_candidate_, "metric": held_out.score_name, "skipped": skipped,
        "time_limit": time_limit,
        "held_out": {name: {k: _plain(v) for k, v in r.items()} for name, r in held_out.to_dict().items()},
        "onnx": onnx, "seconds": round(time.perf_counter() - started, 2)}, indent=1))
    (out / "report.md").write_text(
        f"# skensemble compress: {Path(data).name}, target {target!r}\n\n"
        f"## Every candidate, {cv}-fold cross-validated on the training rows\n\n{table.to_markdown()}\n\n"
        f"## The chosen model on the held-out 25%\n\n{held_out.to_markdown()}\n\n{choice}\n"
        + (f"\nSkipped to keep within the time limit ({time_limit:g} s): {', '.join(skipped)}.\n" if skipped else ""))
    for text in (str(table), "\n" + str(held_out), "\n" + choice):
        log(text)
    _plot(held_out, table, out)
    log(f"Saved {model_path} (load with skensemble.load; it takes the CSV's feature columns)"
        + (f", {onnx['path']}" if onnx else "") + f" and {out / 'report.md'}; predict new rows with "
        f"'skensemble predict {model_path} DATA.csv'.")
    return model_path, search.best_candidate_, search


def _log_data(data, X_train, X_test, y, task, log):
    from .preprocessing import TableEncoder

    n_encoded = TableEncoder().fit(X_train).n_features_out_
    what = f"{y.nunique()} classes" if task == "classification" else "a numeric target (regression)"
    log(f"{Path(data).name}: {len(X_train)} training / {len(X_test)} test rows, "
        f"{n_encoded} features after encoding, {what}")


def search_budget(time_limit, elapsed):
    """Seconds the search may launch candidates in, of ``time_limit`` with ``elapsed`` spent: None without a limit.

    After the search come the chosen model's refit, the uncompressed net's
    and gradient boosting's fits for the held-out table, and the report: a
    fifth of the time left is kept for them (on the benchmark's tables they
    took 10-20% of a run).  The search launches a candidate only when the
    longest time one took before it still fits in its budget (the first
    always runs), so a run overshoots by at most one candidate's
    cross-validation, when that one takes longer than all before it.
    """
    if time_limit is None:
        return None
    return max(0.8 * (time_limit - elapsed), 1e-3)


def _search(space, X_train, y_train, max_drop, objective, cv, n_jobs, log, max_time=None):
    """``CompressionSearchCV`` over ``space``, fitted on the training rows; its notes on ``max_drop`` logged."""
    from .model_selection import CompressionSearchCV
    from .model_selection._search import UNCOMPRESSED

    log(f"Searching {len(space)} candidates, {cv}-fold cross-validated, for the lowest {objective} "
        f"within {max_drop} of the best score...")
    search = CompressionSearchCV(space[UNCOMPRESSED], space=space, max_drop=max_drop, objective=objective,
                                 cv=cv, n_jobs=n_jobs, max_time=max_time, random_state=0, verbose=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        search.fit(X_train, y_train)
    for w in caught:
        if "max_drop" in str(w.message):
            log(f"Note: {w.message}")
    return search


def _held_out_models(search, space, task, encoder, X_train, y_train, teacher=None):
    """The models the held-out rows compare: the uncompressed net, the chosen model, the teacher, boosting."""
    from sklearn.base import clone

    from .model_selection._search import UNCOMPRESSED

    chosen = search.best_candidate_
    models = {UNCOMPRESSED: clone(space[UNCOMPRESSED]).fit(X_train, y_train)} if chosen != UNCOMPRESSED else {}
    models[f"chosen: {chosen}"] = search.best_estimator_
    if teacher is not None:
        models[TEACHER] = teacher
    models[BOOSTING] = gradient_boosting(task, encoder).fit(X_train, y_train)
    return models


def _choice(search, held_out, max_drop, objective):
    """The sentences that say what was chosen, why, and how it stands against gradient boosting."""
    metric, rows = held_out.score_name, held_out.to_dict()
    row = rows[f"chosen: {search.best_candidate_}"]
    best = float(np.nanmax(search.cv_results_["mean_test_score"]))
    return (f"Chosen: {search.best_candidate_!r}, the lowest {objective} among the candidates whose "
            f"cross-validated {metric} is within {max_drop} of the best {metric} ({best:.4f}): cross-validated "
            f"{search.best_score_:.4f}, held-out {row['score']:.4f}, {row['saved bytes']:,} bytes.\n"
            + against(row, rows[BOOSTING], metric, "histogram gradient boosting", "gradient boosting")
            + ("\n" + against(row, rows[TEACHER], metric, "the TabM teacher", "the teacher")
               if TEACHER in rows else ""))


def _write_models(model, boosting, out, X_train, X_test, log):
    """``model.zip`` and, with the onnx extra, ``model.onnx`` with its batch-1 latency beside boosting's."""
    from .persistence import save

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model_path = save(_reading_columns(model, X_train), out / "model.zip")
        written = write_onnx(model, out / "model.onnx", X_test, log=log)
    if written is None:
        return model_path, None
    session, difference = written
    onnx_s, boosting_s = serving_latency(session, boosting, X_test.iloc[:1])
    return model_path, {"path": str(out / "model.onnx"), "max_difference": difference, "latency_s": onnx_s,
                        "boosting_latency_s": boosting_s}


def _plot(held_out, table, out):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            held_out.plot(out / "report.png")
            table.plot(out / "pareto.png")
    except ImportError:  # no matplotlib: the tables say it all
        pass
