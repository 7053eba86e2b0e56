"""torch's int8 and half-precision kernels: float module in, quantized module out.

The functions here build the quantized modules; the backend objects in
:mod:`._quantize_backends` decide when each is used and how it is saved.

* dynamic int8: ``torch.ao.quantization.quantize_dynamic`` on ``Linear``
  layers (int8 weights, activations quantized on the fly);
* static int8: eager-mode quantization (fused Conv/Linear + batch norm +
  ReLU) with activation ranges calibrated on training samples and
  per-channel weight scales (Linear and Conv);
* weight-only int8: int8 weights with per-output-channel scales,
  dequantized at each forward (4x smaller, not faster; works on any torch);
* float16 / bfloat16: the module cast to half precision.
"""

import copy
import warnings
from contextlib import contextmanager

import torch
from torch import nn

from ..._compat.torch import CONV_TYPES
from ...utils._torch import set_submodule


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


def require_linear(module, runtime="torch"):
    """Dynamic int8 quantizes dense products: refuse a module that has none.

    torch's dynamic quantization replaces ``nn.Linear`` layers; ONNX
    Runtime's quantizes every matrix product with a weight matrix in the
    graph (also TabM's BatchEnsemble and per-member layers).
    """
    if runtime == "torch":
        found = any(isinstance(m, nn.Linear) for m in module.modules())
        what = "torch's method='dynamic' quantizes nn.Linear layers"
    else:
        found = any(p.dim() >= 2 and not isinstance(m, CONV_TYPES)
                    for m in module.modules() for p in m.parameters(recurse=False))
        what = "method='dynamic' quantizes the products with weight matrices"
    if not found:
        raise ValueError(
            f"{what} and {type(module).__name__} has none; use method='static' for conv-only modules."
        )


def torch_dynamic_int8(module, calibration_X=None):
    import torch.ao.quantization as tq

    require_linear(module)
    with _quiet():
        return tq.quantize_dynamic(copy.deepcopy(module).cpu().eval(), {nn.Linear}, dtype=torch.qint8)


# Parameter-free layers that run on quantized tensors as they are (or that the
# eager converter swaps for a quantized twin, such as ELU).
_QUANTIZED_OK = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.Hardswish, nn.ELU,
    nn.Identity, nn.Dropout, nn.Flatten, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d,
    nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
)
_QUANTIZED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm2d)


def _fusions(model):
    """Names of Conv/Linear + BatchNorm (+ ReLU) runs inside ``nn.Sequential`` containers.

    Only Sequential children are known to run in order; the patterns are the
    ones ``torch.ao.quantization.fuse_modules`` folds in eval mode.
    """
    out = []
    for prefix, parent in model.named_modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent.named_children())
        full = [f"{prefix}.{n}" if prefix else n for n, _ in children]
        i = 0
        while i < len(children):
            layer, run = children[i][1], [full[i]]
            nxt = [c for _, c in children[i + 1 : i + 3]]
            norm = nn.BatchNorm1d if isinstance(layer, (nn.Linear, nn.Conv1d)) else nn.BatchNorm2d
            if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                if nxt and type(nxt[0]) is norm:
                    run.append(full[i + 1])
                    if not isinstance(layer, nn.Linear) and len(nxt) > 1 and type(nxt[1]) is nn.ReLU:
                        run.append(full[i + 2])
                elif nxt and type(nxt[0]) is nn.ReLU:
                    run.append(full[i + 1])
            if len(run) > 1:
                out.append(run)
            i += len(run)
    return out


def _float_islands(model):
    """Run layers that have no int8 kernel in float: dequantize before, quantize after."""
    from torch.ao.quantization import DeQuantStub, QuantStub

    for name, layer in list(model.named_modules()):
        if not name or next(layer.children(), None) is not None:
            continue
        if isinstance(layer, _QUANTIZED_LAYERS + _QUANTIZED_OK) or type(layer).__name__ == "Reshape":
            continue
        if any(True for _ in layer.parameters(recurse=False)) and not isinstance(layer, nn.BatchNorm1d):
            raise ValueError(
                f"method='static' with backend='torch' cannot quantize layer {name!r} "
                f"({type(layer).__name__}); use backend='onnxruntime' or method='dynamic'."
            )
        set_submodule(model, name, nn.Sequential(DeQuantStub(), layer, QuantStub()))


# functions of two recorded tensors that torch's int8 tensors cannot run outside a quantized layer
_TENSOR_ARITHMETIC = {"add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__",
                      "__isub__", "mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "__truediv__",
                      "matmul", "__matmul__", "bmm", "einsum"}


