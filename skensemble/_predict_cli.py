"""``skensemble predict MODEL DATA.csv``: predictions of a saved model (``.zip``) or its ONNX file.

The zip is read with :func:`skensemble.load` and predicts through the
estimator; the ONNX file runs in ONNX Runtime with the columns, task and
classes that :func:`~skensemble.export.to_onnx` wrote into its
metadata.  Both write the same table: a classifier's ``prediction`` (the
label) and one ``proba_<class>`` column per class, a regressor's
``prediction`` (``prediction_<i>`` for several targets).
"""

import json
from pathlib import Path

import numpy as np


class PredictError(Exception):
    """The model or the data cannot be used; the message says why (one line)."""


def read_rows(path):
    """The CSV's rows as a DataFrame, with a one-line error for a file that is not one."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise PredictError(f"No such file: {path}")
    try:
        return pd.read_csv(path)
    except Exception as exc:  # pandas raises several parser errors
        raise PredictError(f"Could not read {path} as CSV: {exc}") from None


def _require_columns(frame, columns, model_path):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PredictError(f"{model_path.name} reads the columns {missing}, which the data lacks.")


class ZipModel:
    """A model saved by ``skensemble.save``, predicting through the estimator."""

    def __init__(self, path):
        from .persistence import load

        try:
            self.estimator = load(path)
        except Exception as exc:  # a file that is not a model archive: one line, not a traceback
            raise PredictError(f"{path.name} is not a model saved by skensemble.save: {exc}") from None
        self.path = path
        self.classes = getattr(self.estimator, "classes_", None)

    def columns(self):
        names = getattr(self.estimator, "feature_names_in_", None)
        return None if names is None else [str(c) for c in names]

    def outputs(self, frame):
        """``(probabilities or None, predictions)`` for the rows of ``frame``."""
        columns = self.columns()
        if columns is not None:
            _require_columns(frame, columns, self.path)
            frame = frame[columns]
        if self.classes is not None and hasattr(self.estimator, "predict_proba"):
            proba = self.estimator.predict_proba(frame)
            return proba, np.asarray(self.classes)[proba.argmax(axis=1)]
        return None, self.estimator.predict(frame)


class OnnxModel:
    """An ONNX file written by ``to_onnx``, run in ONNX Runtime."""

    def __init__(self, path):
        import onnx
        import onnxruntime as ort

        try:
            model = onnx.load(str(path))
        except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file
            raise PredictError(f"{path.name} is not an ONNX model: {exc}") from None
        meta = {p.key: json.loads(p.value) for p in model.metadata_props if p.key.startswith("skensemble.")}
        if "skensemble.task" not in meta:
            raise PredictError(f"{path.name} was not written by skensemble's to_onnx (no skensemble metadata): "
                               "its columns and classes are unknown.")
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.path, self.meta = path, meta
        self.classes = np.asarray(meta["skensemble.classes"]) if "skensemble.classes" in meta else None

    def columns(self):
        return self.meta.get("skensemble.columns")

    def _feed(self, frame):
        from .export import onnx_inputs

        inputs = [i.name for i in self.session.get_inputs()]
        columns = self.columns()
        if columns is None:  # fitted on an array: the CSV's first n_features columns
            columns = list(frame.columns[: self.meta["skensemble.n_features"]])
        _require_columns(frame, columns, self.path)
        return onnx_inputs(frame[columns], inputs)

    def outputs(self, frame):
        from .nets._targets import softmax

        raw = self.session.run(None, self._feed(frame))[0].astype(np.float64)
        if self.classes is None:
            return None, raw
        proba = softmax(raw)
        return proba, self.classes[proba.argmax(axis=1)]


def open_model(path):
    """The model at ``path``: a ``.zip`` saved by ``skensemble.save`` or a ``.onnx`` file from ``to_onnx``."""
    path = Path(path)
    if not path.is_file():
        raise PredictError(f"No such file: {path}")
    if path.suffix.lower() == ".onnx":
        return OnnxModel(path)
    if path.suffix.lower() == ".zip":
        return ZipModel(path)
    raise PredictError(f"{path.name}: expected a model.zip (skensemble.save) or a model.onnx (to_onnx).")


def predictions_table(model, frame):
    """The predictions of ``model`` on ``frame`` as a DataFrame (see the module docstring)."""
    import pandas as pd

    proba, labels = model.outputs(frame)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        table = pd.DataFrame(labels, columns=[f"prediction_{i}" for i in range(labels.shape[1])])
    else:
        table = pd.DataFrame({"prediction": labels})
    if proba is not None:
        for i, label in enumerate(model.classes):
            table[f"proba_{label}"] = proba[:, i]
    return table


def run_predict(model_path, data, out=None):
    """Write (``out``) or return the predictions of the model at ``model_path`` on the CSV ``data``."""
    model = open_model(model_path)
    table = predictions_table(model, read_rows(data))
    if out is not None:
        table.to_csv(out, index=False)
    return table
