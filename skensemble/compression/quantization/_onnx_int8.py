"""ONNX Runtime int8: dynamic and static quantization of a net's ONNX graph, and its weights read back."""

import logging
import os
import tempfile
import warnings

import numpy as np
import torch

from ...export._runtime import _require


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
        state[key] = torch.as_tensor(np.array(read, order="C"), dtype=value.dtype)  # a writable copy
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
