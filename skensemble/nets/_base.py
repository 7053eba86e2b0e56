"""Shared machinery of skensemble's net estimators.

Design: each public net is a thin scikit-learn estimator that *wraps* a skorch
net rather than subclassing one.  ``__init__`` stores parameters only; ``fit``
validates the data, encodes the labels, infers the module's input and output
sizes, builds a fresh skorch net and keeps it as the fitted attribute ``net_``.
Wrapping (instead of subclassing) is what lets the nets pass scikit-learn's
estimator checks: skorch's own ``__init__`` sets attributes and its
``get_params`` reports private entries, and a skorch net passes raw float64,
pandas columns or string labels straight to torch.  Everything skorch offers
stays reachable: ``callbacks``, ``net_params`` (any skorch argument such as
``optimizer__momentum`` or ``iterator_train__drop_last``), and the fitted
``net_``, ``module_`` and ``history_``.
"""

import contextlib
import copy
import inspect
import numbers
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator
from skorch.callbacks import EarlyStopping
from skorch.history import History

from .._compat.torch import BATCH_NORM_TYPES
from .._compat.sklearn import validate_params, Interval, StrOptions, check_is_fitted, check_sample_weight, validate_data
from ..utils._capabilities import cpu_capability, cpu_has_bf16
from ..utils._device import resolve_device
from ..utils._random import draw_seed, torch_seed
from ..utils._torch import eval_mode
from ..utils._validation import check_columns, float32_rows, numeric_of_fitted_width
from ._engine import train
from ._loader import MemberBatchLoader, TensorLoader, writable
from ._skorch import LabelValidSplit, StopOnNonFiniteLoss, _AmpMixin
from ._modules import ACTIVATIONS, predict_module
from ..preprocessing._table import TableEncoder, check_raw_targets, check_table, needs_encoding

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

# The learning rate ``lr=None`` means, per optimizer (Keras's defaults): SGD's steps need a larger rate.
# Measured (3 seeds, 100 epochs; CHANGELOG.md): with momentum 0.9 (Nesterov), SGD at 1e-3 reached 0.978
# training accuracy on scaled wine and 0.966 on scaled digits where Adam reached 1.000; at 1e-2 it reached
# 1.000 and 0.999.
DEFAULT_LR = {torch.optim.SGD: 1e-2}
_ADAPTIVE_LR = 1e-3
# scikit-learn's solver="sgd": momentum 0.9 with Nesterov (without it, SGD at 1e-3 reached 0.86 on wine)
SGD_DEFAULTS = {"momentum": 0.9, "nesterov": True}


def resolve_lr(lr, optimizer):
    """The learning rate: ``lr``, or for ``None`` the optimizer class's default (1e-2 for SGD, 1e-3 otherwise)."""
    return DEFAULT_LR.get(optimizer, _ADAPTIVE_LR) if lr is None else lr


def optimizer_arguments(optimizer, weight_decay):
    """skorch's ``optimizer__`` arguments of the nets for ``optimizer``: its weight decay, where it takes one.

    Rprop and LBFGS have no weight decay: they train with ``weight_decay=0``
    and refuse any other value, naming both.  Optimizers the nets cannot
    train with are refused by name: SparseAdam steps only sparse gradients,
    which no layer of the nets gives; Muon only 2-D weights.
    """
    name = getattr(optimizer, "__name__", repr(optimizer))
    if optimizer is torch.optim.SparseAdam:
        raise ValueError("optimizer=SparseAdam steps sparse gradients only (nn.Embedding(sparse=True)); the nets' "
                         "layers give dense ones. Use Adam or another optimizer.")
    if optimizer is getattr(torch.optim, "Muon", None):
        raise ValueError("optimizer=Muon steps 2-D weight matrices only; the nets also train biases (and norms, "
                         "embeddings). Use AdamW or another optimizer.")
    try:
        takes = "weight_decay" in inspect.signature(optimizer).parameters
    except (TypeError, ValueError):  # no signature to read: pass it as before
        takes = True
    if takes:
        return {"optimizer__weight_decay": weight_decay}
    if weight_decay:
        raise ValueError(f"weight_decay={weight_decay!r}, but optimizer={name} takes no weight_decay. Set "
                         "weight_decay=0 or choose an optimizer with one (Adam, AdamW, SGD, ...).")
    return {}


