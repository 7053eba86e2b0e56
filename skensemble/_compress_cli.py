"""``skensemble compress DATA.csv --target COLUMN``: the demo's job on a user's CSV."""

import warnings
from pathlib import Path

import numpy as np

MAX_LEVELS = 50


class DataError(ValueError):
    """The CSV cannot be used as it is; the message says why."""


def read_table(path, target):
    """Features (DataFrame) and target (Series) from a CSV, with clear errors."""
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
        raise DataError(f"Target column {target!r} has {int(y.isna().sum())} missing values.")
    if y.nunique() < 2:
        raise DataError(f"Target column {target!r} has only one class ({y.iloc[0]!r}); "
                        "a classifier needs at least two.")
    if df.shape[1] == 0:
        raise DataError("The CSV has no feature columns besides the target.")
    missing = [c for c in df.columns if df[c].isna().any()]
    if missing:
        raise DataError(f"Feature columns with missing values: {missing}; impute or drop them first.")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            levels = df[c].nunique()
            if levels > MAX_LEVELS:
                raise DataError(
                    f"Column {c!r} is not numeric and has {levels} distinct values (more than "
                    f"{MAX_LEVELS}), so it cannot be one-hot encoded; drop or encode it first."
                )
    return df, y


def make_encoder(X):
    """One-hot encode non-numeric columns, pass numeric ones through."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    return ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)],
        remainder="passthrough", verbose_feature_names_out=False,
    )


def run_compress(data, target, out="skensemble-compress", tolerance=0.01, quick=False, log=print):
    """Train candidates on the CSV, pick the smallest within ``tolerance`` of the best, save it."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .compression import DistilledClassifier, PrunedClassifier, QuantizedClassifier
    from .nets import MLPNetClassifier
    from .persistence import save
    from .report import compression_report

    X, y = read_table(data, target)
    stratify = y if y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=stratify,
                                                        random_state=0)
    encoder = make_encoder(X_train).fit(X_train)
    E_train = encoder.transform(X_train).astype(np.float32)
    E_test = encoder.transform(X_test).astype(np.float32)
    epochs = 20 if quick else 100
    log(f"{Path(data).name}: {len(X_train)} training / {len(X_test)} test rows, "
        f"{E_train.shape[1]} features after encoding, {y.nunique()} classes")
    base = make_pipeline(StandardScaler(), MLPNetClassifier((128, 128), max_epochs=epochs,
                                                           early_stopping=not quick, random_state=0))
    base.fit(E_train, y_train)
    pruned = PrunedClassifier(FrozenEstimator(base), sparsity=0.5, granularity="neuron",
                              fine_tune_epochs=5, random_state=0).fit(E_train, y_train)
    candidates = {
        "net": base,
        "pruned 50%": pruned,
        "int8": QuantizedClassifier(FrozenEstimator(base)).fit(E_train, y_train),
        "pruned + int8": QuantizedClassifier(FrozenEstimator(pruned)).fit(E_train, y_train),
        "distilled from boosting": make_pipeline(StandardScaler(), DistilledClassifier(
            HistGradientBoostingClassifier(random_state=0),
            MLPNetClassifier((32,), max_epochs=epochs, random_state=0),
            augment_factor=2 if quick else 4, random_state=0)).fit(E_train, y_train),
    }
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
    choice = (f"Chosen: {chosen!r}, the smallest model scoring within {tolerance} of the best "
              f"({best:.4f}): score {rows[chosen]['score']:.4f}, {rows[chosen]['saved bytes']:,} bytes.")
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
