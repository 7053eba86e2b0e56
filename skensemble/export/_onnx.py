"""ONNX of a net: the module, its table encoding in front and its target decoding behind (``pip install skensemble[onnx]``)."""

import copy
import io
import warnings

import numpy as np
import torch

from ..preprocessing._table_module import SMOOTH_CLIP
from ..utils._access import get_module, get_net_estimator
from ._runtime import OnnxRuntimeModel, _require


def has_onnxruntime():
    """Whether ONNX export and ONNX Runtime are both installed."""
    import importlib.util

    return all(importlib.util.find_spec(p) is not None for p in ("onnx", "onnxruntime", "onnxscript"))


def input_size(module):
    """Number of input features of a module: its first reshape or Linear layer."""
    from ..nets._modules import Reshape

    for layer in module.modules():
        if isinstance(layer, Reshape):
            return int(np.prod(layer.shape))
        if isinstance(layer, torch.nn.Linear):
            return layer.in_features
    raise ValueError(f"Cannot tell the input size of {type(module).__name__}.")


def module_to_onnx(module, n_features):
    """ONNX bytes of a float torch module with a dynamic batch axis (input ``X``).

    A CPU copy in eval mode is exported: the caller's module keeps its device
    and training mode.
    """
    _require("onnx")
    module = copy.deepcopy(module).cpu().eval()
    example = torch.zeros(2, n_features)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notices about its two exporters
        torch.onnx.export(
            module, (example,), buf, input_names=["X"], output_names=["logits"],
            dynamic_axes={"X": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False,
        )
    return buf.getvalue()


def estimator_onnx_bytes(estimator):
    """ONNX bytes of the net inside ``estimator`` (not a pipeline): ``logits``, or a regressor's ``predictions``."""
    runtime = getattr(estimator, "quantized_module_", None)
    net_estimator = get_net_estimator(estimator)
    if isinstance(runtime, OnnxRuntimeModel):
        data = runtime.onnx_bytes
    else:
        module = get_module(estimator)
        n_inputs = getattr(net_estimator, "_n_module_inputs", None)
        data = module_to_onnx(module, input_size(module) if n_inputs is None else n_inputs())
    encoder = getattr(net_estimator, "table_encoder_", None)
    if encoder is not None:
        data = prepend_table_encoding(data, encoder, type(net_estimator).__name__)
    if net_estimator is not None and hasattr(net_estimator, "decode_outputs"):
        data = append_target_decoding(data, net_estimator._y_mean, net_estimator._y_scale, net_estimator._y_1d)
    return data


def prepend_table_encoding(onnx_bytes, encoder, owner):
    """The graph with a net's table encoding in front, so that it reads the raw table.

    A table of numeric columns comes as one float input ``X`` (NaN for
    missing).  A table with categorical columns comes as one input per
    column, named by the column (``x0``, ``x1``, ... without names), shaped
    ``(batch, 1)``: numbers as float32 (NaN for missing), categories as
    strings (``""`` for missing), what :func:`~skensemble.export.onnx_inputs`
    feeds from a DataFrame.  The encoding is written as ONNX operators: median
    fill, robust scaling, smooth clipping and missing indicators (``IsNaN``,
    ``Where``, ``Gather``, ...), and per categorical column an
    ``ai.onnx.ml.LabelEncoder`` from its categories to their codes (an
    unseen value gets the "other" code) and a one-hot comparison; equal to
    :class:`~skensemble.preprocessing.TableEncoder` to float32 rounding.  ``owner``
    names the net in errors.
    """
    onnx = _require("onnx")
    from onnx import TensorProto, helper

    model = _encoded_input_renamed(onnx.load_from_string(onnx_bytes))
    per_column = bool(encoder.categorical_)
    names = _column_names(encoder)
    inputs, nodes, constants, parts = [], [], {}, []
    if per_column:
        for j in range(encoder.n_features_in_):
            kind = TensorProto.STRING if j in encoder.categorical_ else TensorProto.FLOAT
            inputs.append(helper.make_tensor_value_info(names[j], kind, ["batch", 1]))
        numbers = "table_numbers_in"
        if encoder.numeric_:
            nodes.append(helper.make_node("Concat", [names[j] for j in encoder.numeric_], [numbers], axis=1))
    else:
        numbers = "X"
        inputs.append(helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", encoder.n_features_in_]))
    if encoder.numeric_:
        parts += _numeric_encoding(encoder.encoding_, numbers, nodes, constants, TensorProto)
    for k, (j, categories) in enumerate(zip(encoder.categorical_, encoder.categories_)):
        parts.append(_one_hot(k, names[j], categories, nodes, constants, helper, TensorProto))
    if encoder.categorical_ and not any(o.domain == "ai.onnx.ml" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 2))
    return _with_encoding(model, inputs, nodes, constants, parts)


def prepend_row_encoding(onnx_bytes, encoding):
    """The graph with ``encoding`` (a :class:`~skensemble.preprocessing._table_module.TableEncoding`) in front.

    Its one input ``X`` is the layer's input, what
    ``TableEncoder.raw_rows`` makes of a checked table: float32 numbers (NaN
    for missing), then each categorical column's code.  So the encoding and
    the net run in one ONNX Runtime call (the int8 models' prediction path:
    at batch 1, a 64-256-256-10 net's torch encoding took 20-30 us and its
    int8 graph 10 us).  Equal to the layer to float32 rounding.
    """
    onnx = _require("onnx")
    from onnx import TensorProto, helper

    model = _encoded_input_renamed(onnx.load_from_string(onnx_bytes))
    n_numeric, sizes = encoding.n_numeric, encoding.category_sizes
    nodes, constants, parts = [], {}, []
    numbers = "X"  # the module's input was renamed above
    if sizes:
        constants["table_numeric_columns"] = np.arange(n_numeric, dtype=np.int64)
        nodes.append(helper.make_node("Gather", ["X", "table_numeric_columns"], ["table_numbers"], axis=1))
        numbers = "table_numbers"
    if n_numeric:
        parts += _numeric_encoding(encoding, numbers, nodes, constants, TensorProto)
    for k, size in enumerate(sizes):
        constants[f"table_code_column{k}"] = np.asarray([n_numeric + k], dtype=np.int64)
        constants[f"table_range{k}"] = np.arange(size, dtype=np.float32).reshape(1, -1)
        nodes += [helper.make_node("Gather", ["X", f"table_code_column{k}"], [f"table_codes{k}"], axis=1),
                  helper.make_node("Equal", [f"table_codes{k}", f"table_range{k}"], [f"table_hot{k}"]),
                  helper.make_node("Cast", [f"table_hot{k}"], [f"table_onehot{k}"], to=TensorProto.FLOAT)]
        parts.append(f"table_onehot{k}")
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", n_numeric + len(sizes)])]
    return _with_encoding(model, inputs, nodes, constants, parts)


def _encoded_input_renamed(model):
    """``model`` with its first input's uses renamed ``table_encoded``: what an encoding in front will produce."""
    old_input = model.graph.input[0].name
    for node in model.graph.node:
        node.input[:] = ["table_encoded" if name == old_input else name for name in node.input]
    return model


def _with_encoding(model, inputs, nodes, constants, parts):
    """The serialized ``model`` with the encoding ``nodes`` (and their ``constants``) in front, reading
    ``inputs``; the encoded ``parts`` are joined into ``table_encoded``, the renamed input of the net."""
    onnx = _require("onnx")
    from onnx import helper, numpy_helper

    if len(parts) == 1:
        nodes[-1].output[0] = "table_encoded"
    else:
        nodes.append(helper.make_node("Concat", parts, ["table_encoded"], axis=1))
    graph = model.graph
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    for i, node in enumerate(nodes):
        graph.node.insert(i, node)
    del graph.input[:]
    graph.input.extend(inputs)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _column_names(encoder):
    """The graph's input names of a per-column table: the fitted column names, else ``x0``, ``x1``, ..."""
    if hasattr(encoder, "feature_names_in_"):
        return [str(c) for c in encoder.feature_names_in_]
    return [f"x{j}" for j in range(encoder.n_features_in_)]


def _numeric_encoding(encoding, numbers, nodes, constants, TensorProto):
    """Nodes encoding the numeric block ``numbers`` as ``encoding`` (a fitted encoder's
    :class:`~skensemble.preprocessing._table_module.TableEncoding`) does; returns the names of the encoded parts."""
    from onnx import helper

    indicated, spiked = encoding.indicated, encoding.spiked
    constants.update({
        "table_center": encoding.center.numpy(),
        "table_scale": encoding.scale.numpy(),
        "table_clip": np.asarray(1.0 / SMOOTH_CLIP, dtype=np.float32),
        "table_one": np.asarray(1.0, dtype=np.float32),
    })
    nodes += [
        helper.make_node("IsNaN", [numbers], ["table_isnan"]),
        helper.make_node("Where", ["table_isnan", "table_center", numbers], ["table_filled"]),
        helper.make_node("Sub", ["table_filled", "table_center"], ["table_centered"]),
        helper.make_node("Div", ["table_centered", "table_scale"], ["table_z"]),
        helper.make_node("Mul", ["table_z", "table_clip"], ["table_q"]),
        helper.make_node("Mul", ["table_q", "table_q"], ["table_q2"]),
        helper.make_node("Add", ["table_q2", "table_one"], ["table_q2p1"]),
        helper.make_node("Sqrt", ["table_q2p1"], ["table_root"]),
        helper.make_node("Div", ["table_z", "table_root"], ["table_clipped"]),
    ]
    parts = ["table_clipped"]
    if len(indicated):
        constants["table_indicated"] = np.asarray(indicated, dtype=np.int64)
        nodes += [helper.make_node("Gather", ["table_isnan", "table_indicated"], ["table_missing_bool"], axis=1),
                  helper.make_node("Cast", ["table_missing_bool"], ["table_missing"], to=TensorProto.FLOAT)]
        parts.append("table_missing")
    if len(spiked):
        constants["table_spiked"] = np.asarray(spiked, dtype=np.int64)
        constants["table_spikes"] = encoding._spike_values.numpy().reshape(1, -1)
        constants["table_spike_widths"] = encoding._spike_widths.numpy().reshape(1, -1)
        constants["table_minus_one"] = np.asarray(-1.0, dtype=np.float32)
        nodes += [helper.make_node("Gather", [numbers, "table_spiked"], ["table_spiked_numbers"], axis=1),
                  helper.make_node("Sub", ["table_spiked_numbers", "table_spikes"], ["table_spike_offset"]),
                  helper.make_node("Abs", ["table_spike_offset"], ["table_spike_distance"]),
                  helper.make_node("LessOrEqual", ["table_spike_distance", "table_spike_widths"], ["table_spike_bool"]),
                  helper.make_node("Where", ["table_spike_bool", "table_one", "table_minus_one"], ["table_spike"])]
        parts.append("table_spike")
    return parts


def _one_hot(k, column, categories, nodes, constants, helper, TensorProto):
    """Nodes one-hot encoding the string input ``column`` over ``categories`` (+ missing, other)."""
    n = len(categories)
    keys = [str(c) for c in categories]
    values = list(range(n))
    if "" not in keys:  # the missing text of onnx_inputs
        keys.append("")
        values.append(n)
    constants[f"table_range{k}"] = np.arange(n + 2, dtype=np.int64).reshape(1, -1)
    nodes += [
        helper.make_node("LabelEncoder", [column], [f"table_codes{k}"], domain="ai.onnx.ml",
                         keys_strings=keys, values_int64s=values, default_int64=n + 1),
        helper.make_node("Equal", [f"table_codes{k}", f"table_range{k}"], [f"table_hot{k}"]),
        helper.make_node("Cast", [f"table_hot{k}"], [f"table_onehot{k}"], to=TensorProto.FLOAT),
    ]
    return f"table_onehot{k}"


def append_target_decoding(onnx_bytes, mean, scale, one_d):
    """The graph with its output mapped to target units: ``predictions = out * scale + mean`` (squeezed if 1-d)."""
    onnx = _require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    raw = graph.output[0].name
    graph.initializer.extend([numpy_helper.from_array(np.asarray(scale, dtype=np.float32), "target_scale"),
                              numpy_helper.from_array(np.asarray(mean, dtype=np.float32), "target_mean")])
    graph.node.extend([helper.make_node("Mul", [raw, "target_scale"], ["scaled_outputs"]),
                       helper.make_node("Add", ["scaled_outputs", "target_mean"],
                                        ["predictions_2d" if one_d else "predictions"])])
    shape = ["batch"]
    if one_d:
        graph.initializer.append(numpy_helper.from_array(np.asarray([1], dtype=np.int64), "squeeze_axis"))
        graph.node.append(helper.make_node("Squeeze", ["predictions_2d", "squeeze_axis"], ["predictions"]))
    else:
        shape.append(len(mean))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("predictions", TensorProto.FLOAT, shape))
    onnx.checker.check_model(model)
    return model.SerializeToString()
