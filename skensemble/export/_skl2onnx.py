"""Pipelines as one ONNX graph: skl2onnx converters for skensemble's estimators.

``skl2onnx`` converts scikit-learn's transformers (imputers, scalers, one-hot
encoders, ``ColumnTransformer``) and calls a registered converter for every
other step.  For a skensemble estimator that holds a net (a net, a pruned,
quantized, distilled or fine-tuned one), the converter splices in the graph
:func:`~skensemble.export.to_onnx` writes for it: the float net, or the
int8 graph of a ``backend="onnxruntime"`` quantization, with a regressor's
target decoding; a classifier's logits become ``label`` and
``probabilities``, a regressor's predictions ``variable``, as for
scikit-learn's own models.

Registration happens when an export needs it (:func:`register_converters`),
for the classes in the pipeline only; nothing is registered at import.
"""

import copy

import numpy as np

from ..utils._access import get_net_estimator, is_net
from ._onnx import estimator_onnx_bytes

_SPLICED = {}  # class -> registered with skl2onnx already


def _skl2onnx():
    try:
        import skl2onnx
    except ImportError as exc:
        raise ImportError("Exporting a pipeline needs skl2onnx: pip install 'skensemble[onnx]'.") from exc
    return skl2onnx


def holds_a_net(estimator):
    """Whether ``estimator`` is one of skensemble's estimators around a net (a pipeline is not one)."""
    return type(estimator).__module__.startswith("skensemble.") and is_net(estimator)


def _steps(estimator):
    """Every estimator inside a pipeline, column transformer or feature union (and itself)."""
    yield estimator
    for attr in ("steps", "transformer_list"):
        for _, step in getattr(estimator, attr, None) or []:
            yield from _steps(step)
    for _, step, _ in getattr(estimator, "transformers_", None) or []:
        yield from _steps(step)


