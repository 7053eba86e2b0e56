"""``to_onnx``: one entry point for exporting a net, a compressed net or a whole pipeline."""

import json

import numpy as np

from ._onnx import _require, estimator_onnx_bytes
from ._skl2onnx import pipeline_to_onnx


def to_onnx(estimator, path, X=None):
    """Write ``estimator`` as an ONNX file for deployment.

    A ``QuantizedClassifier``/``QuantizedRegressor`` fitted with
    ``backend="onnxruntime"`` writes its int8 model (dynamic or static); any
    other estimator holding a net (a net, a pruned, distilled or fine-tuned
    net) writes its float module, which takes the net's input features as
    input ``X``.  A classifier's graph returns ``logits``; a regressor's
    returns ``predictions`` in the target's units and shape (the net's
    standardisation of the targets undone inside the graph: one column per
    target, or a vector for a 1-d ``y``), equal to ``predict``.  torch's own
    int8 modules cannot be exported; their float net is written.  A net that
    reads raw tables has its encoding inside the graph: a numeric table is
    input ``X``, a table with text columns one input per column (see
    :func:`~skensemble.compression._onnx.prepend_table_encoding`; feed it
    with :func:`~skensemble.export.onnx_inputs`).  The file's metadata
    holds the columns it reads (``skensemble.columns``), a classifier's
    ``skensemble.classes`` and ``skensemble.task`` (JSON), which
    ``skensemble predict`` reads.

    A scikit-learn ``Pipeline`` or ``ColumnTransformer`` is written as one
    graph through ``skl2onnx`` (``pip install 'skensemble[onnx]'``): its
    preprocessing by skl2onnx's converters, any of the estimators above by
    skensemble's (the same graph, spliced in), any other final estimator by
    skl2onnx's.  Classifiers give ``label`` and ``probabilities``, regressors
    ``variable`` (one column per target).  ``X``: a few rows like the ones
    it predicts on, needed for a pipeline fitted on a DataFrame (one ONNX
    input per column; feed them with
    :func:`~skensemble.export.onnx_inputs`, which passes missing text as
    ``""``: the graph's text imputers read it as missing).  A step skl2onnx
    cannot convert is refused with a ``ValueError`` that names it.

    Parameters
    ----------
    estimator : fitted estimator
        A net, a compressed or fine-tuned net, or a pipeline or column
        transformer (ending in any estimator skl2onnx or skensemble converts).
    path : str or path-like
        The file to write.
    X : array-like or DataFrame, default=None
        A few rows like those it predicts on; needed for a pipeline fitted on
        a DataFrame.

    Returns
    -------
    path : str or path-like
        ``path``.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, (Pipeline, ColumnTransformer)):
        data = pipeline_to_onnx(estimator, X)
    else:
        data = with_metadata(estimator_onnx_bytes(estimator), estimator)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def with_metadata(onnx_bytes, estimator):
    """The graph with what a reader needs beside it: the columns, the task and a classifier's classes.

    Stored as the model's ``metadata_props`` (JSON values): ``skensemble.columns``
    (the fitted column names, or ``null`` for an array), ``skensemble.task``
    (``"classification"`` or ``"regression"``) and ``skensemble.classes``.
    """
    from sklearn.base import is_classifier

    model = _require("onnx").load_from_string(onnx_bytes)
    names = getattr(estimator, "feature_names_in_", None)
    meta = {"skensemble.columns": None if names is None else [str(c) for c in names],
            "skensemble.n_features": int(estimator.n_features_in_),
            "skensemble.task": "classification" if is_classifier(estimator) else "regression"}
    if is_classifier(estimator):
        meta["skensemble.classes"] = np.asarray(estimator.classes_).tolist()
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    return model.SerializeToString()
