"""QuantizedClassifier and QuantizedRegressor: int8 or half-precision nets, smaller and (int8) faster."""

import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state

from ...nets._modules import ACTIVATIONS
from ...nets._targets import LogitsClassifierMixin
from ...persistence import register
from ...utils._validation import float32_rows
from ...utils._access import checked_net_input, get_module, net_input, sole_table_encoder
from ..._compat.sklearn import fit_context, HasMethods, Interval, StrOptions, check_sample_weight
from ...utils._access import get_net_estimator
from ...utils._capabilities import cpu_capability, cpu_has_bf16, cpu_has_fp16
from ...utils._device import module_device
from ...utils._torch import eval_mode
from ...meta._base import BaseNetWrapper, NetWrapperClassifierMixin, NetWrapperRegressorMixin, fit_or_copy
from ...export._onnx import has_onnxruntime, prepend_row_encoding
from ...export._runtime import OnnxRuntimeModel
from ._backends import BACKENDS, get_backend
from ._torch_int8 import has_torch_ao

_HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}
_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


class _BaseQuantized(BaseNetWrapper):
    """Parameters, fit, predictions and saved state of quantization, whatever the task."""

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "dtype": [StrOptions({"auto", "int8", "float16", "bfloat16", "float32"})],
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

    def _resolve_dtype(self, module):
        """``dtype``, with ``"auto"`` made concrete for the module's device and this machine.

        ``"auto"``: float16 for a net on a GPU (native there), else int8 (ONNX
        Runtime's int8 was faster than float32 at every batch size measured on
        both kinds of benchmark CPU).  An explicit half precision on a CPU
        that lacks it natively warns that it will be slower.
        """
        on_gpu = any(p.is_cuda for p in module.parameters())
        if self.dtype == "auto":
            return "float16" if on_gpu else "int8"
        if self.dtype in _HALF and not on_gpu:
            native = cpu_has_bf16() if self.dtype == "bfloat16" else cpu_has_fp16()
            if not native:
                warnings.warn(
                    f"dtype={self.dtype!r} on a CPU without native {self.dtype} (torch kernels "
                    f"{cpu_capability()}): half-precision weights run several times slower than float32 here "
                    "(bfloat16 5-8x slower at batch 64 and more on CPUs with AVX2 only, float16 4-6x slower "
                    "at batch 4096 even on a CPU with AVX-512 BF16; benchmarks/results/quantization.md). "
                    "dtype='int8' or 'auto' is smaller and faster on this CPU.", UserWarning, stacklevel=3)
        return self.dtype

    def _resolve_backend(self, dtype=None):
        dtype = self.dtype if dtype is None else dtype
        if dtype == "auto":
            dtype = "int8"  # checked again once the module's device is known
        if dtype in _HALF:
            return "half"
        if dtype == "float32":
            if self.backend not in ("auto", "onnxruntime") or not has_onnxruntime():
                raise ValueError(
                    "dtype='float32' serves the float net through ONNX Runtime: it needs "
                    "backend='onnxruntime' (or 'auto') and the onnxruntime package "
                    "(pip install 'skensemble[onnx]'); with torch the float net is the net itself.")
            return "onnxruntime-float32"
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

    @fit_context(prefer_skip_nested_validation=False)  # estimator is validated by its own fit
    def fit(self, X, y, sample_weight=None):
        """Fit (or copy) the net and quantize it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the net's fit (when ``estimator`` is not a fitted one);
            calibration is unweighted.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        y = self._check_fit_input(X, y, "quantizes")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        self._resolve_backend()  # an impossible combination fails before any training
        estimator = fit_or_copy(self.estimator, X, y, sample_weight, owner=type(self).__name__)
        module = get_module(estimator)
        self.dtype_ = self._resolve_dtype(module)
        backend = get_backend(self._resolve_backend(self.dtype_))
        Xn = net_input(estimator, X)
        calibration = self._calibration_data(Xn) if backend.calibrated else Xn
        quantized = backend.quantize(module, calibration, dtype=_HALF.get(self.dtype_))
        if backend.calibrated:
            self._check_fidelity(module, backend, quantized, calibration)
        self.estimator_ = estimator
        self.quantized_module_ = quantized
        # an ONNX graph takes the net's table encoding in front, so a prediction is one ONNX Runtime call
        self._encoding_in_graph = isinstance(quantized, OnnxRuntimeModel) and sole_table_encoder(estimator) is not None
        self.backend_ = backend.name
        self._set_target_attributes(estimator)
        self.size_bytes_ = backend.size_bytes(quantized)
        self.size_bytes_float_ = backend.float_size_bytes(module, quantized)
        self.compression_ratio_ = self.size_bytes_float_ / self.size_bytes_
        return self

    def _check_fidelity(self, module, backend, quantized, calibration):
        """Refuse a calibrated model that strays from its float net (regressors: :class:`QuantizedRegressor`)."""

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

    def _outputs(self, X):
        """Raw outputs of the quantized model (float64) for X; never from the float net."""
        self._check_fitted()
        raw = self._validate_raw(X, reset=False)
        if raw is None:
            float32_rows(self, X, dtype=None)  # checked; the pipeline inside, if any, reads X as given
            Xn = net_input(self.estimator_, X)
        elif getattr(self, "_encoding_in_graph", False):  # fitted since 2026-12-07; checked for its columns here
            return self._encoded_graph_outputs(raw)
        else:  # checked for its columns here: the net inside encodes it without checking it again
            with torch.inference_mode():  # the encoding's kernels run faster in it (rows only, no gradients)
                Xn = checked_net_input(self.estimator_, raw)
        return BACKENDS[self.backend_].predict(self.quantized_module_, Xn)

    def _encoded_graph_outputs(self, table):
        """Outputs of the ONNX graph with the net's table encoding in front, on a checked table.

        One ONNX Runtime call on ``TableEncoder.raw_rows`` (numbers and
        category codes): at batch 1 the torch encoding before the int8 graph
        cost twice the graph.  The encoding runs in ONNX Runtime's float32
        kernels, equal to the torch layer's to rounding; models quantized
        before it (files without ``_encoding_in_graph``) keep the torch
        encoding, so they predict as they did.
        """
        encoding = sole_table_encoder(self.estimator_)
        model = self.quantized_module_.derived(
            "table_rows", lambda graph: prepend_row_encoding(graph, encoding.encoding_))
        return model(encoding.raw_rows(table)).astype(np.float64)

    # --- pickle ---------------------------------------------------------------
    def __getstate__(self):
        state = super().__getstate__()
        backend = BACKENDS.get(state.get("backend_"))
        if "quantized_module_" in state and backend is not None and not backend.pickles_module:
            state = dict(state)  # BaseEstimator.__getstate__ may hand out the live __dict__
            state["_quantized_state_bytes"] = backend.state_bytes(state.pop("quantized_module_"))
        return state

    def __setstate__(self, state):
        data = state.pop("_quantized_state_bytes", None)
        super().__setstate__(state)
        if data is not None:
            self.quantized_module_ = BACKENDS[self.backend_].from_state_bytes(
                data, get_module(self.estimator_), self.n_features_in_)

    # --- persistence protocol (see skensemble.persistence) ------------------
    def _save_state(self, writer, state, path):
        """Store the quantized model through its backend.

        When the backend can read the float weights back from the quantized
        model, the float net is stored as structure only (a ~4x smaller file
        for int8), with the entries it cannot read back (``float_rest``:
        say a boolean mask the ONNX exporter folded away) beside it.
        """
        extra = {}
        if "quantized_module_" in state:
            backend = BACKENDS[self.backend_]
            model = state.pop("quantized_module_")
            extra["quantized"] = backend.save(model, writer)
            float_module = get_module(self.estimator_)
            read_back = backend.float_state(float_module, model)
            if read_back is not None:
                writer.skip_weights(float_module)
                extra["quantized"]["float_from_quantized"] = True
                rest = {k: v for k, v in float_module.state_dict().items() if k not in read_back}
                if rest:
                    extra["quantized"]["float_rest"] = writer.add_tensors("float_rest", rest)
        return state, extra

    def _load_state(self, reader, extra):
        spec = extra.get("quantized")
        if spec is None:
            return
        backend = get_backend(spec["backend"])
        float_module = get_module(self.estimator_)
        self.quantized_module_ = backend.load(spec, reader, float_module, self.n_features_in_)
        if spec.get("float_from_quantized"):
            state = backend.float_state(float_module, self.quantized_module_)
            if state is None:
                raise ValueError("The file's float net cannot be read back from its quantized model.")
            if "float_rest" in spec:
                state = {**state, **reader.tensors_under(spec["float_rest"])}
            float_module.load_state_dict(state, strict=True)


@register
class QuantizedClassifier(LogitsClassifierMixin, NetWrapperClassifierMixin, _BaseQuantized):
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
    dtype : {"int8", "float16", "bfloat16", "float32", "auto"}, default="int8"
        Storage type of the weights.  ``"auto"``: what is fast on this
        hardware: float16 for a net on a GPU, int8 otherwise (through ONNX
        Runtime when installed).  Half precision on a CPU without native
        support for it warns that it will be slower.  ``"float32"`` keeps the net's weights
        and serves them through ONNX Runtime (``backend="onnxruntime"`` or
        ``"auto"``): the same predictions to float rounding, with less
        per-call overhead than torch's eager forward (see
        ``benchmarks/results/quantization.md``).
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
    dtype_ : str
        The storage type used (``dtype``, with ``"auto"`` resolved).
    backend_ : str
        The backend used: ``"torch-dynamic"``, ``"torch-static"``,
        ``"onnxruntime"`` (dynamic), ``"onnxruntime-static"``,
        ``"weight-only"``, ``"half"`` or ``"onnxruntime-float32"``.
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

    See Also
    --------
    QuantizedRegressor : The same for regressors.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skensemble.nets import MLPNetClassifier
    >>> from skensemble.compression import QuantizedClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> q = QuantizedClassifier(MLPNetClassifier((256,), max_epochs=10, random_state=0))
    >>> q.fit(X, y).compression_ratio_ > 3  # ONNX files: 3.4x here, more for larger nets
    True
    """

    def logits(self, X):
        """Raw outputs (logits) of the quantized model as float64; predictions never use the float net.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        logits : ndarray of shape (n_samples, n_classes)
            Columns ordered as ``classes_``.
        """
        return self._outputs(X)