def _splice(estimator, scope, container, x_name, prefix):
    """Add the net graph of ``estimator`` to ``container``, reading ``x_name``; return its output's name."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(estimator_onnx_bytes(estimator))
    graph = model.graph
    opsets = {entry.domain or "": entry.version for entry in model.opset_import}
    names = {graph.input[0].name: x_name}

    def rename(name):
        if not name:
            return name
        if name not in names:
            names[name] = scope.get_unique_variable_name(prefix + name)
        return names[name]

    for init in graph.initializer:
        container.add_initializer(rename(init.name), init.data_type, list(init.dims),
                                  numpy_helper.from_array(numpy_helper.to_array(init), init.name))
    bounds = {}

    def bound(index):
        """An explicit float32 bound for a ``Clip`` whose min (1) or max (2) input is left out."""
        if index not in bounds:
            value = np.finfo(np.float32).min if index == 1 else np.finfo(np.float32).max
            bounds[index] = scope.get_unique_variable_name(prefix + ("clip_min" if index == 1 else "clip_max"))
            container.add_initializer(bounds[index], onnx.TensorProto.FLOAT, [], [float(value)])
        return bounds[index]

    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = [rename(i) for i in node.input]
        # skl2onnx sorts the graph by names, and an omitted optional input ("") has no producer
        if node.op_type == "Clip":
            inputs = [bound(i) if not name and i in (1, 2) else name for i, name in enumerate(inputs)]
        elif any(not name for name in inputs):
            raise ValueError(f"skl2onnx cannot splice {type(estimator).__name__}'s graph: its {node.op_type} node "
                             "leaves an optional input out, which skl2onnx's graph cannot hold.")
        container.add_node(node.op_type, inputs, [rename(o) for o in node.output],
                           op_domain=node.domain or "", op_version=opsets.get(node.domain or ""),
                           name=scope.get_unique_operator_name(prefix + (node.name or node.op_type)),
                           **attributes)
    return rename(graph.output[0].name)


def _shapes(operator):
    from sklearn.base import is_classifier
    from skl2onnx.common.shape_calculator import (calculate_linear_classifier_output_shapes,
                                                  calculate_linear_regressor_output_shapes)

    if is_classifier(operator.raw_operator):
        calculate_linear_classifier_output_shapes(operator)
    else:
        calculate_linear_regressor_output_shapes(operator)
        operator.outputs[0].type.shape = [operator.inputs[0].get_first_dimension(),
                                          _n_targets(operator.raw_operator)]


def _n_targets(estimator):
    inner = get_net_estimator(estimator)
    mean = getattr(inner, "_y_mean", None)
    return 1 if mean is None else int(np.size(mean))


def _convert(scope, operator, container):
    from onnx import TensorProto
    from sklearn.base import is_classifier

    estimator = operator.raw_operator
    prefix = type(estimator).__name__ + "_"
    x = scope.get_unique_variable_name(prefix + "X")
    container.add_node("Cast", operator.inputs[0].full_name, x, to=TensorProto.FLOAT,
                       name=scope.get_unique_operator_name(prefix + "Cast"))
    out = _splice(estimator, scope, container, x, prefix)
    if not is_classifier(estimator):
        shape = scope.get_unique_variable_name(prefix + "shape")
        container.add_initializer(shape, TensorProto.INT64, [2], [-1, _n_targets(estimator)])
        container.add_node("Reshape", [out, shape], operator.outputs[0].full_name,
                           name=scope.get_unique_operator_name(prefix + "Reshape"))
        return
    label, proba = operator.outputs[0], operator.outputs[1]
    container.add_node("Softmax", out, proba.full_name, axis=1, op_version=13,
                       name=scope.get_unique_operator_name(prefix + "Softmax"))
    index = scope.get_unique_variable_name(prefix + "argmax")
    container.add_node("ArgMax", proba.full_name, index, axis=1, keepdims=0,
                       name=scope.get_unique_operator_name(prefix + "ArgMax"))
    classes = np.asarray(estimator.classes_)
    names = scope.get_unique_variable_name(prefix + "classes")
    if classes.dtype.kind in "iub":
        container.add_initializer(names, TensorProto.INT64, [len(classes)], classes.astype(np.int64).tolist())
    else:
        container.add_initializer(names, TensorProto.STRING, [len(classes)],
                                  [str(c).encode() for c in classes])
    picked = scope.get_unique_variable_name(prefix + "picked")
    container.add_node("ArrayFeatureExtractor", [names, index], picked, op_domain="ai.onnx.ml",
                       name=scope.get_unique_operator_name(prefix + "Classes"))
    flat = scope.get_unique_variable_name(prefix + "flat")
    container.add_initializer(flat, TensorProto.INT64, [1], [-1])
    container.add_node("Reshape", [picked, flat], label.full_name,
                       name=scope.get_unique_operator_name(prefix + "Label"))


def register_converters(estimator):
    """Register skl2onnx converters for the skensemble estimators inside ``estimator``; return their classes."""
    skl2onnx = _skl2onnx()
    classes = []
    for step in _steps(estimator):
        cls = type(step)
        if holds_a_net(step):
            classes.append(cls)
            if cls not in _SPLICED:
                skl2onnx.update_registered_converter(
                    cls, f"Skensemble{cls.__name__}", _shapes, _convert,
                    options={"zipmap": [False, True, "columns"], "nocl": [False, True]}
                    if hasattr(step, "classes_") else None)
                _SPLICED[cls] = True
    return classes


def for_export(estimator):
    """A copy of the fitted ``estimator`` for skl2onnx: ``FrozenEstimator`` steps unwrapped, and string
    imputers that read ``""`` as missing (ONNX has no NaN string).

    scikit-learn's ``SimpleImputer`` on text columns treats NaN or None as
    missing; an ONNX string tensor cannot hold either, so the exported graph
    takes missing text as the empty string (what :func:`onnx_inputs` feeds).
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.impute import SimpleImputer

    exported = copy.deepcopy(estimator)
    for step in list(_steps(exported)):  # a FrozenEstimator predicts as the estimator it wraps
        if hasattr(step, "steps"):
            step.steps = [(n, s.estimator if isinstance(s, FrozenEstimator) else s) for n, s in step.steps]
        if getattr(step, "transformers_", None):
            step.transformers_ = [(n, s.estimator if isinstance(s, FrozenEstimator) else s, c)
                                  for n, s, c in step.transformers_]
    for step in _steps(exported):
        if (isinstance(step, SimpleImputer) and getattr(step, "statistics_", None) is not None
                and np.asarray(step.statistics_).dtype.kind == "O"
                and isinstance(step.missing_values, float) and np.isnan(step.missing_values)):
            step.missing_values = ""
    return exported


