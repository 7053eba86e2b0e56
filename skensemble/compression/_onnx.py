"""ONNX export and the ONNX Runtime int8 backend (optional: ``pip install skensemble[onnx]``)."""

import copy
import io
import logging
import os
import tempfile
import warnings

import numpy as np
import torch

from ..nets._table import SMOOTH_CLIP
from ..utils._access import get_module, get_net_estimator
from ..utils._threads import available_cores


def has_onnxruntime():
    """Whether ONNX export and ONNX Runtime are both installed."""
    import importlib.util

    return all(importlib.util.find_spec(p) is not None for p in ("onnx", "onnxruntime", "onnxscript"))


def _require(package):
    try:
        return __import__(package)
    except ImportError as exc:
        raise ImportError(
            f"This needs the optional package {package!r}: pip install 'skensemble[onnx]'."
        ) from exc


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


def _run_quantizer(quantize, onnx_bytes):
    """Run ONNX Runtime's file-based ``quantize(src, dst)`` on bytes, quietly."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "int8.onnx")
        with open(src, "wb") as fh:
            fh.write(onnx_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)  # its advice on pre-processing goes to the root logger
            try:
                quantize(src, dst)
            finally:
                logging.disable(logging.NOTSET)
        with open(dst, "rb") as fh:
            return fh.read()


def quantize_onnx_dynamic(onnx_bytes):
    """ONNX Runtime dynamic int8 quantization (QInt8 weights, ``reduce_range``).

    ``reduce_range=True`` uses 7-bit weights: on CPUs without VNNI instructions
    the full 8-bit range overflows in ONNX Runtime's kernels and flipped the
    top class of a few percent of inputs in our measurements.
    """
    _require("onnxruntime")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    return _run_quantizer(
        lambda src, dst: quantize_dynamic(src, dst, weight_type=QuantType.QInt8, reduce_range=True),
        onnx_bytes,
    )


def _has_batched_weights(onnx_bytes):
    """Whether a ``MatMul`` of the graph multiplies by a weight tensor of 3 or more dimensions.

    TabM's per-member layers hold ``(k, in, out)`` weights; ONNX Runtime's
    ``QLinearMatMul`` takes per-tensor scales only for them (per-channel ones
    fail at run time), so such graphs are quantized per tensor.
    """
    import onnx

    graph = onnx.load_from_string(onnx_bytes).graph
    shapes = {init.name: len(init.dims) for init in graph.initializer}
    return any(node.op_type == "MatMul" and any(shapes.get(name, 0) >= 3 for name in node.input)
               for node in graph.node)


def quantize_onnx_static(onnx_bytes, calibration, batch_size=64):
    """ONNX Runtime static int8 quantization calibrated on ``calibration`` rows.

    QOperator format (``QGemm``/``QLinearConv`` kernels), QUInt8 activations
    with min-max ranges, per-channel QInt8 weights with ``reduce_range`` (see
    :func:`quantize_onnx_dynamic`; per tensor for batched weights, see :func:`_has_batched_weights`).  Unlike the dynamic path it quantizes
    convolutions too.  The output layer stays in float (:func:`_output_products`).
    """
    _require("onnxruntime")
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class _Batches(CalibrationDataReader):
        def __init__(self):
            X = np.ascontiguousarray(calibration, dtype=np.float32)
            self._batches = iter([{"X": X[i : i + batch_size]} for i in range(0, len(X), batch_size)])

        def get_next(self):
            return next(self._batches, None)

    per_channel = not _has_batched_weights(onnx_bytes)
    return _run_quantizer(
        lambda src, dst: quantize_static(
            src, dst, _Batches(), quant_format=QuantFormat.QOperator, per_channel=per_channel,
            reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=_output_products(onnx_bytes),
        ),
        onnx_bytes,
    )


def _output_products(onnx_bytes):
    """Names of the ``Gemm``/``MatMul`` nodes that produce the graph's outputs: they stay in float.

    Quantizing the outputs to 256 levels cost regressors up to 0.37 standard
    deviations of their float outputs (synthetic regression, MLP (64, 64)):
    the output layer in float keeps them within 0.1 (issue 41).
    """
    import onnx

    graph = onnx.load_from_string(onnx_bytes).graph
    outputs = {o.name for o in graph.output}
    return [n.name for n in graph.node if n.name and n.op_type in ("Gemm", "MatMul") and set(n.output) & outputs]


class OnnxRuntimeModel:
    """Runs ONNX bytes with ONNX Runtime on the CPU; pickles as its bytes.

    Small batches run on one thread, larger ones on one thread per core the
    process may use (:func:`skensemble.utils._threads.available_cores`):
    waking a second thread costs more than it saves while a call's rows times
    the graph's bytes stay under
    ``one_thread_work`` (measured on a 2-core AVX-512 machine: one thread
    answered 1-16 rows of a 64-256-256-10 float net and 1-64 rows of its
    int8 graph 1.2-3.7x sooner; see ``benchmarks/bench_quantization.py``).
    The threads never spin while they wait: spinning ONNX Runtime threads
    slowed torch in the same process 7x.  Each session is built on first use.
    """

    one_thread_work = 1 << 23  # rows x graph bytes

    def __init__(self, onnx_bytes):
        self.onnx_bytes = onnx_bytes
        self._sessions = {}

    def _get_session(self, threads):
        session = self._sessions.get(threads)
        if session is None:
            ort = _require("onnxruntime")
            options = ort.SessionOptions()
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.intra_op_num_threads = threads
            session = self._sessions.setdefault(threads, ort.InferenceSession(
                self.onnx_bytes, options, providers=["CPUExecutionProvider"]))
        return session

    def __call__(self, X):
        X = np.ascontiguousarray(X, dtype=np.float32)
        small = len(X) * len(self.onnx_bytes) <= self.one_thread_work
        threads = 1 if small else available_cores()  # ONNX Runtime's own default ignores CPU affinity
        return self._get_session(threads).run(None, {"X": X})[0]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_sessions"] = {}
        return state

    def __setstate__(self, state):
        state.pop("_session", None)  # pickled before sessions were kept per thread count
        state.setdefault("_sessions", {})
        self.__dict__.update(state)

    def weight_arrays(self):
        """The stored weights (int8 and float initializers, without quantization scales)."""
        onnx = _require("onnx")
        from onnx import numpy_helper

        arrays = []
        for init in onnx.load_from_string(self.onnx_bytes).graph.initializer:
            if init.name.endswith(("_scale", "_zero_point")):
                continue
            array = numpy_helper.to_array(init)
            if array.dtype in (np.float32, np.float16, np.int8, np.uint8):
                arrays.append(array)
        return arrays


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
    strings (``""`` for missing), what :func:`~skensemble.compression.onnx_inputs`
    feeds from a DataFrame.  The encoding is written as ONNX operators: median
    fill, robust scaling, smooth clipping and missing indicators (``IsNaN``,
    ``Where``, ``Gather``, ...), and per categorical column an
    ``ai.onnx.ml.LabelEncoder`` from its categories to their codes (an
    unseen value gets the "other" code) and a one-hot comparison; equal to
    :class:`~skensemble.nets.TableEncoder` to float32 rounding.  ``owner``
    names the net in errors.
    """
    onnx = _require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    old_input = graph.input[0].name
    for node in graph.node:
        node.input[:] = ["table_encoded" if name == old_input else name for name in node.input]
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
        parts += _numeric_encoding(encoder, numbers, nodes, constants, TensorProto)
    for k, (j, categories) in enumerate(zip(encoder.categorical_, encoder.categories_)):
        parts.append(_one_hot(k, names[j], categories, nodes, constants, helper, TensorProto))
    if len(parts) == 1:
        nodes[-1].output[0] = "table_encoded"
    else:
        nodes.append(helper.make_node("Concat", parts, ["table_encoded"], axis=1))
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    for i, node in enumerate(nodes):
        graph.node.insert(i, node)
    del graph.input[:]
    graph.input.extend(inputs)
    if encoder.categorical_ and not any(o.domain == "ai.onnx.ml" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 2))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _column_names(encoder):
    """The graph's input names of a per-column table: the fitted column names, else ``x0``, ``x1``, ..."""
    if hasattr(encoder, "feature_names_in_"):
        return [str(c) for c in encoder.feature_names_in_]
    return [f"x{j}" for j in range(encoder.n_features_in_)]


