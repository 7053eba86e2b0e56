"""QuantizedClassifier: int8 or half-precision nets, smaller and (int8) faster on CPU."""

import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..nets._targets import LogitsClassifierMixin
from ..report._metrics import saved_size_bytes
from ..utils._access import get_module, net_input
from ..utils._compat import HasMethods, Interval, StrOptions, check_is_fitted, validate_data
from ._base import BaseCompressedClassifier, fit_or_copy
from ._onnx import (
    OnnxRuntimeModel,
    has_onnxruntime,
    module_to_onnx,
    quantize_onnx_dynamic,
    quantize_onnx_static,
)
from ._quantize_backends import (
    half,
    has_torch_ao,
    require_linear,
    torch_dynamic_int8,
    torch_static_int8,
    weight_only_int8,
)

_HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}
_PREDICT_BATCH = 4096


class QuantizedClassifier(LogitsClassifierMixin, BaseCompressedClassifier):
    """Quantize a net classifier's weights to int8 or half precision.

    ``fit`` fits a clone of ``estimator`` (or copies the fitted net inside a
    ``FrozenEstimator``, or the pruned/distilled net inside another skensemble
    meta-estimator), then quantizes a copy of its module.  Predictions come
    from the quantized module, never from the float one.

    Parameters
    ----------
    estimator : estimator
        An unfitted net, a ``FrozenEstimator`` of a fitted one, a ``Pipeline``
        ending in one, or a skensemble meta-estimator wrapping one
        (``QuantizedClassifier(PrunedClassifier(net))`` is "deep compression").
    dtype : {"int8", "float16", "bfloat16"}, default="int8"
        Storage type of the weights.
    method : {"dynamic", "static"}, default="dynamic"
        For int8 only.  ``"dynamic"``: int8 weights of Linear layers,
        activations quantized on the fly.  ``"static"``: weights and
        activations of Linear and Conv layers in int8, activation ranges
        calibrated on ``calibration_size`` training samples, per-channel
        weight scales.
    backend : {"auto", "torch", "onnxruntime", "weight-only"}, default="auto"
        ``"torch"``: torch's eager/FX int8 kernels (``torch.ao.quantization``).
        ``"onnxruntime"``: export to ONNX and quantize and serve with ONNX
        Runtime's int8 kernels (optional dependency, ``skensemble[onnx]``;
        dynamic: Linear layers; static: Linear and Conv layers, QOperator
        format).
        ``"weight-only"``: int8 weights with per-unit scales dequantized at each
        forward (4x smaller, not faster; works on any torch).  ``"auto"``, from
        the measurements in ``benchmarks/results/quantization.md``: ONNX
        Runtime when it is installed (faster than float32 at every batch size
        measured, where torch's dynamic and static int8 were slower than
        float32 at batch 1 on small nets), else torch's int8 kernels when the
        installed torch has ``torch.ao.quantization``, else weight-only.  Half
        precision needs no backend.
    calibration_size : int, default=256
        Training samples used to calibrate ``method="static"``; if fewer are
        available, all are used and a warning is raised.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of calibration samples.

    Attributes
    ----------
    estimator_ : estimator
        The fitted float estimator the quantized module was made from.
    quantized_module_ : torch.nn.Module or OnnxRuntimeModel
        The quantized model that serves predictions (on CPU; half-precision
        modules on the float net's device; an ONNX Runtime session wrapper
        with ``backend="onnxruntime"``).
    backend_ : str
        The backend used: ``"torch-dynamic"``, ``"torch-static"``,
        ``"onnxruntime"`` (dynamic), ``"onnxruntime-static"``,
        ``"weight-only"`` or ``"half"``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.
    size_bytes_ : int
        Bytes of the saved quantized module (``torch.save`` of its state).
    size_bytes_float_ : int
        Bytes of the saved float module.
    compression_ratio_ : float
        ``size_bytes_float_ / size_bytes_``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skensemble.nets import MLPNetClassifier
    >>> from skensemble.compression import QuantizedClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> q = QuantizedClassifier(MLPNetClassifier((256,), max_epochs=10, random_state=0))
    >>> q.fit(X, y).compression_ratio_ > 3.5
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "dtype": [StrOptions({"int8", "float16", "bfloat16"})],
        "method": [StrOptions({"dynamic", "static"})],
        "backend": [StrOptions({"auto", "torch", "onnxruntime", "weight-only"})],
        "calibration_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        dtype="int8",
        method="dynamic",
        backend="auto",
        calibration_size=256,
        random_state=None,
    ):
        self.estimator = estimator
        self.dtype = dtype
        self.method = method
        self.backend = backend
        self.calibration_size = calibration_size
        self.random_state = random_state

    def _resolve_backend(self):
        if self.dtype in _HALF:
            return "half"
        backend = self.backend
        if backend == "onnxruntime" or (backend == "auto" and has_onnxruntime()):
            return "onnxruntime" if self.method == "dynamic" else "onnxruntime-static"
        if backend == "auto":
            backend = "torch" if has_torch_ao() else "weight-only"
        if backend == "torch":
            if not has_torch_ao():
                raise ValueError(
                    "backend='torch' needs torch.ao.quantization, which this torch "
                    f"({torch.__version__}) does not have; use backend='weight-only'."
                )
            return f"torch-{self.method}"
        if self.method == "static":
            raise ValueError(
                "backend='weight-only' quantizes weights only; method='static' "
                "(int8 activations) needs backend='torch'."
            )
        return "weight-only"

    def fit(self, X, y):
        """Fit (or copy) the net and quantize it.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        y = self._check_fit_input(X, y, "quantizes")
        backend = self._resolve_backend()
        estimator = fit_or_copy(self.estimator, X, y)
        module = get_module(estimator)
        if backend == "half":
            if self.dtype == "bfloat16" and next(module.parameters()).device.type == "cuda" \
                    and not torch.cuda.is_bf16_supported():
                raise ValueError("This GPU has no bfloat16 support; use dtype='float16'.")
            quantized = half(module, _HALF[self.dtype])
        elif backend == "torch-dynamic":
            quantized = torch_dynamic_int8(module)
        elif backend == "torch-static":
            quantized = torch_static_int8(module, self._calibration_data(net_input(estimator, X)))
        elif backend == "onnxruntime":
            require_linear(module)
            float_onnx = module_to_onnx(module, net_input(estimator, X).shape[1])
            quantized = OnnxRuntimeModel(quantize_onnx_dynamic(float_onnx))
        elif backend == "onnxruntime-static":
            Xn = net_input(estimator, X)
            float_onnx = module_to_onnx(module, Xn.shape[1])
            quantized = OnnxRuntimeModel(quantize_onnx_static(float_onnx, self._calibration_data(Xn)))
        else:
            quantized = weight_only_int8(module)
        self.estimator_ = estimator
        self.quantized_module_ = quantized
        self.backend_ = backend
        self.classes_ = estimator.classes_
        if isinstance(quantized, OnnxRuntimeModel):  # compare ONNX files with ONNX files
            self.size_bytes_ = len(quantized.onnx_bytes)
            self.size_bytes_float_ = len(float_onnx)
        else:
            self.size_bytes_ = saved_size_bytes(quantized)
            self.size_bytes_float_ = saved_size_bytes(module)
        self.compression_ratio_ = self.size_bytes_float_ / self.size_bytes_
        return self

    def _calibration_data(self, Xn):
        n = len(Xn)
        if n < self.calibration_size:
            warnings.warn(
                f"calibration_size={self.calibration_size} but only {n} samples are "
                f"available; calibrating on all {n}.",
                UserWarning,
            )
            return Xn
        idx = check_random_state(self.random_state).choice(n, self.calibration_size, replace=False)
        return Xn[np.sort(idx)]

    def _logits(self, X):
        """Logits of the quantized module (predictions never use the float net)."""
        check_is_fitted(self)
        validate_data(self, X, reset=False, dtype=None)
        Xn = net_input(self.estimator_, X)
        module = self.quantized_module_
        if isinstance(module, OnnxRuntimeModel):
            return module(Xn).astype(np.float64)
        param = next(iter(module.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        outs = []
        with torch.inference_mode():
            for start in range(0, len(Xn), _PREDICT_BATCH):
                xb = torch.as_tensor(Xn[start : start + _PREDICT_BATCH], device=device, dtype=dtype)
                outs.append(module(xb).float().cpu())
        return torch.cat(outs).numpy().astype(np.float64)