def _refuse_tensor_arithmetic(graph, module):
    """Refuse, before any calibration, a forward that adds or multiplies two computed tensors (a residual)."""
    for node in graph.nodes:
        if node.kind == "function" and node.target in _TENSOR_ARITHMETIC and len(node.inputs) >= 2:
            after = [graph.nodes[i].target for i in node.inputs]
            raise ValueError(
                f"method='static' with backend='torch' cannot quantize {type(module).__name__}: its forward "
                f"computes {node.target!r} of two tensors (from {after[0]!r} and {after[1]!r}: a residual "
                "connection, say), which torch's int8 tensors cannot run outside a quantized layer. Use "
                "backend='onnxruntime' (static int8 with quantized additions) or method='dynamic'.")


def output_linear(graph):
    """The name of the ``nn.Linear`` whose output the module returns, or None."""
    if len(graph.outputs) != 1:
        return None
    node = graph.nodes[graph.outputs[0]]
    if node.kind == "module" and isinstance(graph.modules.get(node.target), nn.Linear):
        return node.target
    return None


def _keep_float(model, name):
    """Run layer ``name`` in float on the dequantized activations, its output left in float (not requantized)."""
    from torch.ao.quantization import DeQuantStub

    layer = model.get_submodule(name)
    layer.qconfig = None  # not converted
    set_submodule(model, name, nn.Sequential(DeQuantStub(), layer))


def torch_static_int8(module, calibration_X, float_output=True):
    """Static int8 with torch's eager-mode kernels (weights and activations in int8).

    Conv/Linear + BatchNorm (+ ReLU) runs are fused, activation ranges are
    calibrated on ``calibration_X`` (histogram observers), weights get
    per-channel scales.  The output layer (an ``nn.Linear`` whose output the
    module returns) runs in float with ``float_output``: quantizing the
    outputs to 256 levels cost regressors up to 0.27 standard deviations of
    their float outputs on diabetes (0.03-0.11 with it in float; issue 41).
    A forward that adds or multiplies computed tensors (a residual) is
    refused before any calibration.  Eager mode instead of FX graph mode:
    FX traces by patching ``torch.nn.Module.__call__`` process-wide, which
    breaks nets training in other threads; eager mode only hooks the copy it
    quantizes.  The result takes and returns float tensors (``QuantWrapper``).
    """
    import torch.ao.quantization as tq

    from ...graph._record import record

    model = copy.deepcopy(module).cpu().eval()
    X = torch.as_tensor(calibration_X, dtype=torch.float32)
    graph = record(model, X[:2])
    _refuse_tensor_arithmetic(graph, module)
    engine = torch.backends.quantized.engine
    with _quiet():
        fusions = _fusions(model)
        float_layer = output_linear(graph) if float_output else None
        if float_layer is not None and any(float_layer in run for run in fusions):
            float_layer = None  # fused with what follows it: quantized with it
        if fusions:
            model = tq.fuse_modules(model, fusions)
        _float_islands(model)
        if float_layer is not None:
            _keep_float(model, float_layer)
        wrapped = tq.QuantWrapper(model)
        known = ("x86", "fbgemm", "qnnpack", "onednn")
        wrapped.qconfig = tq.get_default_qconfig(engine if engine in known else "x86")
        tq.prepare(wrapped, inplace=True)
        with torch.inference_mode():
            for start in range(0, len(X), 256):
                wrapped(X[start : start + 256])
        tq.convert(wrapped, inplace=True)
        try:
            with torch.inference_mode():
                wrapped(X[:2])
        except (RuntimeError, NotImplementedError) as exc:
            raise ValueError(
                f"method='static' with backend='torch' cannot run {type(module).__name__} on int8 "
                f"tensors ({str(exc).splitlines()[0]}); its forward uses an operation without an "
                "int8 kernel (a residual addition, say). Use backend='onnxruntime' or method='dynamic'."
            ) from None
    return wrapped


class Int8WeightOnlyLinear(nn.Module):
    """A Linear layer storing int8 weights with one float scale per output unit."""

    def __init__(self, linear):
        super().__init__()
        w = linear.weight.detach().float()
        scale = w.abs().amax(dim=1).clamp_min(1e-12) / 127.0
        self.register_buffer("weight_int8", torch.round(w / scale[:, None]).to(torch.int8))
        self.register_buffer("scale", scale)
        bias = linear.bias
        self.bias = None if bias is None else nn.Parameter(bias.detach().float().clone(), requires_grad=False)

    def forward(self, X):
        w = self.weight_int8.float() * self.scale[:, None]
        return nn.functional.linear(X, w, self.bias)


def weight_only_int8(module, calibration_X=None):
    model = copy.deepcopy(module).cpu().eval()
    found = False
    for name, layer in list(model.named_modules()):
        if isinstance(layer, nn.Linear):
            set_submodule(model, name, Int8WeightOnlyLinear(layer))
            found = True
    if not found:
        raise ValueError("This module has no Linear layer to quantize.")
    return model


def half(module, dtype):
    return copy.deepcopy(module).to(dtype).eval()