def _numeric_encoding(encoder, numbers, nodes, constants, TensorProto):
    """Nodes encoding the numeric block ``numbers``; returns the names of the encoded parts."""
    from onnx import helper

    constants.update({
        "table_center": np.asarray(encoder.center_, dtype=np.float32),
        "table_scale": np.asarray(encoder.scale_, dtype=np.float32),
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
    if not encoder.indicated_:
        return ["table_clipped"]
    constants["table_indicated"] = np.asarray(encoder.indicated_, dtype=np.int64)
    nodes += [helper.make_node("Gather", ["table_isnan", "table_indicated"], ["table_missing_bool"], axis=1),
              helper.make_node("Cast", ["table_missing_bool"], ["table_missing"], to=TensorProto.FLOAT)]
    return ["table_clipped", "table_missing"]


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


def onnx_linear_weights(onnx_bytes, module):
    """Float ``state_dict`` entries of ``module``'s Linear layers read back from int8 ONNX.

    Reads the weights of ONNX Runtime's dynamic quantizer (``MatMul`` on a
    transposed int8 weight, float bias) and of its static quantizer (``QGemm``
    with per-channel int8 weights and an int32 bias whose scale is the input
    scale times the weight scale).  Returns ``None`` when the module has other
    parametrised layers (the exporter fuses conv and batch norm, so they
    cannot be read back) or a layer is not found under the expected names.
    """
    onnx = _require("onnx")
    from onnx import numpy_helper

    if any(list(m.parameters(recurse=False)) and not isinstance(m, torch.nn.Linear)
           for m in module.modules()):
        return None
    graph = onnx.load_from_string(onnx_bytes).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    qgemm = {node.input[3]: node for node in graph.node if node.op_type == "QGemm"}
    state = {}
    for name, layer in module.named_modules():
        if not isinstance(layer, torch.nn.Linear):
            continue
        read = (_static_linear(inits, qgemm.get(f"{name}.weight_quantized"))
                if f"{name}.weight_quantized" in qgemm else _dynamic_linear(inits, name))
        if read is None or (layer.bias is not None and read[1] is None):
            return None
        state[f"{name}.weight"] = torch.as_tensor(read[0])
        if layer.bias is not None:
            state[f"{name}.bias"] = torch.as_tensor(read[1])
    return state


def onnx_weight_names(onnx_bytes, module):
    """Where each ``state_dict`` entry of ``module`` sits in its int8 ONNX graph, or ``None``.

    For a module whose layers are not all ``nn.Linear`` (a TabM's ensemble
    layers and embeddings), the exporter folds some weights under generated
    names (a transposed weight becomes ``onnx::MatMul_56``), so each entry is
    matched by value while the float module is at hand: a float initializer
    equal to it, or an int8 one (with its scale and zero point) that
    dequantizes to it, as is or transposed, within half a quantization step.
    Returns ``{key: [initializer, transposed]}`` for the entries found (what
    a file stores, so :func:`onnx_state_from_names` reads them back at load;
    a file keeps the others, such as a boolean mask the exporter folded), or
    ``None`` when none is.
    """
    inits, quantized = _initializers(onnx_bytes)
    names, claimed, dequantized = {}, set(), {}
    for key, value in module.state_dict().items():
        weight = value.detach().cpu().float().numpy()
        if key in inits and inits[key].shape == weight.shape and np.array_equal(inits[key], weight):
            names[key] = [key, False]
            continue
        best = None
        for base, (q, scale, zero) in quantized.items():
            for transposed in (False, True):
                shape = q.shape[::-1] if transposed else q.shape
                if base in claimed or shape != weight.shape or (transposed and q.ndim != 2):
                    continue
                if base not in dequantized:  # once per initializer, whatever the number of entries of its shape
                    dequantized[base] = _dequantize_any(q, scale, zero)
                read = dequantized[base]
                if read is None:
                    continue
                error = float(np.max(np.abs((read.T if transposed else read) - weight)))
                if error <= 0.51 * float(np.max(scale)) + 1e-7 and (best is None or error < best[0]):
                    best = (error, base, transposed)
        if best is not None:
            claimed.add(best[1])
            names[key] = [best[1], best[2]]
    return names or None


def onnx_state_from_names(onnx_bytes, module, names):
    """The entries of ``module``'s ``state_dict`` that :func:`onnx_weight_names` found, read back from the graph."""
    inits, quantized = _initializers(onnx_bytes)
    state = {}
    for key, value in module.state_dict().items():
        if key not in names:
            continue
        name, transposed = names[key]
        read = inits[name] if name in inits else _dequantize_any(*quantized[name])
        if read is None:
            return None
        read = read.T if transposed else read
        if read.shape != tuple(value.shape):
            return None
        state[key] = torch.as_tensor(np.ascontiguousarray(read), dtype=value.dtype)
    return state


def _dequantize_any(q, scale, zero):
    """``q`` dequantized with a per-tensor scale, or per channel along the first axis that fits; else None."""
    if np.ndim(scale) == 0 or np.size(scale) == 1:
        return _dequantize(q, np.reshape(scale, ()), np.reshape(zero, ()))
    axis = next((a for a in range(q.ndim) if q.shape[a] == np.size(scale)), None)
    return None if axis is None else _dequantize(q, scale, zero, axis=axis)


def _initializers(onnx_bytes):
    """The graph's float initializers by name, and its int8 ones as ``{base: (int8, scale, zero point)}``."""
    onnx = _require("onnx")
    from onnx import numpy_helper

    arrays = {i.name: numpy_helper.to_array(i) for i in onnx.load_from_string(onnx_bytes).graph.initializer}
    quantized = {}
    for name, q in arrays.items():
        base = name.removesuffix("_quantized")
        parts = {f"{base}_scale", f"{base}_zero_point"}
        if base != name and q.dtype in (np.int8, np.uint8) and parts <= arrays.keys():
            quantized[base] = (q, arrays[f"{base}_scale"], arrays[f"{base}_zero_point"])
    floats = {name: a for name, a in arrays.items() if a.dtype == np.float32}
    return floats, quantized


def _dequantize(q, scale, zero_point, axis=0):
    shape = [-1 if i == axis else 1 for i in range(q.ndim)]
    scale, zero_point = np.reshape(scale, shape), np.reshape(zero_point, shape)
    return ((q.astype(np.float32) - zero_point.astype(np.float32)) * scale).astype(np.float32)


def _dynamic_linear(inits, name):
    key = f"{name}.weight_Transposed"
    try:
        q, scale, zero = inits[f"{key}_quantized"], inits[f"{key}_scale"], inits[f"{key}_zero_point"]
    except KeyError:
        return None
    bias = inits.get(f"{name}.bias")
    return _dequantize(q, scale, zero).T.copy(), None if bias is None else bias.copy()


def _static_linear(inits, node):
    # QGemm inputs: A, A_scale, A_zero, B, B_scale, B_zero, C (int32 bias), Y_scale, Y_zero
    try:
        q, scale, zero = inits[node.input[3]], inits[node.input[4]], inits[node.input[5]]
        x_scale = inits[node.input[1]]
    except KeyError:
        return None
    bias = None
    if len(node.input) > 6 and node.input[6] in inits:
        bias = (inits[node.input[6]].astype(np.float64) * x_scale * scale).astype(np.float32)
    return _dequantize(q, scale, zero, axis=0), bias
