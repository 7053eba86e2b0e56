"""Quantization backends: turn a float module into a quantized one.

Each backend is a function ``(module, method, dtype, calibration_X) -> module``
returning a module that runs on CPU with the reduced-precision weights.  The
choice between them is made from measurements on this project's CPUs (see
``benchmarks/results/quantization.md``):

* ``torch`` int8, dynamic: ``torch.ao.quantization.quantize_dynamic`` on
  ``Linear`` layers (int8 weights, activations quantized on the fly).
* ``torch`` int8, static: FX graph-mode quantization with activation ranges
  calibrated on training samples, per-channel weight scales (Linear and Conv).
* ``weight-only`` int8: int8 weights with per-output-channel scales,
  dequantized at each forward.  4x smaller, not faster; used when the
  installed torch has no ``torch.ao.quantization`` (it is deprecated in favour
  of torchao and may disappear).
* float16 / bfloat16: the module cast to half precision (for size and for GPU
  serving; slower than float32 on CPUs without native half support).
"""

import copy
import warnings
from contextlib import contextmanager

import torch
from torch import nn


def has_torch_ao():
    try:
        import torch.ao.quantization  # noqa: F401
        import torch.ao.quantization.quantize_fx  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _quiet():
    """Silence the deprecation and user warnings torch.ao emits on every call."""
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning, UserWarning):
            warnings.simplefilter("ignore", category)
        yield


def require_linear(module):
    """Dynamic int8 quantizes Linear layers: refuse a module that has none."""
    if not any(isinstance(m, nn.Linear) for m in module.modules()):
        raise ValueError(
            "method='dynamic' quantizes Linear layers and this module has none; "
            "use method='static' for conv-only modules."
        )


def torch_dynamic_int8(module, calibration_X=None):
    import torch.ao.quantization as tq

    require_linear(module)
    with _quiet():
        return tq.quantize_dynamic(copy.deepcopy(module).cpu().eval(), {nn.Linear}, dtype=torch.qint8)


def torch_static_int8(module, calibration_X):
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    model = copy.deepcopy(module).cpu().eval()
    X = torch.as_tensor(calibration_X, dtype=torch.float32)
    with _quiet():
        engine = torch.backends.quantized.engine
        mapping = get_default_qconfig_mapping(engine if engine in ("x86", "fbgemm", "qnnpack", "onednn") else "x86")
        try:
            prepared = prepare_fx(model, mapping, example_inputs=(X[:2],))
        except Exception as exc:
            raise ValueError(
                f"method='static' could not trace {type(module).__name__} with torch.fx "
                f"({type(exc).__name__}: {exc}); use method='dynamic'."
            ) from None
        with torch.inference_mode():
            for start in range(0, len(X), 256):
                prepared(X[start : start + 256])
        return convert_fx(prepared)


class Int8WeightOnlyLinear(nn.Module):
    """A Linear layer storing int8 weights with one float scale per output unit."""

    def __init__(self, linear):
        super().__init__()
        w = linear.weight.detach().float()
        scale = w.abs().amax(dim=1).clamp_min(1e-12) / 127.0
        self.register_buffer("weight_int8", torch.round(w / scale[:, None]).to(torch.int8))
        self.register_buffer("scale", scale)
        bias = linear.bias
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def forward(self, X):
        w = self.weight_int8.float() * self.scale[:, None]
        return nn.functional.linear(X, w, self.bias)


def weight_only_int8(module, calibration_X=None):
    model = copy.deepcopy(module).cpu().eval()
    found = False
    for name, layer in list(model.named_modules()):
        if isinstance(layer, nn.Linear):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, Int8WeightOnlyLinear(layer))
            found = True
    if not found:
        raise ValueError("This module has no Linear layer to quantize.")
    return model


def half(module, dtype):
    return copy.deepcopy(module).to(dtype).eval()
