"""compression_report: accuracy, size and latency of several models, side by side."""

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.metrics import check_scoring, log_loss, mean_absolute_error, mean_squared_error

from .._compat.sklearn import is_search

from ._calibration import expected_calibration_error
from ._metrics import count_parameters, interleaved_latency, saved_size_bytes
from ._search_report import SearchReport
from ._table import CompressionReport


def compression_report(models, X=None, y=None, *, reference=None, scoring=None, batch_sizes=(1, 256),
                       n_repeats=7):
    """Measure fitted models side by side: score, parameters, size and latency.

    Parameters
    ----------
    models : dict of str -> fitted estimator, or a fitted CompressionSearchCV
        Nets, compressed nets, ensembles or any scikit-learn classifier or
        regressor (all of one task).  A fitted
        :class:`~skensemble.model_selection.CompressionSearchCV` is reported
        from its cross-validation results instead (no ``X``, ``y``): one row
        per candidate with its mean score, cost, cost ratio to the
        uncompressed model, whether it is on the Pareto front and whether it
        was chosen; ``plot()`` then draws the search's Pareto plot.
    X, y : array-like
        Test data (not with a search).
    reference : str, default=None
        The model the ratio columns compare to (default: the first).
    scoring : str or callable, default=None
        A scikit-learn scorer; ``None`` uses each estimator's ``score``:
        accuracy for classifiers, R^2 for regressors.  When every model is a
        regressor, the table also has RMSE and MAE columns; when every model
        is a classifier with ``predict_proba``, log loss and the expected
        calibration error (ECE, 15 bins), since a compressed model can keep
        its accuracy and lose its calibration.
    batch_sizes : tuple of int, default=(1, 256)
        Batch sizes of the latency columns.
    n_repeats : int, default=7
        Timed rounds per batch size; latency is the median, measured after a
        warm-up, round-robin over the models.

    Returns
    -------
    report : CompressionReport

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skensemble.nets import MLPNetClassifier
    >>> from skensemble.report import compression_report
    >>> X, y = load_iris(return_X_y=True)
    >>> models = {"lr": LogisticRegression(max_iter=500).fit(X, y),
    ...           "net": MLPNetClassifier((8,), max_epochs=20, random_state=0).fit(X, y)}
    >>> report = compression_report(models, X, y, n_repeats=2)
    >>> sorted(report.to_dict()["net"])[:4]
    ['ECE', 'latency @1', 'latency @256', 'latency ratio @1']
    """
    if hasattr(models, "fit"):  # an estimator, not a dict of them
        return _search_report(models, X, y)
    if X is None or y is None:
        raise TypeError("compression_report(models, X, y) needs the test data X and y.")
    if not models:
        raise ValueError("models is empty: pass a dict of name -> fitted estimator.")
    reference = reference or next(iter(models))
    if reference not in models:
        raise ValueError(f"reference {reference!r} is not one of the models {list(models)}.")
    predictors, data = _predictors(models, X)
    latency = interleaved_latency(predictors, data, batch_sizes, repeats=n_repeats)
    regression = all(is_regressor(m) for m in models.values())
    calibration = all(is_classifier(m) and hasattr(m, "predict_proba") for m in models.values())
    rows = []
    for name, model in models.items():
        scorer = check_scoring(model, scoring=scoring)
        row = {"model": name, "score": float(scorer(model, X, y))}
        if regression:
            pred = model.predict(X)
            row["RMSE"] = float(np.sqrt(mean_squared_error(y, pred)))
            row["MAE"] = float(mean_absolute_error(y, pred))
        if calibration:
            proba = model.predict_proba(X)
            row["log loss"] = float(log_loss(y, proba, labels=model.classes_))
            row["ECE"] = expected_calibration_error(y, proba, model.classes_)
        row.update({"parameters": count_parameters(model),
                    "non-zero parameters": count_parameters(model, nonzero=True),
                    "saved bytes": saved_size_bytes(model)})
        for b in batch_sizes:
            row[f"latency @{b}"] = latency[name][b]
        rows.append(row)
    ref = next(r for r in rows if r["model"] == reference)
    for r in rows:
        r["size ratio"] = r["saved bytes"] / ref["saved bytes"]
        for b in batch_sizes:
            r[f"latency ratio @{b}"] = r[f"latency @{b}"] / ref[f"latency @{b}"]
    columns = ["model", "score"] + (["RMSE", "MAE"] if regression else [])
    columns += ["log loss", "ECE"] if calibration else []
    columns += ["parameters", "non-zero parameters", "saved bytes", "size ratio"]
    columns += [f"latency @{b}" for b in batch_sizes] + [f"latency ratio @{b}" for b in batch_sizes]
    if scoring is not None:
        score_name = scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "score")
    else:
        score_name = "R^2" if regression else "accuracy" if all(map(is_classifier, models.values())) else "score"
    return CompressionReport(rows, columns, reference, batch_sizes, score_name)


def _search_report(search, X, y):
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(search, "objective") or not is_search(search):
        raise TypeError(f"compression_report takes a dict of fitted models or a fitted CompressionSearchCV, "
                        f"not {type(search).__name__}.")
    check_is_fitted(search, "candidate_names_")
    if X is not None or y is not None:
        raise TypeError("A search is reported from its cross-validation results: call "
                        "compression_report(search) without X and y, or pass a dict of fitted models "
                        "to measure them on test data.")
    return SearchReport(search)


def _predictors(models, X):
    """Predict callables taking a batch, and the data to cut batches from.

    DataFrames are batched by row index so that batches keep their columns.
    """
    if hasattr(X, "iloc"):
        rows = np.arange(len(X))[:, None]
        return {n: (lambda idx, m=m: m.predict(X.iloc[idx[:, 0]])) for n, m in models.items()}, rows
    return {n: m.predict for n, m in models.items()}, np.asarray(X)
