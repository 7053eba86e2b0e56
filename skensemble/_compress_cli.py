"""``skensemble compress DATA.csv --target COLUMN``: the demo's job on a user's CSV.

Classification or regression (detected from the target, or ``--task``);
missing values are imputed and text columns encoded inside the saved model.
"""

import warnings
from pathlib import Path

import numpy as np

MAX_LEVELS = 50  # text columns with more levels are target-encoded instead of one-hot encoded
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
    y = df.pop(target)
    if y.isna().any():
        raise DataError(f"Target column {target!r} has {int(y.isna().sum())} missing values; "
                        "drop those rows first.")
    task = detect_task(y) if task == "auto" else task
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        raise DataError(f"--task regression needs a numeric target; {target!r} is {y.dtype}.")
    if y.nunique() < 2:
        kind = "a classifier needs at least two classes" if task == "classification" else \
            "a regressor needs a target that varies"
        raise DataError(f"Target column {target!r} has only one class ({y.iloc[0]!r}); {kind}.")
    for c in list(df.columns):
        if not pd.api.types.is_numeric_dtype(df[c]) and df[c].nunique() == len(df):
            log(f"Dropping column {c!r}: a different value on every row (an identifier) "
                "carries nothing to learn from.")
            df = df.drop(columns=c)
    if df.shape[1] == 0:
        raise DataError("The CSV has no usable feature columns besides the target.")
    return df, y, task


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
    from sklearn.preprocessing import OneHotEncoder, TargetEncoder

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
             ("target_encoded", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                              TargetEncoder(random_state=0)), many)]
    return ColumnTransformer([step for step in steps if step[2]], verbose_feature_names_out=False)


def _candidates(task, epochs, quick):
    """The models each run tries, for the task: a net, pruned, int8, both, and a distilled student."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from . import compression, nets

    regression = task == "regression"
    Net = nets.MLPNetRegressor if regression else nets.MLPNetClassifier
    Pruned = compression.PrunedRegressor if regression else compression.PrunedClassifier
    Quantized = compression.QuantizedRegressor if regression else compression.QuantizedClassifier
    Distilled = compression.DistilledRegressor if regression else compression.DistilledClassifier
    Boosting = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier

    def fit_all(X, y):
        base = make_pipeline(StandardScaler(), Net((128, 128), max_epochs=epochs,
                                                   early_stopping=not quick, random_state=0)).fit(X, y)
        pruned = Pruned(FrozenEstimator(base), sparsity=0.5, granularity="neuron",
                        fine_tune_epochs=5, random_state=0).fit(X, y)
        return {
            "net": base,
            "pruned 50%": pruned,
            "int8": Quantized(FrozenEstimator(base)).fit(X, y),
            "pruned + int8": Quantized(FrozenEstimator(pruned)).fit(X, y),
            "distilled from boosting": make_pipeline(StandardScaler(), Distilled(
                Boosting(random_state=0), Net((32,), max_epochs=epochs, random_state=0),
                augment_factor=2 if quick else 4, random_state=0)).fit(X, y),
        }

    return fit_all


def run_compress(data, target, out="skensemble-compress", tolerance=0.01, quick=False, log=print,
                 task="auto"):
    """Train candidates on the CSV, pick the smallest within ``tolerance`` of the best, save it."""
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    from .persistence import save
    from .report import compression_report

    X, y, task = read_table(data, target, task, log=log)
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=stratify,
                                                        random_state=0)
    encoder = make_encoder(X_train, log=log)
    E_train = encoder.fit_transform(X_train, y_train).astype(np.float32)  # target encoding cross-fits
    E_test = encoder.transform(X_test).astype(np.float32)
    epochs = 20 if quick else 100
    what = f"{y.nunique()} classes" if task == "classification" else "a numeric target (regression)"
    log(f"{Path(data).name}: {len(X_train)} training / {len(X_test)} test rows, "
        f"{E_train.shape[1]} features after encoding, {what}")
    candidates = _candidates(task, epochs, quick)(E_train, y_train)
    report = compression_report(candidates, E_test, y_test, reference="net",
                                n_repeats=3 if quick else 7)
    rows = report.to_dict()
    best = max(r["score"] for r in rows.values())
    eligible = [n for n, r in rows.items() if r["score"] >= best - tolerance]
    chosen = min(eligible, key=lambda n: rows[n]["saved bytes"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = Pipeline([("encode", encoder), ("model", candidates[chosen])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model_path = save(model, out / "model.zip")
    metric = report.score_name
    choice = (f"Chosen: {chosen!r}, the smallest model scoring within {tolerance} of the best "
              f"{metric} ({best:.4f}): {metric} {rows[chosen]['score']:.4f}, "
              f"{rows[chosen]['saved bytes']:,} bytes.")
    (out / "report.md").write_text(f"# skensemble compress: {Path(data).name}, target {target!r}\n\n"
                                   + report.to_markdown() + "\n\n" + choice + "\n")
    log(str(report))
    log("\n" + choice)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.plot(out / "report.png")
    except ImportError:
        pass
    log(f"Saved {model_path} (load with skensemble.load; it takes the CSV's feature columns) "
        f"and {out / 'report.md'}.")
    return model_path, chosen, report