@register
class QuantizedRegressor(NetWrapperRegressorMixin, _BaseQuantized):
    """Quantize a net regressor's weights to int8 or half precision.

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
    dtype : {"int8", "float16", "bfloat16", "float32", "auto"}, default="int8"
        Storage type of the weights.  ``"auto"``: what is fast on this
        hardware: float16 for a net on a GPU, int8 otherwise (through ONNX
        Runtime when installed).  Half precision on a CPU without native
        support for it warns that it will be slower.  ``"float32"`` keeps the net's weights
        and serves them through ONNX Runtime (``backend="onnxruntime"`` or
        ``"auto"``): the same predictions to float rounding, with less
        per-call overhead than torch's eager forward (see
        ``benchmarks/results/quantization.md``).
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
    dtype_ : str
        The storage type used (``dtype``, with ``"auto"`` resolved).
    backend_ : str
        The backend used: ``"torch-dynamic"``, ``"torch-static"``,
        ``"onnxruntime"`` (dynamic), ``"onnxruntime-static"``,
        ``"weight-only"``, ``"half"`` or ``"onnxruntime-float32"``.
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

    See Also
    --------
    QuantizedClassifier : The same for classifiers.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skensemble.nets import MLPNetRegressor
    >>> from skensemble.compression import QuantizedRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> q = QuantizedRegressor(MLPNetRegressor((256, 256), max_epochs=30, lr=0.01, random_state=0))
    >>> q.fit(X, y).compression_ratio_ > 3.5
    True
    >>> q.score(X, y) > 0.4
    True
    """

    # the largest RMS difference between a static int8 regressor and its float net on the calibration rows,
    # in standard deviations of the float net's outputs there: trained nets measured up to 0.100 (a TabM of 3
    # members on shared batches, the combination test's), a net with one unit spanning 10^4 times the others'
    # range 0.92 (test_static_int8_refuses_a_regressor_it_would_move); 0.15 keeps a margin on both sides
    max_deviation = 0.15

    def _check_fidelity(self, module, backend, quantized, calibration):
        """Refuse static int8 that moves the predictions by more than 0.15 standard deviations (issue 41).

        Measured on the calibration rows, per output: with the output layer in
        float the regressors of every activation the nets offer stayed within
        0.1 (diabetes and a synthetic task, largest single difference 0.097;
        RMS up to 0.100 for a TabM of 3 members trained 3 epochs);
        a net whose hidden activations span a range that 256 levels cannot
        resolve is refused here, naming its activations, instead of predicting
        silently worse.
        """
        with eval_mode(module), torch.inference_mode():
            reference = module(torch.as_tensor(calibration, device=module_device(module))).float().cpu().numpy()
        reference = reference.reshape(len(reference), -1)
        got = backend.predict(quantized, np.asarray(calibration, dtype=np.float32)).reshape(reference.shape)
        scale = reference.std(0)
        varies = scale > 1e-6 * (1 + np.abs(reference).mean(0))  # a constant output has no scale to judge by
        if not varies.any():
            return
        rms = np.sqrt(((got - reference)[:, varies] ** 2).mean(0))
        deviation = float(np.max(rms / scale[varies]))
        if deviation > self.max_deviation:
            activations = sorted({type(m).__name__ for m in module.modules() if type(m) in _ACTIVATION_TYPES})
            raise ValueError(
                f"method='static' int8 moves this regressor's predictions by {deviation:.3f} standard deviations "
                f"of its float outputs on the calibration rows (more than {self.max_deviation}); its activations "
                f"({', '.join(activations) or 'none'}) span ranges that 256 int8 levels do not resolve. Use "
                "method='dynamic', dtype='float16' or backend='weight-only'.")

    def predict(self, X):
        """Targets predicted by the quantized model, in the units and shape of the ``y`` seen at fit."""
        outputs = self._outputs(X)
        net_estimator = get_net_estimator(self.estimator_)
        if net_estimator is not None:
            return net_estimator.decode_outputs(outputs)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs  # a user's skorch regressor
