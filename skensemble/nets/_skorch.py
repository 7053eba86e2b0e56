"""skorch nets with the extras skensemble's estimators configure.

These are private: users see :class:`~skensemble.nets.MLPNetClassifier` and
friends, which build one of these at ``fit`` and keep it as ``net_``.
"""

import contextlib
import functools
import math

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit, get_len, unpack_data
from skorch.utils import to_tensor

from .._compat.skorch import (fit_loop_datasets, module_names, next_step_optimizer, optimizer_names, set_training,
                              step_optimizer)
from ..persistence import register_splitter
from ..utils._threads import fit_threads
from ..utils._torch import multiply_adds_per_row
from ._closed_form import ClosedFormMLP
from ._epochs import run_epochs


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error as soon as a batch loss is NaN or inf.

    The estimator is then left unfitted rather than holding a net that
    predicts garbage.
    """

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if training and loss is not None and not math.isfinite(loss.item()):
            epoch = len(net.history)
            raise NonFiniteLossError(
                f"The training loss became {loss.item()} in epoch {epoch}: the fit diverged. "
                "Lower lr, scale the inputs (e.g. StandardScaler) or add weight_decay."
            )


class _L1Mixin:
    """Add ``l1 * sum(|W|)`` over weight matrices and kernels to the training loss."""

    def __init__(self, *args, l1=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l1 = l1

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training and self.l1:
            penalty = sum(
                p.abs().sum() for p in self.module_.parameters() if p.dim() > 1
            )
            loss = loss + self.l1 * penalty
        return loss


def pack_sample_weight(y, sample_weight):
    """Targets with the sample weights as an extra last column (float32).

    The weights are scaled to mean 1, so the weighted mean loss of a batch is
    on the scale of the unweighted one and ``lr`` keeps its meaning.
    """
    y2 = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
    weight = (sample_weight / sample_weight.mean()).astype(np.float32)
    return np.column_stack([y2, weight])


@register_splitter
class LabelValidSplit(ValidSplit):
    """``ValidSplit`` that stratifies on the first column of 2-D targets.

    With sample weights the targets carry a weight column; the split must
    stratify on the labels alone.

    Stratification needs every class twice and as many validation rows as
    classes; on data too small for it (scikit-learn's checks fit on a few
    rows) the split is drawn unstratified instead.  Fewer than two rows
    cannot be split: a clear error.
    """

    def __call__(self, dataset, y=None, groups=None):
        if y is not None and np.ndim(y) == 2:
            y = np.asarray(y)[:, 0]
        n_rows = get_len(dataset)
        if n_rows < 2:
            raise ValueError(f"Early stopping holds out a validation split of the training rows; got {n_rows} "
                             "sample, and it needs at least 2 samples. Set early_stopping=False.")
        if self.stratified and y is not None:
            counts = np.unique(np.asarray(y), return_counts=True)[1]
            n_valid = math.ceil(self.cv * n_rows) if isinstance(self.cv, float) else self.cv
            if counts.min() < 2 or n_valid < len(counts) or n_rows - n_valid < len(counts):
                plain = ValidSplit(self.cv, stratified=False, random_state=self.random_state)
                return plain(dataset, None, groups)
        return super().__call__(dataset, y, groups)


class _SampleWeightMixin:
    """Weighted mean of per-sample losses when the targets carry weights.

    With ``sample_weighted=True`` the last target column is the sample weight
    (see :func:`pack_sample_weight`) and the criterion reduces nothing
    (``reduction="none"``); the training engine sets both for a weighted
    training (``skensemble.nets._engine``) and restores them after.
    """

    def __init__(self, *args, sample_weighted=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.sample_weighted = sample_weighted

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not self.sample_weighted:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true = to_tensor(y_true, device=self.device)
        weight = y_true[:, -1]
        per_sample = self.criterion_(y_pred, self._target(y_true[:, :-1]))
        if per_sample.dim() > 1:  # e.g. (n_samples, n_outputs) for regression
            per_sample = per_sample.mean(dim=tuple(range(1, per_sample.dim())))
        return (per_sample * weight).mean()


class _AmpMixin:
    """Automatic mixed precision: forward passes under ``torch.autocast``.

    ``amp_dtype`` is ``None`` (float32 throughout), ``torch.bfloat16`` or
    ``torch.float16``.  The module's outputs are cast back to float32, so
    the loss, the softmax and everything downstream stay in float32.  With
    float16 the loss is scaled by a ``torch.amp.GradScaler`` (fp16 gradients
    underflow without it); bfloat16 has float32's range and needs no scaling.
    The weights and the optimizer state stay float32.
    """

    def __init__(self, *args, amp_dtype=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.amp_dtype = amp_dtype

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=self.amp_dtype)

    def infer(self, x, **fit_params):
        with self._autocast():
            out = super().infer(x, **fit_params)
        if self.amp_dtype is not None and torch.is_tensor(out) and out.is_floating_point():
            out = out.float()
        return out

    def fit_loop(self, X, y=None, **fit_params):
        try:
            return super().fit_loop(X, y, **fit_params)
        finally:
            # the scaler only matters while training; a fitted net holds none
            # (it would tie a saved or pickled net to the training device)
            self.__dict__.pop("grad_scaler_", None)

    @property
    def _scales_loss(self):
        return self.amp_dtype == torch.float16

    def _grad_scaler(self):
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            scaler = torch.amp.GradScaler(torch.device(self.device).type)
            self.grad_scaler_ = scaler
        return scaler

    def train_step_single(self, batch, **fit_params):
        if not self._scales_loss:
            return super().train_step_single(batch, **fit_params)
        set_training(self, True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler = self._grad_scaler()
        scaler.scale(loss).backward()
        # the gradients in their own units before on_grad_computed (GradientNormClipping, gradient logs);
        # scaler.step then skips its own unscaling, and still skips a step whose gradients overflowed
        for name in optimizer_names(self):
            scaler.unscale_(getattr(self, name + "_"))
        return {"loss": loss, "y_pred": y_pred}

    def _step_optimizer(self, step_fn):
        if not self._scales_loss:
            return next_step_optimizer(_AmpMixin, self, step_fn)
        # GradScaler.step takes no closure: compute the gradients once, then
        # step every optimizer (skipped when the scaled gradients overflowed)
        step_fn()
        scaler = self._grad_scaler()
        for name in optimizer_names(self):
            scaler.step(getattr(self, name + "_"))
        scaler.update()


class _EpochLoopMixin:
    """skorch's ``fit_loop`` with its epochs run by skensemble's one loop (:func:`~skensemble.nets._epochs.run_epochs`).

    The same preparation (data checks, the validation split, one iterator
    per split), and per epoch the same hooks and passes, in skorch's order:
    ``on_epoch_begin``, the training pass, the validation pass,
    ``on_epoch_end``.
    """

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        dataset_train, dataset_valid, forward_params = fit_loop_datasets(self, X, y, fit_params)
        iterator_train = self.get_iterator(dataset_train, training=True)
        iterator_valid = None if dataset_valid is None else self.get_iterator(dataset_valid, training=False)

        def epoch(_index):
            self.run_single_epoch(iterator_train, training=True, prefix="train", step_fn=self.train_step,
                                  **forward_params)
            self.run_single_epoch(iterator_valid, training=False, prefix="valid", step_fn=self.validation_step,
                                  **forward_params)

        run_epochs([self], self.max_epochs if epochs is None else epochs, epoch,
                   dataset_train=dataset_train, dataset_valid=dataset_valid)
        return self


@functools.lru_cache(maxsize=None)
def _overrides(cls, hook):
    """Whether callbacks of class ``cls`` do something in ``hook`` (not skorch's no-op)."""
    return getattr(cls, hook, None) is not getattr(Callback, hook)


@functools.lru_cache(maxsize=None)
def _custom_train(cls):
    """Whether modules of class ``cls`` do more in ``train()`` than set their flags."""
    return getattr(cls, "train", None) is not torch.nn.Module.train


class _LeanHooksMixin:
    """Call a callback hook only on the callbacks that override it; set train mode only when it changes.

    skorch calls every callback's ``on_batch_begin``/``on_batch_end`` on every
    batch, builds a generator over all parameters for ``on_grad_computed`` on
    every training step, and sets the train mode of every submodule on every
    step, whether or not anything changes.  On a small net that bookkeeping
    costs as much as the arithmetic (``benchmarks/bench_nets.py``,
    small-data grid).  The calls that are made, and their order, are the
    same as skorch's; a callback that overrides a hook gets every call of
    it; a module with its own ``train()`` gets every call of it.
    """

    def fit_loop(self, X, y=None, **fit_params):
        """skorch's fit loop with the torch threads chosen for this net (``skensemble.utils._threads``)."""
        self._fit_state = FitState(self)
        try:
            with fit_threads(self._work_per_step(X)):
                return super().fit_loop(X, y, **fit_params)
        finally:
            self.__dict__.pop("_fit_state", None)

    def __getstate__(self):
        # a net pickled during its fit (skorch's Checkpoint(f_pickle=...)) leaves the fit's state behind
        state = super().__getstate__()
        state.pop("_fit_state", None)
        return state

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch: the same history rows and hook calls, without the per-batch lookups.

        The batch row that skorch's ``on_batch_begin`` opens with
        ``history.new_batch()`` is appended directly, and only the hooks that
        do something are called (gathered once per fit in ``FitState``).
        """
        state = self.__dict__.get("_fit_state")
        if iterator is None or state is None:
            return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        rows = EpochBatches(self, state, prefix, training)
        for batch in iterator:
            rows.begin(batch)
            step = step_fn(batch, **fit_params)
            rows.end(batch, step, get_len(batch[0]) if isinstance(batch, (tuple, list)) else get_len(batch))
        rows.close()

    def _work_per_step(self, X):
        """Multiply-adds of a training batch (for the thread choice): counted on one row, or the weights."""
        macs = None
        if isinstance(X, (np.ndarray, torch.Tensor)) and len(X):
            row = X[:1].to(self.device) if torch.is_tensor(X) else torch.as_tensor(
                np.array(X[:1]), device=self.device)  # a copy: X may be a read-only memmap
            macs = multiply_adds_per_row(self.module_, row)
        if macs is None:
            macs = sum(p.numel() for p in self.module_.parameters())
        return macs * self.batch_size

    def _set_training(self, training=True):
        state = self.__dict__.get("_fit_state")
        if state is not None:  # during a fit: the modules gathered once
            for module, parts in state.modules:
                if any(m.training != training or custom for m, custom in parts):
                    module.train(training)
            return
        for name in module_names(self):
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                    m.training != training or _custom_train(type(m)) for m in module.modules()):
                module.train(training)

    def notify(self, method_name, **cb_kwargs):
        getattr(self, method_name)(self, **cb_kwargs)
        for _, cb in self.callbacks_:
            if _overrides(type(cb), method_name):
                getattr(cb, method_name)(self, **cb_kwargs)

    def train_step(self, batch, **fit_params):
        """One optimizer step; without a closure for optimizers that take none.

        ``torch.optim``'s optimizers but LBFGS evaluate no closure, so the
        gradients are computed first and the optimizer stepped after, which
        is what skorch's closure does for them; LBFGS, a user's own class, several
        optimizers, a callback on ``on_grad_computed`` or loss scaling take
        skorch's own path (decided once per fit, in ``FitState``).
        """
        state = self.__dict__.get("_fit_state")
        if not (state.closure_free if state is not None else _closure_free(self)):
            return super().train_step(batch, **fit_params)
        for group in self.optimizer_.param_groups:  # what zero_grad(set_to_none=True) does
            for param in group["params"]:
                param.grad = None
        step = self._closed_form_step(batch, fit_params) or self.train_step_single(batch, **fit_params)
        step_optimizer(self, None)
        return step

    def _closed_form_step(self, batch, fit_params):
        """``train_step_single`` with the gradients written out (``_closed_form``), or ``None``."""
        state = self.__dict__.get("_fit_state")
        if state is None or state.closed_form is None or fit_params:
            return None
        set_training(self, True)
        Xi, yi = unpack_data(batch)
        result = state.closed_form.step(to_tensor(Xi, device=self.device), to_tensor(yi, device=self.device))
        if result is None:
            return None
        loss, y_pred = result
        return {"loss": loss, "y_pred": y_pred}


def steps_without_closure(optimizer_class):
    """Whether one ``step()`` of ``optimizer_class`` uses the gradients already computed and no closure.

    Every optimizer of ``torch.optim`` but LBFGS, which evaluates the loss
    again inside its step; a user's own class may need its closure, so it
    takes skorch's path.
    """
    return (isinstance(optimizer_class, type) and issubclass(optimizer_class, torch.optim.Optimizer)
            and (optimizer_class.__module__ + ".").startswith("torch.optim.")
            and optimizer_class is not torch.optim.LBFGS)


def _closure_free(net):
    """Whether ``net``'s step may compute the gradients, then step its one optimizer without a closure."""
    return (steps_without_closure(type(net.optimizer_)) and optimizer_names(net) == ["optimizer"]
            and not getattr(net, "_scales_loss", False)
            and not any(_overrides(type(cb), "on_grad_computed") for _, cb in net.callbacks_))


class EpochBatches:
    """One epoch's batches in a net's history, as skorch's ``run_single_epoch`` writes them, and their hooks.

    ``begin`` opens the batch row (what skorch's own ``on_batch_begin``
    does) and calls the hooks that do something (``state``: a
    :class:`FitState`); ``end`` records the step's loss and the batch size
    under skorch's keys and calls the ``on_batch_end`` hooks; ``close``
    records the batch count.  The nets' epoch and the fused members' (one
    per member, ``skensemble.ensemble._fused``) both write through it.
    """

    def __init__(self, net, state, prefix="train", training=True):
        self.net, self.state, self.training, self.prefix = net, state, training, prefix
        self.rows = net.history[-1]["batches"]
        self.loss_key, self.size_key = prefix + "_loss", prefix + "_batch_size"
        self.count = 0

    def begin(self, batch):
        if self.state.opens_batch_rows:
            self.rows.append({})
        for hook in self.state.batch_begin:
            hook(self.net, batch=batch, training=self.training)

    def end(self, batch, step, size):
        row = self.rows[-1]  # the row opened by begin or by the net's own on_batch_begin
        row[self.loss_key] = step["loss"].item()
        row[self.size_key] = size
        for hook in self.state.batch_end:
            hook(self.net, batch=batch, training=self.training, **step)
        self.count += 1

    def close(self):
        self.net.history.record(self.prefix + "_batch_count", self.count)


class FitState:
    """What a fit's batches need, gathered once when the fit starts.

    ``batch_begin``/``batch_end``: the bound hooks that do something (the
    net's own when a subclass overrides skorch's, then the callbacks that
    override the hook, in skorch's order), and ``grad_computed`` likewise
    (fused members call them; a net's own step calls skorch's
    ``notify``); ``opens_batch_rows``: whether the
    net's ``on_batch_begin`` is skorch's, which only opens the history row;
    ``modules``: each module and criterion with its submodules (and whether
    their class has its own ``train()``); ``closure_free``: whether the
    lean step applies (:func:`_closure_free`); ``closed_form``: the
    :class:`ClosedFormMLP` step when it does and the net is a plain MLP it
    covers.
    """

    def __init__(self, net):
        own_begin = _net_overrides(type(net), "on_batch_begin")
        self.opens_batch_rows = not own_begin
        self.batch_begin = self._hooks(net, "on_batch_begin", own_begin)
        self.batch_end = self._hooks(net, "on_batch_end", _net_overrides(type(net), "on_batch_end"))
        self.grad_computed = self._hooks(net, "on_grad_computed", _net_overrides(type(net), "on_grad_computed"))
        self.modules = [
            (module, [(m, _custom_train(type(m))) for m in module.modules()])
            for module in (getattr(net, name + "_") for name in module_names(net))
            if isinstance(module, torch.nn.Module)
        ]
        self.closure_free = _closure_free(net)
        self.closed_form = (ClosedFormMLP.plan(net)
                            if self.closure_free and type(net) in _CLOSED_FORM_NETS else None)

    @staticmethod
    def _hooks(net, hook, own):
        hooks = [getattr(net, hook)] if own else []
        return hooks + [getattr(cb, hook) for _, cb in net.callbacks_ if _overrides(type(cb), hook)]


def _net_overrides(cls, hook):
    return getattr(cls, hook) is not getattr(NeuralNet, hook)


def _weighted_accuracy(net, X, y):
    """Validation accuracy weighted by the weight column of packed targets (see :func:`pack_sample_weight`)."""
    y = np.asarray(y)
    if not y[:, -1].sum() > 0:  # every validation row has weight 0: no accuracy to speak of
        return float("nan")
    return float(np.average(net.predict(X) == y[:, 0], weights=y[:, -1]))


class SkorchClassifier(_LeanHooksMixin, _AmpMixin, _L1Mixin, _SampleWeightMixin, _EpochLoopMixin,
                       NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` with L1 penalty, sample weights and mixed precision."""

    @staticmethod
    def _target(y):
        return y[:, 0].long()


class SkorchRegressor(_LeanHooksMixin, _AmpMixin, _L1Mixin, _SampleWeightMixin, _EpochLoopMixin,
                      NeuralNetRegressor):
    """skorch ``NeuralNetRegressor`` with L1 penalty, sample weights and mixed precision."""

    @staticmethod
    def _target(y):
        return y


# the nets whose training step is exactly skorch's (no user override): the closed form may replace it
_CLOSED_FORM_NETS = (SkorchClassifier, SkorchRegressor)
