"""Quantization backends: small objects, registered once, that own everything per backend.

A backend turns a float module into the model that serves predictions, runs
that model, measures its size, saves it into a skensemble model file and
rebuilds it, and reads the float weights back out of it when it can (so a
file can store the float net as structure only).  ``QuantizedClassifier``,
the model writer and the reader all dispatch through :data:`BACKENDS`, keyed
by the name recorded in ``backend_`` and in the file.

To add a backend, subclass :class:`QuantizationBackend`, implement its
methods and add an instance to :data:`BACKENDS`.
"""

import io
import warnings

import numpy as np
import torch
from torch import nn

from ...utils._device import module_device
from ...utils._torch import state_size_bytes
from ...export._onnx import module_to_onnx
from ...export._runtime import OnnxRuntimeModel
from ._onnx_int8 import (
    onnx_linear_weights,
    onnx_state_from_names,
    onnx_weight_names,
    quantize_onnx_dynamic,
    quantize_onnx_static,
)
from ._torch_int8 import (
    Int8WeightOnlyLinear,
    half,
    output_linear,
    require_linear,
    torch_dynamic_int8,
    torch_static_int8,
    weight_only_int8,
)

_PREDICT_BATCH = 4096


class QuantizationBackend:
    """One way to serve a float module in reduced precision.

    Attributes
    ----------
    name : str
        The key in :data:`BACKENDS`, in ``QuantizedClassifier.backend_`` and
        in model files.
    calibrated : bool
        Whether :meth:`quantize` needs calibration rows.
    """

    pickles_module = True  # False: pickled estimators hold state_bytes(model) instead (see _PackedTorchBackend)

    name = None
    calibrated = False

    def quantize(self, module, calibration, dtype=None):
        """The quantized model of float ``module`` (never ``module`` itself)."""
        raise NotImplementedError

    def predict(self, model, X):
        """float64 outputs of ``model`` for float32 rows ``X``."""
        raise NotImplementedError

    def size_bytes(self, model):
        """Bytes of the quantized model as deployed."""
        raise NotImplementedError

    def float_size_bytes(self, module, model):
        """Bytes of the float module in the same format, for the compression ratio."""
        raise NotImplementedError

    def save(self, model, writer):
        """Store ``model`` through ``writer``; return the JSON spec that :meth:`load` reads."""
        raise NotImplementedError

    def load(self, spec, reader, float_module, n_features):
        """Rebuild the model saved by :meth:`save` (``float_module`` has the float structure)."""
        raise NotImplementedError

    def float_state(self, float_module, model):
        """``float_module``'s state dict read back from ``model``, or None when lost.

        Files store the float net as structure only when this is not None.
        """
        return None


# --- torch modules -------------------------------------------------------------
class _TorchBackend(QuantizationBackend):
    def predict(self, model, X):
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        outs = []
        with torch.inference_mode():
            for start in range(0, len(X), _PREDICT_BATCH):
                xb = torch.as_tensor(X[start : start + _PREDICT_BATCH], device=device, dtype=dtype)
                outs.append(model(xb).float().cpu())
        return torch.cat(outs).numpy().astype(np.float64)

    def size_bytes(self, model):
        return state_size_bytes(model)

    def float_size_bytes(self, module, model):
        return state_size_bytes(module)

    def save(self, model, writer):
        return {"backend": self.name, "prefix": writer.add_tensors("q", model.state_dict())}

    def load(self, spec, reader, float_module, n_features):
        model = self._skeleton(float_module, n_features, spec)
        _load_quantized_state(model, reader.tensors_under(spec["prefix"]), self.name)
        return model

    def float_state(self, float_module, model):
        return _dequantized_state(float_module, model)


