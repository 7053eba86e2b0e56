"""Fused training: K MLP nets of one architecture trained as one batched module.

K small fits are overhead-bound: each step runs a handful of tiny kernels.
Stacking the members' weights (``(K, n_out, n_in)`` per layer: member k's
slice is its ``nn.Linear`` weight) turns every step of the K fits into one
step of batched matrix products, so the kernels are K times larger and the
per-step cost is paid once.

On the CPU the members are those of K separate fits bit for bit: each
member starts from the weights its own fit would draw (its seed), sees its
own shuffled batches and dropout masks (drawn from a generator seeded as
its own fit's, ``skensemble.nets._engine``); the loss of the stack is the
sum of the members' mean losses, so that each member's gradients are those
of its own fit, computed with the same arithmetic (batched products only
where they equal the member's own, ``_batched``); and the optimizer (any
``torch.optim`` class but LBFGS, with the arguments the member's own fit
gives it) steps aliases of each member's slices (tensors of the member's
own shapes), or, for Adam, AdamW, SGD and RMSprop (element by element),
the stacked tensors where that rounds every element as the member's own
step does.  On CUDA the products are always batched (the same
statistically, not bit for bit).  Nets whose activations have no written
gradient train through autograd, equal to separate fits up to float
rounding.  The fitted members are ordinary fitted nets: their weights,
optimizer state and epoch history are written back to each, and their
callbacks see one training each (``training_session``).
"""

import contextlib
import copy
import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from skorch.callbacks import GradientNormClipping, LRScheduler
from torch.nn import functional as F

from .._compat.torch import mark_stepped
from ..nets import MLPNetClassifier, MLPNetRegressor
from ..nets._base import OPTIMIZERS
from ..nets._closed_form import activation_functions, dropout_mask, per_sample_loss_and_grad
from ..nets._loader import batch_bounds
from ..nets._skorch import EpochBatches, FitState, NonFiniteLossError, steps_without_closure
from ..nets._engine import training_session
from ..nets._epochs import run_epochs
from ..utils._random import make_generator, torch_seed
from ..utils._threads import fit_threads
from . import _batched as batched

FUSABLE = (MLPNetClassifier, MLPNetRegressor)
# parameters that may differ between fused members (each member keeps its own)
_PER_MEMBER = {"random_state", "verbose"}
# optimizers whose step acts element by element: one step of a stack of the members' tensors can equal the
# members' own steps (``_batched.stacked_step_is_exact``); every other optimizer steps each member's tensors
_STACKABLE = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop)
# callbacks fused members keep: a learning-rate schedule (each member's LRScheduler steps its own optimizer's
# settings, which the fused optimizer follows) and gradient clipping (each member's on_grad_computed clips its
# own gradients, views of the stack's); anything else (scoring, checkpoints) needs a net of its own
FUSABLE_CALLBACKS = (LRScheduler, GradientNormClipping)


def _optimizer_class(estimator):
    optimizer = estimator.optimizer
    return OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer


def optimizer_reason(estimator):
    """Why the members' optimizer cannot step fused members, or None.

    Fused members are stepped as tensors of their own shapes (or as stacks
    where that rounds identically), so any optimizer that steps each tensor
    from its own gradient works: every ``torch.optim`` class but LBFGS,
    whose step re-evaluates the loss of all parameters together.  A user's
    own optimizer class is not known to act per tensor.
    """
    cls = _optimizer_class(estimator)
    name = getattr(cls, "__name__", repr(cls))
    if cls is torch.optim.LBFGS:
        return (f"the optimizer {name} evaluates the loss of all parameters inside its step (a closure), "
                "which cannot be shared by members")
    if not steps_without_closure(cls):
        return f"the optimizer {name} is not one of torch.optim's (it may need a closure or mix tensors)"
    return None