def initial_types(X):
    """skl2onnx input types for data like ``X``: one input per DataFrame column, else one float matrix."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    if hasattr(X, "columns"):
        import pandas as pd

        return [(str(c), FloatTensorType([None, 1]) if pd.api.types.is_numeric_dtype(X[c])
                 and not pd.api.types.is_bool_dtype(X[c]) else StringTensorType([None, 1]))
                for c in X.columns]
    return [("X", FloatTensorType([None, np.asarray(X).shape[1]]))]


def onnx_inputs(X, input_names=None):
    """The ONNX Runtime feed for ``X`` of a graph written by ``to_onnx``.

    A DataFrame gives one input per column: numbers as float32 columns
    (missing as NaN), anything else as strings (missing as ``""``).  An
    array gives the float32 matrix ``X``.  Missing text is NaN as
    ``read_csv`` gives it; a ``None`` in an object column (pandas 2) is a
    value of its own to scikit-learn's ``SimpleImputer(missing_values=np.nan)``
    but missing here, so replace it with NaN before fitting.

    Parameters
    ----------
    X : array-like or DataFrame
        The rows to predict.
    input_names : list of str, default=None
        The graph's inputs (``[i.name for i in session.get_inputs()]``): the
        feed holds exactly those, and a graph whose only input is ``X`` (a
        net, or a net reading a numeric table) gets the rows as one float32
        matrix, a DataFrame's too.  ``None``: every column as above.

    Returns
    -------
    feed : dict of str -> ndarray
        ``session.run(None, feed)``'s inputs.
    """
    if input_names is not None and list(input_names) == ["X"]:
        return {"X": np.asarray(X, dtype=np.float32)}
    if hasattr(X, "columns"):
        import pandas as pd

        feed = {}
        for c in X.columns:
            column = X[[c]]
            if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c]):
                feed[str(c)] = column.to_numpy(dtype=np.float32)
            else:
                feed[str(c)] = column.astype(object).where(column.notna(), "").to_numpy().astype(str)
    else:
        feed = {"X": np.asarray(X, dtype=np.float32)}
    return feed if input_names is None else {name: feed[name] for name in input_names}


def pipeline_to_onnx(estimator, X):
    """ONNX bytes of a fitted pipeline (or column transformer) ending in any estimator skl2onnx converts."""
    skl2onnx = _skl2onnx()
    if X is None:
        if hasattr(estimator, "feature_names_in_") or not hasattr(estimator, "n_features_in_"):
            raise ValueError(f"Exporting a {type(estimator).__name__} fitted on a DataFrame needs X= (a few "
                             "rows like the ones it predicts on) to tell the ONNX inputs' names and types.")
        X = np.zeros((1, estimator.n_features_in_), dtype=np.float32)
    exported = for_export(estimator)
    classes = register_converters(exported)
    options = {cls: {"zipmap": False} for cls in classes if hasattr(cls, "predict_proba")}
    final = exported.steps[-1][1] if hasattr(exported, "steps") else exported
    if hasattr(final, "predict_proba") and type(final) not in options:
        options[type(final)] = {"zipmap": False}
    try:
        model = skl2onnx.convert_sklearn(exported, initial_types=initial_types(X),
                                         options=options)
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
        raise ValueError(f"skl2onnx cannot export this {type(estimator).__name__}: {exc}") from exc
    return model.SerializeToString()