class _PackedTorchBackend(_TorchBackend):
    """torch's int8 layers keep packed weights: saved with ``torch.save``, loaded weights-only.

    Their modules do not survive ``pickle`` either (torch 2.13: an unpickled
    ``ConvReLU1d`` has no ``_parameters``), so a pickled estimator holds
    :meth:`state_bytes` and rebuilds with :meth:`from_state_bytes`.
    """

    pickles_module = False

    def state_bytes(self, model):
        buf = io.BytesIO()
        with warnings.catch_warnings():  # torch's own TypedStorage deprecation notice
            warnings.simplefilter("ignore", UserWarning)
            torch.save(model.state_dict(), buf)
        return buf.getvalue()

    def from_state_bytes(self, data, float_module, n_features, spec=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(io.BytesIO(data), weights_only=True)
        model = self._skeleton(float_module, n_features, {**(spec or {}), "state_keys": set(state)})
        _load_quantized_state(model, state, self.name)
        return model

    def save(self, model, writer):
        return {"backend": self.name, "file": writer.add_file("quantized", "pt", self.state_bytes(model))}

    def load(self, spec, reader, float_module, n_features):
        return self.from_state_bytes(reader.file(spec["file"]), float_module, n_features, spec)


class TorchDynamicInt8(_PackedTorchBackend):
    """``torch.ao`` dynamic int8: Linear weights in int8, activations quantized on the fly."""

    name = "torch-dynamic"

    def quantize(self, module, calibration=None, dtype=None):
        return torch_dynamic_int8(module)

    def _skeleton(self, float_module, n_features, spec):
        return torch_dynamic_int8(float_module)


class TorchStaticInt8(_PackedTorchBackend):
    """``torch.ao`` eager static int8: weights and activations in int8, calibrated."""

    name = "torch-static"
    calibrated = True

    def quantize(self, module, calibration, dtype=None):
        return torch_static_int8(module, calibration)

    def _skeleton(self, float_module, n_features, spec):
        """The structure to load into; the output layer stayed int8 in files written before issue 41."""
        from ...graph._record import record

        zeros = np.zeros((2, n_features), dtype=np.float32)
        name = output_linear(record(float_module, torch.as_tensor(zeros, device=module_device(float_module))))
        float_output = name is not None and f"module.{name}.1.weight" in spec.get("state_keys", ())
        return torch_static_int8(float_module, zeros, float_output=float_output)

    def float_state(self, float_module, model):
        # batch norms are folded into the convolutions and linear layers
        if any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in float_module.modules()):
            return None
        return _dequantized_state(float_module, model)


class WeightOnlyInt8(_TorchBackend):
    """int8 weights with per-unit scales, dequantized at each forward (smaller, not faster)."""

    name = "weight-only"

    def quantize(self, module, calibration=None, dtype=None):
        return weight_only_int8(module)

    def _skeleton(self, float_module, n_features, spec):
        return weight_only_int8(float_module)


class HalfPrecision(_TorchBackend):
    """The module cast to float16 or bfloat16 (on the float net's device)."""

    name = "half"

    def quantize(self, module, calibration=None, dtype=None):
        if dtype == torch.bfloat16 and next(module.parameters()).device.type == "cuda" \
                and not torch.cuda.is_bf16_supported():
            raise ValueError("This GPU has no bfloat16 support; use dtype='float16'.")
        return half(module, dtype)

    def save(self, model, writer):
        spec = super().save(model, writer)
        spec["dtype"] = str(next(model.parameters()).dtype).replace("torch.", "")
        return spec

    def _skeleton(self, float_module, n_features, spec):
        if spec.get("dtype") not in ("float16", "bfloat16"):
            raise ValueError(f"Unknown half-precision dtype {spec.get('dtype')!r} in the file.")
        return half(float_module, getattr(torch, spec["dtype"]))


def _load_quantized_state(model, state, name):
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"The file's {name} int8 state does not fit the module rebuilt from it "
            f"({str(exc).splitlines()[0]}). Files with method='static', backend='torch' written "
            "before skensemble moved to eager-mode quantization cannot be read; refit and save again."
        ) from None