def fusable_reason(estimator):
    """Why ``estimator`` cannot be trained fused, or None when it can."""
    if type(estimator) not in FUSABLE:
        return f"{type(estimator).__name__} is not an MLPNetClassifier or MLPNetRegressor"
    p = estimator.get_params(deep=False)
    others = _other_callbacks(p["callbacks"])
    checks = [
        (p["early_stopping"], "early_stopping=True (each member would hold out its own validation rows)"),
        (p["batch_norm"], "batch_norm=True"),
        (p["num_embeddings"] is not None, f"num_embeddings={p['num_embeddings']!r}"),
        (p["amp"] is not False, "amp is on"),
        (others, f"callbacks other than {_names(FUSABLE_CALLBACKS)} are set ({_names(type(cb) for cb in others)})"),
        (p["net_params"], "net_params are set"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    return optimizer_reason(estimator)


def _callbacks(callbacks):
    """The callback objects of a ``callbacks`` parameter (a list of callbacks or ``(name, callback)`` pairs)."""
    return [entry[1] if isinstance(entry, tuple) else entry for entry in callbacks or ()]


def _other_callbacks(callbacks):
    return [cb for cb in _callbacks(callbacks) if not isinstance(cb, FUSABLE_CALLBACKS)]


def _names(classes):
    return ", ".join(cls.__name__ for cls in classes)


def _callbacks_key(callbacks):
    """Equal for equal callback lists (their names, classes and parameters; a callback's repr is its address)."""
    return tuple((entry[0] if isinstance(entry, tuple) else None, type(cb).__name__,
                  tuple((k, repr(v)) for k, v in sorted(cb.get_params().items())))
                 for entry, cb in zip(callbacks or (), _callbacks(callbacks)))


def warn_if_optimizer_prevents_fusion(estimators):
    """Warn when two or more MLP members could train fused but for their optimizer (they train one by one)."""
    reasons = []
    for estimator in (e for e in estimators if type(e) in FUSABLE):
        reason = optimizer_reason(estimator)
        if reason is not None and fusable_reason(estimator) == reason:  # the optimizer is all that stands
            reasons.append(reason)
    if len(reasons) > 1:
        warnings.warn(f"{len(reasons)} MLP members train one by one, not fused: {reasons[0]}.", UserWarning,
                      stacklevel=3)


def fusion_key(estimator):
    """Members with equal keys (and no reason against) can be trained together."""
    if fusable_reason(estimator) is not None:
        return None
    params = estimator.get_params(deep=False)
    return (type(estimator),) + tuple(
        (k, _callbacks_key(v) if k == "callbacks" else repr(v)) for k, v in sorted(params.items())
        if k not in _PER_MEMBER)


def fusion_groups(estimators):
    """Indices of the members that can be trained together, in groups of two or more."""
    groups = {}
    for i, est in enumerate(estimators):
        key = fusion_key(est)
        if key is not None:
            groups.setdefault(key, []).append(i)
    return [idx for idx in groups.values() if len(idx) > 1]


class _Member:
    """One member's fit state: its validated targets, its skorch net and its random generators.

    ``like``, another member of the group, lends its validated data: members
    of one group differ only in their seeds and verbosity, so what one
    member's validation sets (feature counts and names, a fitted table
    encoder) is every member's, and is copied instead of computed again.
    """

    def __init__(self, estimator, X, y, like=None):
        if like is None:
            self.validation = _attributes_set_by(estimator, lambda: estimator._validate_fit_data(X, y))
            X32, y_raw = self.validation.result
        else:
            self.validation = like.validation
            self.validation.apply(estimator)
            X32, y_raw = like.X, like.y_raw
        self.y_raw = y_raw
        net, y_enc = estimator._build(X32, y_raw)
        with torch_seed(estimator._seed, estimator.device_):
            net.initialize()  # the weights its own fit starts from
        self.estimator, self.net, self.X, self.y = estimator, net, X32, y_enc
        # the generator its own fit's shuffles and dropout masks draw from (skensemble.nets._engine)
        self.generator = make_generator(estimator._seed, net.device)


@dataclass(frozen=True)
class _Validation:
    """The attributes a validation call set on (``added``) and removed from (``removed``) an estimator,
    and what it returned."""

    added: dict
    removed: frozenset
    result: tuple

    def apply(self, estimator):
        """Give ``estimator`` the same attributes (copies, so that no two members share a fitted encoder)."""
        for name in self.removed:
            estimator.__dict__.pop(name, None)
        for name, value in self.added.items():
            setattr(estimator, name, copy.deepcopy(value))


def _attributes_set_by(estimator, call):
    before = dict(vars(estimator))
    result = call()
    after = vars(estimator)
    added = {k: v for k, v in after.items() if k not in before or before[k] is not v}
    return _Validation(added, frozenset(before.keys() - after.keys()), result)


@dataclass(slots=True)
class _Block:
    """What the backward pass of one stacked linear layer needs: its input, the activation after it (module,
    ``(forward, derivative)`` pair, pre-activation and output) and the dropout noise (``None`` where absent)."""

    inputs: torch.Tensor
    activation: nn.Module = None
    functions: tuple = None
    pre: torch.Tensor = None
    out: torch.Tensor = None
    noise: torch.Tensor = None


class StackedMLP(nn.Module):
    """The members' ``MLPModule`` layers stacked: inputs ``(K, B, n_in)``, outputs ``(K, B, n_out)``."""

    def __init__(self, modules):
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.plan = []  # ("linear", i) | ("act", module) | ("dropout", p)
        for position, layer in enumerate(modules[0].layers):
            if isinstance(layer, nn.Linear):
                same = [m.layers[position] for m in modules]
                self.weights.append(nn.Parameter(torch.stack([s.weight.detach() for s in same])))
                self.biases.append(nn.Parameter(torch.stack([s.bias.detach() for s in same]).unsqueeze(1)))
                self.plan.append(("linear", len(self.weights) - 1))
            elif isinstance(layer, nn.Dropout):
                self.plan.append(("dropout", layer.p))
            else:
                self.plan.append(("act", layer))

    def forward(self, X, generators):
        for kind, what in self.plan:
            if kind == "linear":
                X = torch.baddbmm(self.biases[what], X, self.weights[what].transpose(1, 2))
            elif kind == "act":
                X = what(X)
            elif what > 0 and self.training:
                X = X * _dropout_noise(X, what, generators)
        return X

    @property
    def has_closed_form(self):
        """Whether every activation has a written gradient (``skensemble.nets._closed_form``)."""
        return all(activation_functions(what) is not None for kind, what in self.plan if kind == "act")

    def closed_form_step(self, X, y, generators, classifier, l1):
        """Forward pass, each member's mean loss ``(K,)`` and the gradients of their sum, without autograd.

        The same arithmetic as the nets' closed-form step, batched over the
        members (``skensemble.ensemble._batched``), and the same dropout draws
        as :meth:`forward`.  The gradients are written into the ``.grad``
        tensors already there, which :meth:`member_parameters`' aliases view.
        """
        weights, biases = tuple(self.weights), tuple(self.biases)  # indexing a ParameterList costs 5 us a call
        with torch.no_grad():
            blocks = []  # one _Block per linear layer
            for kind, what in self.plan:
                if kind == "linear":
                    blocks.append(_Block(X))
                    X = batched.linear(X, weights[what], biases[what])
                elif kind == "act":
                    block = blocks[-1]
                    block.activation, block.functions, block.pre = what, activation_functions(what), X
                    X = block.functions[0](X, what)
                    block.out = X
                elif what > 0 and self.training:
                    blocks[-1].noise = _dropout_noise(X, what, generators)
                    X = X * blocks[-1].noise
            losses, grad = _losses_and_grad(X, y, classifier)
            for i in range(len(blocks) - 1, -1, -1):
                block = blocks[i]
                if block.noise is not None:
                    grad = grad * block.noise
                if block.functions is not None:
                    grad = block.functions[1](grad, block.out, block.pre, block.activation)
                batched.weight_grad(grad, block.inputs, out=_grad_buffer(weights[i]))
                torch.sum(grad, 1, keepdim=True, out=_grad_buffer(biases[i]))
                if i:
                    grad = batched.input_grad(grad, weights[i])
            if l1:
                for W in weights:
                    W.grad.add_(torch.sign(W).mul_(l1))
        return losses

    def member_parameters(self):
        """Per member, leaf tensors that alias its slices of the stack, in its module's parameter order.

        Gradients are shared (:meth:`share_grads`), so an optimizer may step
        these aliases (the stack sees the update): each member's weights are
        then stepped as tensors of their own shape, as in its own fit.
        """
        views = [[nn.Parameter(t.data[k].view(shape), requires_grad=False)
                  for t, shape in self._member_shapes()] for k in range(len(self.weights[0]))]
        for t in self.parameters():
            _grad_buffer(t)
        self.share_grads(views)
        return views

    def optimizer_parameters(self, member_parameters, optimizer_class):
        """The tensors one optimizer steps for all members: each stacked tensor whose step is each member's
        own step exactly (an element-wise optimizer, ``_batched.stacked_step_is_exact``: whole ones, a few
        kernels for the K members), else the members' aliases of it (any other optimizer: Adagrad, NAdam,
        Adafactor's per-tensor factors and norms see each member's own tensors)."""
        stackable = optimizer_class in _STACKABLE
        params = []
        for i, (t, shape) in enumerate(self._member_shapes()):
            if stackable and batched.stacked_step_is_exact(shape, t.device):
                params.append(t)
            else:
                params.extend(views[i] for views in member_parameters)
        return params

    def _member_shapes(self):
        for W, b in zip(self.weights, self.biases):
            yield W, W.shape[1:]
            yield b, b.shape[2:]

    def share_grads(self, member_parameters):
        """Point each alias's ``.grad`` at its slice of the stack's gradients (after autograd set new ones)."""
        for k, params in enumerate(member_parameters):
            for p, (t, shape) in zip(params, self._member_shapes()):
                p.grad = t.grad[k].view(shape)

    def write_back(self, modules):
        """Copy the trained weights into the members' modules."""
        with torch.no_grad():
            linears = [[layer for layer in m.layers if isinstance(layer, nn.Linear)] for m in modules]
            for k, layers in enumerate(linears):
                for W, b, layer in zip(self.weights, self.biases, layers):
                    layer.weight.copy_(W[k])
                    layer.bias.copy_(b[k, 0])


def _grad_buffer(param):
    if param.grad is None:
        param.grad = torch.empty_like(param)
    return param.grad


def _dropout_noise(X, p, generators):
    """Each member's dropout mask from its own generator, drawn as ``F.dropout`` draws it, scaled by 1/(1-p)."""
    return torch.stack([dropout_mask(X[k], p, g) for k, g in enumerate(generators)])


def _losses_and_grad(out, y, classifier):
    """Each member's mean loss (K,) and the gradient of their sum with respect to ``out`` (K, B, C)."""
    per_sample, grad = per_sample_loss_and_grad(out, y, "cross_entropy" if classifier else "squared_error")
    return per_sample.mean(1), grad.div_(out.shape[1])


def _member_loss(out, y, classifier):
    """Each member's mean loss over its batch, shape (K,)."""
    if classifier:
        K, B, C = out.shape
        return F.cross_entropy(out.reshape(K * B, C), y.reshape(K * B), reduction="none").view(K, B).mean(1)
    return ((out - y) ** 2).mean(dim=(1, 2))


def _move_optimizer_state(optimizer, stacked, member_parameters, members):
    """Give each member's optimizer the state the fused optimizer kept for its weights."""
    for k, (params, member) in enumerate(zip(member_parameters, members)):
        own = member.net.optimizer_
        for p, (t, shape), dst in zip(params, stacked._member_shapes(), member.net.module_.parameters()):
            if optimizer.state.get(p):
                own.state[dst] = optimizer.state[p]
            elif optimizer.state.get(t):  # stepped as a stack: the member's slice of each state tensor
                own.state[dst] = {name: value[k].view(shape).clone() if _is_stacked(value, t) else _copy(value)
                                  for name, value in optimizer.state[t].items()}


def _is_stacked(value, t):
    return isinstance(value, torch.Tensor) and value.shape == t.shape


def _copy(value):
    return value.clone() if isinstance(value, torch.Tensor) else value


def fused_fit(estimators, X, y):
    """Fit ``estimators`` (fusable, with equal fusion keys) on ``(X, y)`` together; returns them fitted."""
    members = [_Member(estimators[0], X, y)]
    members += [_Member(est, X, y, like=members[0]) for est in estimators[1:]]
    net = members[0].net
    work = sum(p.numel() for p in net.module_.parameters()) * net.batch_size * len(members)
    with fit_threads(work), contextlib.ExitStack() as sessions:
        for m in members:  # each member's callbacks see a training of its own
            sessions.enter_context(training_session(m.net, m.X, m.y, m.estimator._seed))
        return _train(members)


def _fused_optimizer(net, stacked, views):
    """The members' optimizer class with the arguments the first member's own fit passed it (lr, weight decay,
    momentum, ``optimizer__*``), stepping the stack's tensors or the members' aliases of them."""
    cls = type(net.optimizer_)
    _, kwargs = net.get_params_for_optimizer("optimizer", net.module_.named_parameters())
    kwargs.setdefault("lr", net.lr)
    return cls(stacked.optimizer_parameters(views, cls), **kwargs)


def _train(members):
    """Train the members fused, one stacked module; each member's net sees skorch's hooks and history rows.

    The epochs run in skensemble's one loop (``run_epochs``: each member's
    ``on_epoch_begin``, which opens its history row, and ``on_epoch_end``,
    where skorch's callbacks write ``dur`` and ``train_loss`` and print the
    row of a ``verbose`` member); ``training_session`` (``fused_fit``) calls
    ``on_train_begin`` and ``on_train_end``.  Per batch, per member as its
    own fit would: ``on_batch_begin`` (a new batch row), ``on_grad_computed``
    with its own gradients (views of the stack's, which
    ``GradientNormClipping`` clips in place), its loss and batch size
    recorded, ``on_batch_end`` (an ``LRScheduler`` stepping per batch).  The
    products of all members run at once; the one optimizer follows the
    settings the members' schedules give their own optimizers.
    """
    first = members[0]
    device = torch.device(first.net.device)
    classifier = isinstance(first.estimator, MLPNetClassifier)
    stacked = StackedMLP([m.net.module_ for m in members]).to(device)
    views = stacked.member_parameters()
    optimizer = _fused_optimizer(first.net, stacked, views)
    Xt = torch.as_tensor(first.X, device=device)
    Ys = torch.stack([torch.as_tensor(m.y, device=device) for m in members])
    steps = _MemberSteps(members, views, optimizer)
    bounds, K = _batch_bounds(first.net, len(Xt)), len(members)
    generators = [m.generator for m in members]
    stacked.train()

    def epoch(index):
        epochs = [EpochBatches(m.net, state) for m, state in zip(members, steps.states)]
        orders = torch.stack([torch.randperm(len(Xt), generator=g, device=g.device) for g in generators]).to(device)
        for lo, hi in bounds:
            idx = orders[:, lo:hi]
            rows = Xt.index_select(0, idx.reshape(-1)).view(K, hi - lo, -1)  # each member's batch
            targets = torch.gather(Ys, 1, idx) if classifier else Ys[torch.arange(K, device=device)[:, None], idx]
            batches = list(zip(rows, targets))
            for member_epoch, batch in zip(epochs, batches):
                member_epoch.begin(batch)
            per_member = _fused_grads(stacked, views, rows, targets, generators, classifier, first.estimator.l1)
            steps.step(batches)
            _check_finite(per_member, index)
            for member_epoch, batch, loss in zip(epochs, batches, per_member.detach()):
                member_epoch.end(batch, {"loss": loss, "y_pred": None}, hi - lo)
        for member_epoch in epochs:
            member_epoch.close()

    run_epochs([m.net for m in members], first.net.max_epochs, epoch, dataset_train=None, dataset_valid=None)
    stacked.write_back([m.net.module_ for m in members])
    _move_optimizer_state(optimizer, stacked, views, members)
    for m in members:
        m.estimator.net_ = m.net
    return [m.estimator for m in members]


class _MemberSteps:
    """The fused optimizer's step, with what each member's own step would have around it.

    Before the step, each member's ``on_grad_computed`` hooks see its own
    named gradients (views of the stack's: ``GradientNormClipping`` clips
    them in place); the optimizer then takes the settings (learning rate,
    momentum) the members' own optimizers have, which their
    ``LRScheduler`` callbacks set.  Members of one fusion group have equal
    callbacks, so their schedules agree; a disagreement is refused.
    """

    def __init__(self, members, views, optimizer):
        self.members, self.views, self.optimizer = members, views, optimizer
        self.states = [FitState(m.net) for m in members]  # each member's hooks that do something, gathered once
        self.names = [name for name, _ in members[0].net.module_.named_parameters()]
        self.grad_hooks = [state.grad_computed for state in self.states]
        self.follows = any(isinstance(cb, LRScheduler) for _, cb in members[0].net.callbacks_)

    def step(self, batches):
        for member, hooks, params, batch in zip(self.members, self.grad_hooks, self.views, batches):
            for hook in hooks:
                hook(member.net, named_parameters=list(zip(self.names, params)), batch=batch)
        if self.follows:
            self._follow_schedules()
        self.optimizer.step()
        if self.follows:
            for member in self.members:  # their schedules step after this step, as after their own
                mark_stepped(member.net.optimizer_)

    def _follow_schedules(self):
        settings = [_settings(m.net.optimizer_) for m in self.members]
        if any(s != settings[0] for s in settings[1:]):
            raise RuntimeError("Fused members' learning-rate schedules disagree; fit them one by one.")
        for group in self.optimizer.param_groups:
            group.update({k: v for k, v in settings[0].items() if k in group})


def _settings(optimizer):
    """An optimizer's one parameter group's settings (what a schedule changes), without its tensors."""
    (group,) = optimizer.param_groups
    return {k: v for k, v in group.items() if k != "params"}


def _batch_bounds(net, n):
    """``(start, stop)`` of each training batch of ``n`` rows, as the net's loader makes them."""
    iterator = net.get_params_for("iterator_train")
    merge = iterator.get("merge_single_row", False) and n > net.batch_size and n % net.batch_size == 1
    return batch_bounds(n, net.batch_size, iterator.get("drop_last", False), merge)


def _fused_grads(stacked, views, rows, targets, generators, classifier, l1):
    """Every member's gradients, in the stack's ``.grad`` tensors (the views see them); their mean losses ``(K,)``."""
    if stacked.has_closed_form:
        return stacked.closed_form_step(rows, targets, generators, classifier, l1)
    stacked.zero_grad()
    per_member = _member_loss(stacked(rows, generators), targets, classifier)
    loss = per_member.sum()
    if l1:
        loss = loss + l1 * sum(W.abs().sum() for W in stacked.weights)
    loss.backward()
    stacked.share_grads(views)
    return per_member


def _check_finite(per_member, epoch):
    values = per_member.cpu().tolist()
    if not all(math.isfinite(v) for v in values):
        raise NonFiniteLossError(
            f"The training loss became {values} in epoch {epoch + 1} of a fused fit: the fit diverged. "
            "Lower lr, scale the inputs (e.g. StandardScaler) or add weight_decay.")
