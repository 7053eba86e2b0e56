"""The one training engine: every training of a skorch net in skensemble goes through :func:`train`.

A net's ``fit`` and ``partial_fit``, fine-tuning after a pruning cut,
distillation, transfer fine-tuning and continued training all call
:func:`train`; fused ensembles (``skensemble.ensemble._fused``) train K
members at once but open and close each member's training with
:func:`training_session`.  It keeps skorch's contract for callbacks:

* ``on_train_begin`` before the first epoch and ``on_train_end`` after the
  last, on every training (so ``EarlyStopping`` restarts its count and
  ``LRScheduler`` builds its schedule on the optimizer in use: a rebuilt
  optimizer is followed);
* a ``KeyboardInterrupt`` raised by a callback's own method (skorch's
  ``EarlyStopping`` stops that way) ends the training as skorch's ``fit``
  ends it, and ``on_train_end`` still runs (``EarlyStopping(load_best=True)``
  restores its best weights there).  A ``KeyboardInterrupt`` raised
  anywhere else -- a real Ctrl-C in a forward pass, also one inside the
  prediction a scoring callback makes -- ends the training the same way
  (``on_train_end`` runs) and then propagates: the program stops.

Randomness: the training draws its shuffles and skensemble's dropout
masks from a generator of its own, seeded with ``seed``
(:func:`skensemble.utils._random.fit_generator`), so concurrent fits in
threads draw exactly what they draw one after the other.  A module that may
draw from torch's global generator (any module that is not one of
skensemble's, or holds torch's own random layers) trains inside
:func:`~skensemble.utils._random.torch_seed` instead, which serialises such
trainings across threads (reproducible, one at a time).
"""

import contextlib

import numpy as np

from skorch.callbacks import Callback, EpochScoring, LRScheduler
from torch import nn

from ..utils._random import fit_generator, torch_seed
from ._modules import SeededDropout
from ._skorch import _weighted_accuracy, pack_sample_weight

# torch's layers that draw from the global generator when training
_GLOBAL_RANDOM_LAYERS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                         nn.FeatureAlphaDropout, nn.RReLU)


def draws_only_from_fit_generator(module):
    """Whether ``module`` draws its training randomness only from the fit's generator.

    True for skensemble's own modules (whose forward passes call no global
    random function) whose random layers are all :class:`SeededDropout`.
    A user's module may call ``torch.rand`` or ``F.dropout`` in ``forward``:
    it is never assumed to.
    """
    if not type(module).__module__.startswith("skensemble."):
        return False
    return not any(isinstance(m, _GLOBAL_RANDOM_LAYERS) and not isinstance(m, SeededDropout)
                   for m in module.modules())


def raised_by_callback(exc):
    """Whether ``exc`` was raised by a skorch callback's own method (``EarlyStopping``'s stop).

    The frame that raised it (the innermost of its traceback) must be a
    callback's method: a Ctrl-C that lands in the prediction a scoring
    callback makes (the innermost frame then is torch's or skorch's) is a
    real interrupt, not a callback's stop.
    """
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return isinstance(tb.tb_frame.f_locals.get("self"), Callback)


def _begin(net, X, y, restart_schedules):
    """``on_train_begin``; learning-rate schedules bind to the optimizer in use, from its start if restarted.

    skorch's ``LRScheduler`` resumes its schedule at the epoch count of the
    history (``last_epoch``), which a training that continues the net's
    clock wants; a training on a rebuilt optimizer (a new phase, such as
    fine-tuning after a cut) starts the schedule over at the net's ``lr``.
    """
    restarted = []
    if restart_schedules:
        restarted = [cb for _, cb in net.callbacks_ if isinstance(cb, LRScheduler) and "last_epoch" not in vars(cb)]
    optimizer = getattr(net, "optimizer_", None)
    for group in optimizer.param_groups if optimizer is not None else []:
        group.setdefault("initial_lr", group["lr"])  # an optimizer built outside skorch can resume a schedule
    for cb in restarted:
        cb.last_epoch = -1  # an LRScheduler keyword argument: read by skorch when it builds the schedule
    try:
        net.notify("on_train_begin", X=X, y=y)
    finally:
        for cb in restarted:
            del cb.last_epoch