def _dequantized_state(float_module, model):
    """Float weights of ``float_module`` read from the quantized ``model``."""
    model = getattr(model, "module", model)  # static int8 is a QuantWrapper
    state = {}
    for name, layer in float_module.named_modules():
        own = list(layer.parameters(recurse=False)) + list(layer.buffers(recurse=False))
        if not name or not own:
            continue
        q = model.get_submodule(name)
        if isinstance(q, nn.Sequential) and len(q) == 2 and type(q[1]) is type(layer):
            q = q[1]  # a layer kept in float after a DeQuantStub (the static int8 output layer)
        if isinstance(q, Int8WeightOnlyLinear):
            weight, bias = q.weight_int8.float() * q.scale[:, None], q.bias
        elif callable(getattr(q, "weight", None)):  # torch's packed int8 layers
            weight, bias = q.weight().dequantize(), q.bias()
        else:  # half precision: the same layer in another dtype
            state.update({f"{name}.{k}": v.float() if v.is_floating_point() else v
                          for k, v in q.state_dict().items()})
            continue
        state[f"{name}.weight"] = weight
        if layer.bias is not None:
            state[f"{name}.bias"] = bias
    return state


# --- ONNX Runtime --------------------------------------------------------------
class _OnnxRuntimeBackend(QuantizationBackend):
    """Export to ONNX, quantize and serve with ONNX Runtime (an ONNX graph is data, not code)."""

    def quantize(self, module, calibration, dtype=None):
        float_onnx = module_to_onnx(module, calibration.shape[1])
        model = OnnxRuntimeModel(self._quantize_onnx(float_onnx, calibration))
        model.float_size = len(float_onnx)
        if self.name != "onnxruntime-float32" and onnx_linear_weights(model.onnx_bytes, module) is None:
            model.float_names = onnx_weight_names(model.onnx_bytes, module)  # None: files keep the float net
        return model

    def predict(self, model, X):
        return model(X).astype(np.float64)

    def size_bytes(self, model):
        return len(model.onnx_bytes)

    def float_size_bytes(self, module, model):
        return model.float_size  # compare ONNX files with ONNX files

    def save(self, model, writer):
        spec = {"backend": self.name, "file": writer.add_file("onnx", "onnx", model.onnx_bytes)}
        if getattr(model, "float_names", None):
            spec["float_names"] = model.float_names
        return spec

    def load(self, spec, reader, float_module, n_features):
        model = OnnxRuntimeModel(reader.file(spec["file"]))
        if spec.get("float_names"):
            model.float_names = spec["float_names"]
        return model

    def float_state(self, float_module, model):
        names = getattr(model, "float_names", None)
        if names:  # weights the exporter renamed, matched when the model was quantized
            return onnx_state_from_names(model.onnx_bytes, float_module, names)
        return onnx_linear_weights(model.onnx_bytes, float_module)


class OnnxRuntimeDynamicInt8(_OnnxRuntimeBackend):
    """ONNX Runtime dynamic int8 (Linear layers)."""

    name = "onnxruntime"

    def quantize(self, module, calibration, dtype=None):
        require_linear(module, runtime="onnxruntime")
        return super().quantize(module, calibration, dtype)

    def _quantize_onnx(self, float_onnx, calibration):
        return quantize_onnx_dynamic(float_onnx)


class OnnxRuntimeStaticInt8(_OnnxRuntimeBackend):
    """ONNX Runtime static int8 (QOperator ``QGemm``/``QLinearConv``), calibrated."""

    name = "onnxruntime-static"
    calibrated = True

    def _quantize_onnx(self, float_onnx, calibration):
        return quantize_onnx_static(float_onnx, calibration)


class OnnxRuntimeFloat32(_OnnxRuntimeBackend):
    """Float32 served by ONNX Runtime: the net's own weights, a leaner call than torch's eager forward."""

    name = "onnxruntime-float32"

    def _quantize_onnx(self, float_onnx, calibration):
        return float_onnx

    def float_state(self, float_module, model):
        return None  # the float module is saved beside the graph


BACKENDS = {
    backend.name: backend
    for backend in (TorchDynamicInt8(), TorchStaticInt8(), WeightOnlyInt8(), HalfPrecision(),
                    OnnxRuntimeDynamicInt8(), OnnxRuntimeStaticInt8(), OnnxRuntimeFloat32())
}


def get_backend(name):
    """The registered backend called ``name``; a clear error for an unknown one."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"Unknown quantization backend {name!r}; known: {sorted(BACKENDS)}.") from None