def sgd_defaults(optimizer, given):
    """scikit-learn's momentum for SGD (0.9, Nesterov), unless ``given`` (the user's keys) sets any of it."""
    if optimizer is not torch.optim.SGD or any(k in given for k in ("momentum", "nesterov", "dampening")):
        return {}
    return dict(SGD_DEFAULTS)


# Batch size used for inference: larger than a training batch, as there is no
# gradient to keep, but bounded so memory stays small.
_PREDICT_BATCH_SIZE = 1024


# Forward multiply-adds of a training batch from which bfloat16 autocast pays on a CPU with native
# bfloat16 (benchmarks/bench_amp.py, benchmarks/results/amp.md; AMD EPYC, AVX-512 BF16, 2 cores; two
# runs): below it bfloat16 fitted at 0.44x-1.07x the float32 speed (1.4M-84M, MLPs and conv nets), above
# it at 1.31x-2.9x (149M-2.3G).  A fixed rule, never a timing inside fit, so results do not depend on load.
BF16_MIN_WORK = 100_000_000


def amp_dtype(amp, device, work=None):
    """The autocast dtype for the ``amp`` parameter on ``device`` (None: float32), and why not, if not.

    Returns ``(dtype, reason)``: ``reason`` is a message when ``amp`` asked
    for mixed precision that this hardware does not run natively (the fit
    then warns and trains in float32).  ``True``/``"auto"``: float16 on CUDA
    (tensor cores, with loss scaling); on a CPU with native bf16 (AVX-512
    BF16 or AMX) bfloat16 where a training batch does at least
    ``BF16_MIN_WORK`` forward multiply-adds (``work``; unknown: bfloat16),
    float32 below it, silently; float32 elsewhere, with the reason.  An
    explicit ``"float16"`` or ``"bfloat16"`` is used as asked.
    """
    if amp is False:
        return None, None
    if amp in ("float16", "bfloat16"):
        return getattr(torch, amp), None
    if torch.device(device).type == "cuda":
        return torch.float16, None
    if cpu_has_bf16():
        return (None if work is not None and work < BF16_MIN_WORK else torch.bfloat16), None
    return None, (
        f"amp={amp!r}: this CPU (torch kernels {cpu_capability()}) has no native bfloat16 (AVX-512 BF16 or "
        "AMX), where bfloat16 autocast trained 7.5-10x slower than float32 in skensemble's benchmarks; "
        "training in float32. Pass amp='bfloat16' to use it anyway.")


def _lean_defaults(optimizer, verbose, net_params):
    """Defaults the skorch net gets unless the user set them in ``net_params``.

    SGD gets scikit-learn's momentum (:func:`sgd_defaults`).  The rest is
    what small fits need not pay for: Adam and AdamW use torch's fused kernel (one kernel over all parameters
    instead of a Python loop: a step of a small MLP 2.6x faster on CPU, same
    values); with ``verbose=0`` skorch's ``PrintLog``, which formats a table
    every epoch even when it prints nothing, is left out.
    """
    defaults = {}
    if optimizer in (torch.optim.Adam, torch.optim.AdamW) and not any(
            k in net_params for k in ("optimizer__fused", "optimizer__foreach")):
        defaults["optimizer__fused"] = True
    given = {k.removeprefix("optimizer__") for k in net_params if k.startswith("optimizer__")}
    defaults.update({f"optimizer__{k}": v for k, v in sgd_defaults(optimizer, given).items()})
    if not verbose and "callbacks__print_log" not in net_params:
        defaults["callbacks__print_log"] = None
    return defaults


def _drop_loader_arguments(params):
    """Remove the loader arguments that only skensemble's loaders take, for a user's own loader class."""
    for stage in ("iterator_train", "iterator_valid"):
        loader = params[stage] if isinstance(params[stage], type) else type(None)
        if not issubclass(loader, TensorLoader):  # a user's DataLoader takes no device argument
            params.pop(f"{stage}__device")
            params.pop(f"{stage}__merge_single_row", None)
        if not issubclass(loader, MemberBatchLoader):
            params.pop(f"{stage}__k", None)  # the members' own batches need skensemble's loader


def detached(value):
    """A torch tensor as a plain CPU array (without its autograd graph); anything else as is."""
    if torch.is_tensor(value):
        return value.detach().cpu().numpy()
    return value