@contextlib.contextmanager
def training_session(net, X, y, seed, *, restart_schedules=False):
    """Open one training of ``net``: its generators, ``on_train_begin`` ... ``on_train_end``.

    The block runs the epochs.  A callback's ``KeyboardInterrupt`` inside
    the block ends it quietly (see the module's docstring).
    """
    module = getattr(net, "module_", None)
    own_rng = module is not None and draws_only_from_fit_generator(module)
    global_rng = contextlib.nullcontext() if own_rng else torch_seed(seed, net.device)
    with fit_generator(seed, net.device), global_rng:
        _begin(net, X, y, restart_schedules)
        interrupt = None
        try:
            yield
        except KeyboardInterrupt as exc:
            if not raised_by_callback(exc):
                interrupt = exc  # a real Ctrl-C: the training ends as skorch ends it, then the program stops
        net.notify("on_train_end", X=X, y=y)
        if module is not None:
            net.module_.eval()  # as skorch leaves it after a validation pass: predictions toggle nothing
        if interrupt is not None:
            raise interrupt


@contextlib.contextmanager
def swapped_callback(net, name, callback):
    """Run the block with the net's callback named ``name`` (if any) replaced by ``callback``, initialized."""
    saved = list(net.callbacks_)
    net.callbacks_ = [(n, callback.initialize() if n == name else cb) for n, cb in saved]
    try:
        yield
    finally:
        net.callbacks_ = saved


@contextlib.contextmanager
def _weighted(net, y, sample_weight):
    """Train skensemble's net on ``y`` weighted by ``sample_weight``; yields the targets to train on.

    The net's loss becomes the weighted mean of per-sample losses (as in a
    weighted ``fit``): its criterion reduces nothing for the block, the
    targets carry the weights as a last column, and a classifier's
    validation accuracy is weighted.  Everything is restored after.
    """
    if sample_weight is None or np.all(sample_weight == sample_weight[0]):
        yield y  # equal weights are the unweighted training, exactly (not just to float rounding)
        return
    if not hasattr(net, "sample_weighted"):
        raise TypeError(f"sample_weight: {type(net).__name__} is not one of skensemble's nets, whose loss takes "
                        "sample weights; fit it without them.")
    saved = (net.sample_weighted, net.criterion_.reduction)
    net.sample_weighted, net.criterion_.reduction = True, "none"
    accuracy = EpochScoring(_weighted_accuracy, name="valid_acc", lower_is_better=False)
    try:
        with swapped_callback(net, "valid_acc", accuracy):
            yield pack_sample_weight(y, sample_weight)
    finally:
        net.sample_weighted, net.criterion_.reduction = saved


def train(net, X, y=None, *, seed, epochs=None, rebuild_optimizer=False, sample_weight=None, **fit_params):
    """Train the initialized skorch ``net`` on ``(X, y)`` for ``epochs`` (default: its ``max_epochs``).

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialized net (its module holds the weights to start from).
    X, y : array-like
        Inputs as the net reads them and encoded targets.
    seed : int
        Seed of this training's shuffles and dropout masks.
    epochs : int or None
        Epochs to train; ``None`` trains ``net.max_epochs``.  Early stopping
        may end the training sooner.
    rebuild_optimizer : bool
        Start from a fresh optimizer at the net's ``lr`` (after a cut the
        parameters changed; a continued training starts its own schedule).
        Callbacks that hold the optimizer (``LRScheduler``) follow it, as
        they bind in ``on_train_begin``.
    sample_weight : array-like of shape (n_samples,) or None
        Train on the weighted mean of per-sample losses (skensemble's nets only).
    **fit_params
        Passed to the module's ``forward``, as skorch does.

    Returns
    -------
    net : skorch.NeuralNet
        The trained net.
    """
    if not net.initialized_:
        raise RuntimeError("skensemble's training engine trains initialized nets; initialize it first.")
    if rebuild_optimizer:
        net.initialize_optimizer()
    if epochs is not None and epochs <= 0:
        return net
    with _weighted(net, y, sample_weight) as targets, \
            training_session(net, X, targets, seed, restart_schedules=rebuild_optimizer):
        net.fit_loop(X, targets, epochs=epochs, **fit_params)
    return net