def _optimizer_spec(optimizer, writer):
    """The optimizer's state (moments, step counts) and parameter groups, as tensors and plain data."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            (tensors if torch.is_tensor(value) else scalars)[f"{index}.{name}"] = value
    return {"prefix": writer.add_tensors("optimizer", tensors), "scalars": writer.plain(scalars),
            "param_groups": writer.plain(state["param_groups"])}


def _restore_optimizer(optimizer, spec, reader):
    """Load a state written by :func:`_optimizer_spec`, when its parameter groups fit the rebuilt optimizer.

    An optimizer built outside the net's own ``initialize_optimizer`` (for
    example with one group per layer) cannot be matched: it stays fresh.
    """
    groups = spec["param_groups"]
    if [len(g["params"]) for g in groups] != [len(g["params"]) for g in optimizer.param_groups]:
        return
    entries = {}
    for key, value in reader.tensors_under(spec["prefix"]).items():
        index, _, name = key.partition(".")
        entries.setdefault(int(index), {})[name] = value  # load_state_dict moves each to its parameter's device
    for key, value in spec["scalars"].items():
        index, _, name = key.partition(".")
        entries.setdefault(int(index), {})[name] = value
    for group in groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": entries, "param_groups": groups})


def infers_directly(net):
    """Whether ``net.infer(x)`` is ``net.module_(x)`` for a CPU tensor ``x``, so prediction may call the module.

    True for skensemble's own ``infer`` without autocast, on the CPU, with
    the module in eval mode (as training leaves it): an ``infer`` of a
    subclass or set on the net, mixed precision, a GPU (out-of-memory
    retries) or a module in training mode take skorch's path.
    """
    return (getattr(net.infer, "__func__", None) is _AmpMixin.infer and net.amp_dtype is None
            and str(net.device) == "cpu"
            and not net.module_.training)


class BaseNet(BaseEstimator, metaclass=ABCMeta):
    """Base class of the net estimators (not public API).

    Subclasses define ``__init__`` with explicit parameters, ``_module_spec``
    (the module class and its keyword arguments for the data at hand) and the
    target handling (``_prepare_y``/``_net_class``/``_criterion``).
    """

    _skensemble_net_attr = "net_"

    _parameter_constraints = {
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "l1": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "net_params": [dict, None],
        "device": [str],
        "amp": ["boolean", StrOptions({"auto", "float16", "bfloat16"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _hidden_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
    }

    # --- to be defined by subclasses -------------------------------------
    @abstractmethod
    def _module_spec(self, n_features, n_outputs):
        """Return ``(module_class, module_kwargs)`` for this data."""

    @abstractmethod
    def _prepare_y(self, y, sample_weight=None):
        """Validate and encode ``y`` (weighted by ``sample_weight``); set target attributes.

        Returns ``(y_enc, n_outputs)``.
        """

    # --- fitting ----------------------------------------------------------
    # Whether the estimator takes raw tables (its ``preprocessing`` parameter; see ``_table``)
    _takes_tables = False

    def _validate_X(self, X, reset):
        """X as the module's input (float32): checked once, then encoded by ``table_encoder_`` if fitted."""
        encoder = getattr(self, "table_encoder_", None)
        if encoder is None:
            try:
                if reset:
                    return validate_data(self, detached(X), reset=True, dtype=np.float32)
                return float32_rows(self, detached(X))
            except ValueError as exc:
                if not (self._takes_tables and getattr(self, "preprocessing", None) == "auto" and needs_encoding(X)):
                    raise
                raise ValueError(
                    f"{exc} {type(self).__name__} was fitted on a numeric table without missing values, so "
                    "it fitted no table encoder (preprocessing='auto'); fit it with preprocessing='always' (the "
                    "default) to predict on tables with missing values or text.") from None
        if not numeric_of_fitted_width(self, X):  # else every check below passes (a user's usual batch)
            X = check_table(detached(X))  # a 1-D or sparse X gets scikit-learn's message before the column count
            check_columns(self, X)  # the column count and names
        return encoder.encode(X)

    def _encode_checked(self, X):
        """The module's input for a table whose columns a wrapper has checked against this net's (same fit).

        Encoded by ``table_encoder_`` when the net has one (a float32 tensor,
        which the prediction path takes as it is); without it the wrapper's
        table is validated as float32 as usual.
        """
        encoder = getattr(self, "table_encoder_", None)
        return self._validate_X(X, reset=False) if encoder is None else encoder.encode(X)  # a float32 tensor

    def _validate_net_data(self, X, y, reset, sample_weight=None, **y_params):
        """``(X as the net's float32 input, y)``; with ``reset`` a raw table fits ``table_encoder_`` first.

        Without an encoder this is scikit-learn's validation as float32 (raw
        text or missing values are refused there).  With ``preprocessing``
        set and a table that needs it (``"auto"``: text or category columns,
        missing values; ``"always"``: any table) the encoder turns X into
        the net's input; later calls (``partial_fit``, ``predict``) use the
        fitted one.
        """
        X, y = detached(X), detached(y)
        if reset:
            preprocessing = getattr(self, "preprocessing", None) if self._takes_tables else None
            use = preprocessing == "always" or (preprocessing == "auto" and needs_encoding(X))
            if not use:
                self.__dict__.pop("table_encoder_", None)
        else:
            use = hasattr(self, "table_encoder_")
        if not use:
            return validate_data(self, X, y, reset=reset, dtype=np.float32, **y_params)
        X = check_table(X)
        validate_data(self, X, y, reset=reset, skip_check_array=True)  # names, counts; y=None refused
        y = check_raw_targets(X, y, **y_params)
        if reset:
            self.table_encoder_ = TableEncoder().fit(X, sample_weight=sample_weight)
        return self.table_encoder_.transform(X), y

    def _n_module_inputs(self):
        """Width of the net's input: the encoded table's, or the features seen at fit."""
        encoder = getattr(self, "table_encoder_", None)
        return self.n_features_in_ if encoder is None else encoder.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self._takes_tables and getattr(self, "preprocessing", None) is not None:
            tags.input_tags.allow_nan = True
            tags.input_tags.string = True
        return tags

    def _make_net(self, n_features, n_outputs, *, seed, device, n_samples=None):
        """The skorch net for this data (not initialized); the batch is capped at ``n_samples``."""
        module, module_kwargs = self._module_spec(n_features, n_outputs)
        optimizer = OPTIMIZERS[self.optimizer] if isinstance(self.optimizer, str) else self.optimizer
        callbacks, train_split = self._callbacks_and_split(seed)
        params = {
            "module": module,
            "criterion": self._criterion,
            "optimizer": optimizer,
            "lr": resolve_lr(self.lr, optimizer),
            **optimizer_arguments(optimizer, self.weight_decay),
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size if n_samples is None else min(self.batch_size, n_samples),
            "train_split": train_split,
            "callbacks": callbacks,
            "device": device,
            "amp_dtype": self._autocast_dtype(device),
            "verbose": self.verbose,
            "l1": self.l1,
            "iterator_train": TensorLoader,
            "iterator_train__shuffle": True,
            "iterator_train__merge_single_row": True,
            "iterator_train__device": device,
            "iterator_valid": TensorLoader,
            "iterator_valid__batch_size": _PREDICT_BATCH_SIZE,
            "iterator_valid__device": device,
        }
        params.update(_lean_defaults(optimizer, self.verbose, self.net_params or {}))
        params.update({f"module__{k}": v for k, v in module_kwargs.items()})
        params.update(self._extra_net_params(n_outputs))
        if (self.net_params or {}).get("warm_start"):
            raise ValueError(
                "net_params={'warm_start': True} would keep training skorch's net across fits, but "
                "every fit of a skensemble net builds a fresh one. To train a fitted net further, "
                "use PrunedClassifier/PrunedRegressor's fine-tuning or skorch's net_.partial_fit."
            )
        params.update(self.net_params or {})
        _drop_loader_arguments(params)
        if not self.early_stopping and "train_split" not in (self.net_params or {}):
            self._check_no_validation_callbacks(callbacks)
        return self._net_class(**params)

    def _callbacks_and_split(self, seed):
        """The net's callbacks (non-finite loss stop, the user's, early stopping) and its validation split."""
        callbacks = [("stop_on_non_finite_loss", StopOnNonFiniteLoss()),
                     *(copy.deepcopy(self.callbacks) if self.callbacks else [])]
        if not self.early_stopping:
            return callbacks, None
        stopping = EarlyStopping(monitor="valid_loss", patience=self.n_iter_no_change, load_best=True)
        split = LabelValidSplit(self.validation_fraction, stratified=self._stratify, random_state=seed)
        return callbacks + [("early_stopping", stopping)], split

    def _autocast_dtype(self, device):
        """The fitted autocast dtype (``amp_dtype_``); before it is set, what ``amp`` resolves to here."""
        name = getattr(self, "amp_dtype_", None)
        if name is None:
            return amp_dtype(self.amp, device)[0]
        return None if name == "float32" else getattr(torch, name)

    @staticmethod
    def _check_no_validation_callbacks(callbacks):
        """Refuse callbacks that read validation scores when there is no validation split."""
        for entry in callbacks:
            callback = entry[1] if isinstance(entry, tuple) else entry
            monitor = getattr(callback, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith("valid"):
                raise ValueError(
                    f"The callback {type(callback).__name__} monitors {monitor!r}, but this net holds out "
                    "no validation data. Set early_stopping=True (skensemble's early stopping, with "
                    "validation_fraction and n_iter_no_change), or pass "
                    "net_params={'train_split': skorch.dataset.ValidSplit(...)}."
                )

    def _extra_net_params(self, n_outputs):
        return {}

    def _build(self, X, y, sample_weight=None, classes=None):
        """Validate targets and build the (untrained) skorch net for this data."""
        y_enc, n_outputs = self._prepare_y(y, sample_weight, classes)
        self.device_ = resolve_device(self.device)
        dtype, reason = amp_dtype(self.amp, self.device_)
        if reason is not None:
            warnings.warn(reason, UserWarning, stacklevel=4)
        self.amp_dtype_ = "float32" if dtype is None else str(dtype).removeprefix("torch.")
        self._seed = draw_seed(self.random_state)
        net = self._make_net(X.shape[1], n_outputs, seed=self._seed, device=self.device_,
                             n_samples=X.shape[0])
        return net, y_enc

    def _fit(self, X, y, sample_weight=None):
        """Fit on ``X`` already validated (float32), raw ``y`` and optional weights.

        Weights make the loss a weighted mean of per-sample losses.  Equal
        weights are the unweighted fit, exactly.
        """
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
            if np.all(sample_weight == sample_weight[0]):
                sample_weight = None
        net, y_enc = self._build(X, y, sample_weight)
        self._initialize_net(net, X)  # what skorch's fit does first; then the outputs are checked
        self._check_outputs(net, X[:2])
        if len(X) < 2 and any(isinstance(m, BATCH_NORM_TYPES)
                              for m in net.module_.modules()):
            raise ValueError(f"{type(self).__name__}'s module has batch norm layers, which "
                             "need at least 2 samples to train; got 1 sample.")
        train(net, X, y_enc, seed=self._seed, sample_weight=sample_weight)  # weighted by the engine
        self.net_ = net
        return self

    def _partial_fit(self, X, y, classes=None, sample_weight=None):
        """One more epoch on ``(X, y)`` (weighted by ``sample_weight``); the first call builds the net."""
        if not hasattr(self, "net_"):
            validate_params(self)
            X, y = self._validate_fit_data(X, y)
            net, y_enc = self._build(X, y, classes=classes)
            self._initialize_net(net, X)
            self._check_outputs(net, X[:2])
            self.net_ = net
        else:
            X, y = self._validate_fit_data(X, y, reset=False)
            y_enc = self.encode_targets(y)
        net = self.net_
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        train(net, X, y_enc, seed=self._seed + len(net.history), epochs=1, sample_weight=sample_weight)
        return self

    def _check_outputs(self, net, X):
        """A clear error, before training, when the module's output does not fit the targets."""
        with torch.no_grad(), eval_mode(net.module_):
            out = net.module_(torch.as_tensor(np.array(X), device=net.device))  # a copy: X may be read-only
        expected = (len(X), self._n_outputs())
        if not torch.is_tensor(out) or tuple(out.shape) != expected:
            got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ValueError(
                f"The module {type(net.module_).__name__} returned {got} for a batch of {len(X)} rows "
                f"with {X.shape[1]} features; {type(self).__name__} needs one output column per "
                f"{'class' if hasattr(self, 'classes_') else 'target'}: {expected}."
            )

    def _initialize(self, X, y, sample_weight=None):
        """Set the fitted attributes with an initialized, untrained net.

        Meta-estimators that train the net with their own targets and loss
        (distillation, fine-tuning) use this; ``X`` and ``y`` are validated
        here; ``sample_weight`` weights what is fitted on ``y`` (a
        regressor's target mean and scale).
        """
        X, y = self._validate_fit_data(X, y)
        net, _ = self._build(X, y, sample_weight)
        self._initialize_net(net, X)
        self.net_ = net
        return self

    def _initialize_net(self, net, X):
        """Initialize ``net`` with the fit's seed, then settle ``amp="auto"`` by the work of a batch of ``X``."""
        with torch_seed(self._seed, self.device_):
            net.initialize()
        if self.amp in (True, "auto") and net.amp_dtype is not None:
            dtype, _ = amp_dtype(self.amp, self.device_, work=net._work_per_step(X))
            if dtype is None:  # too little work per batch for reduced precision to pay
                net.amp_dtype = None
                self.amp_dtype_ = "float32"

    # --- inference --------------------------------------------------------
    def _forward(self, X, check_input=True, finish=None):
        """Raw module outputs for ``X`` as a float64 array (validated first if ``check_input``).

        ``finish``, a function of the outputs as a float64 tensor (a
        classifier's softmax), runs before the conversion to NumPy, in the
        prediction's inference mode.
        """
        if not check_input:
            return self._outputs_as_float64(self._forward_with_retry(X), finish)
        if not hasattr(self, "net_"):
            check_is_fitted(self)  # scikit-learn's NotFittedError
        # the check, the encoding and the module in one inference mode when the module is called directly
        with torch.inference_mode() if infers_directly(self.net_) else contextlib.nullcontext():
            return self._outputs_as_float64(self._forward_with_retry(self._validate_X(X, reset=False)), finish)

    @staticmethod
    def _outputs_as_float64(out, finish=None):
        """The module's output tensor as a float64 array, through ``finish`` if given (several outputs are refused)."""
        if not torch.is_tensor(out):
            raise TypeError(
                "The module returned more than one output; skensemble's nets "
                "expect a single tensor."
            )
        out = out.detach().cpu().double()
        return (out if finish is None else finish(out)).numpy()

    def _forward_with_retry(self, X):
        """``net_.forward``; on a GPU out-of-memory error, retry with half the batch.

        The module's training flags and the net's prediction batch size are
        restored afterwards: predicting changes nothing on the estimator.
        """
        net = self.net_
        original = getattr(net, "iterator_valid__batch_size", net.batch_size)
        if infers_directly(net) and len(X) <= original:
            Xt = X if torch.is_tensor(X) else torch.as_tensor(writable(X))
            if torch.is_inference_mode_enabled():  # _forward's (the encoding ran in it too)
                return predict_module(net.module_, Xt)
            with torch.inference_mode():  # skorch's infer is module_(x) here: one call (0.03 ms less at batch 1)
                return predict_module(net.module_, Xt)
        with eval_mode(net.module_):
            try:
                return self._forward_halving(net, X, original)
            finally:
                if getattr(net, "iterator_valid__batch_size", original) != original:  # halved on a GPU
                    net.iterator_valid__batch_size = original

    @staticmethod
    def _forward_batches(net, X, batch_size):
        """skorch's ``net.forward(X)`` for an array, without its dataset and loader machinery.

        The same calls per batch (``net.infer`` without gradients, outputs
        moved to the CPU as they come); on one row this is 0.1 ms of a
        0.3 ms prediction.  Anything but an array or a tensor goes through skorch.
        """
        if torch.is_tensor(X):  # encoded by the net's table encoder
            Xt = X.to(net.device)
        elif isinstance(X, np.ndarray):
            Xt = torch.as_tensor(writable(X), device=net.device)
        else:
            return net.forward(X)
        with torch.inference_mode():
            outs = [net.infer(chunk) for chunk in (Xt.split(batch_size) if len(Xt) > batch_size else [Xt])]
        if not all(torch.is_tensor(out) for out in outs):
            return outs[0]  # not a single tensor: _forward explains
        outs = [out.cpu() for out in outs]
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def _forward_halving(self, net, X, batch_size):
        while True:
            try:
                return self._forward_batches(net, X, batch_size)
            except torch.OutOfMemoryError as exc:
                if batch_size <= 1:
                    raise MemoryError(
                        f"{type(self).__name__} ran out of device memory on {net.device} even "
                        "with batches of 1 sample; predict on the CPU (set_params(device='cpu') "
                        "and refit) or free device memory."
                    ) from exc
                batch_size = max(1, batch_size // 2)
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                net.iterator_valid__batch_size = batch_size

    # --- skorch-style parameters -------------------------------------------
    _SKORCH_NAMESPACES = ("optimizer__", "criterion__", "module__", "iterator_train__", "iterator_valid__")

    def set_params(self, **params):
        """Set parameters, also in skorch's spelling.

        Besides the estimator's own parameters (and ``<param>__<sub>`` of
        nested estimators), two skorch habits work:

        * keys of skorch's component namespaces (``optimizer__momentum``,
          ``criterion__weight``, ``module__...``, ``iterator_train__...``,
          ``iterator_valid__...``) are stored in ``net_params``;
        * ``callbacks__<name>__<param>`` sets ``<param>`` on a copy of the
          callback named ``<name>`` in ``callbacks`` (the user's callback
          object is not changed).

        Both show in ``get_params``, so ``clone`` and ``GridSearchCV`` keep them.

        Returns
        -------
        self : object
            The estimator.
        """
        own = {}
        for key, value in params.items():
            if key.startswith(self._SKORCH_NAMESPACES):
                self.net_params = {**(self.net_params or {}), key: value}
            elif key.startswith("callbacks__"):
                self._set_callback_param(key, value)
            else:
                own[key] = value
        return super().set_params(**own) if own else self

    def _set_callback_param(self, key, value):
        name, _, param = key[len("callbacks__"):].partition("__")
        entries = list(self.callbacks or [])
        for i, entry in enumerate(entries):
            if isinstance(entry, tuple) and entry[0] == name:
                callback = copy.deepcopy(entry[1])
                callback.set_params(**{param: value})
                entries[i] = (name, callback)
                self.callbacks = entries
                return
        names = [e[0] for e in entries if isinstance(e, tuple)]
        raise ValueError(f"{key}: no callback named {name!r}; callbacks are named by (name, callback) "
                         f"tuples in callbacks, and the named ones are {names}.")

    # --- persistence protocol (see skensemble.persistence) ------------------
    def _save_state(self, writer, state, path):
        """Store the fitted net as its module's layers and weights plus the epoch history.

        Callbacks that are configuration only are kept (others are dropped
        with a warning); per-batch history would dominate small models' files
        and is left out.
        """
        extra = {}
        if state.get("callbacks"):
            state["callbacks"] = writer.saveable_callbacks(state["callbacks"], path)
        net = state.pop("net_", None)
        if net is not None:
            epochs = [{k: v for k, v in row.items() if k != "batches"} for row in net.history]
            build = self._module_spec(self._n_module_inputs(), self._n_outputs())
            extra["net"] = {"module": writer.module(net.module_, path, build), "batch_size": net.batch_size,
                            "history": writer.plain(epochs)}
            optimizer = getattr(net, "optimizer_", None)
            # a net stored as structure only (its owner keeps the weights, e.g. quantized) trains no further
            if optimizer is not None and id(net.module_) not in writer.structure_only:
                extra["net"]["optimizer"] = _optimizer_spec(optimizer, writer)
        return state, extra

    def _load_state(self, reader, extra):
        spec = extra.get("net")
        if spec is None:
            return
        device = self.device_
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            device = "cpu"  # trained on a GPU, loaded on a machine without one
        self.device_ = device
        net = self._make_net(self._n_module_inputs(), self._n_outputs(), seed=self._seed, device=device)
        net.batch_size = spec["batch_size"]
        net.initialize()
        net.module_ = reader.module(spec["module"], device)
        net.initialize_optimizer()
        if spec.get("optimizer") is not None:  # files before 2026-12 hold none: a fresh optimizer
            _restore_optimizer(net.optimizer_, spec["optimizer"], reader)
        net.history = History(spec["history"])
        self.net_ = net

    # --- skorch pass-throughs --------------------------------------------
    @property
    def module_(self):
        """The fitted torch module (``net_.module_``)."""
        check_is_fitted(self)
        return self.net_.module_

    @property
    def history_(self):
        """skorch's training history of the last fit (``net_.history``)."""
        check_is_fitted(self)
        return self.net_.history

    @property
    def n_epochs_(self):
        """Number of epochs trained, early stopping included."""
        check_is_fitted(self)
        return len(self.net_.history)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")
