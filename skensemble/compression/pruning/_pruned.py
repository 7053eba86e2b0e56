"""PrunedClassifier and PrunedRegressor: prune a net, physically or by weights, and fine-tune it."""

import numbers
import warnings

import numpy as np
import torch

from ...persistence import register
from ...utils._access import get_net, get_net_estimator, net_input
from ..._compat.sklearn import fit_context, HasMethods, Interval, StrOptions, check_sample_weight
from ...utils._random import draw_seed
from sklearn.frozen import FrozenEstimator
from ...meta._base import (
    BaseNetWrapper,
    NetWrapperClassifierMixin,
    NetWrapperRegressorMixin,
    fit_or_copy,
    net_targets,
    train_epochs,
)
from ._importance import get_importance
from ._members import SELECTIONS, keep_members, member_loss, n_members, scoring_rows, select_members
from ._cuts import UnitCut, WeightCut
from ._pruner import fold_weight_masks
from ._schedule import sparsity_schedule
from ._surgery import StructuralPruningError, check_prunable, count_params, prunable_weights
from ._trimming import check_trimmable, find_blocks, trim

# rows of the training data on which skipping a block is scored
_TRIM_ROWS = 2048


class _BasePruned(BaseNetWrapper):
    """Parameters, fit and measurements of pruning, whatever the task."""

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "sparsity": [Interval(numbers.Real, 0, 1, closed="left")],
        "granularity": [StrOptions({"auto", "weight", "neuron", "layer", "member"})],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_members": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "member_selection": [StrOptions(set(SELECTIONS))],
        "scope": [StrOptions({"global", "layer"})],
        "importance": [StrOptions({"magnitude", "l2", "random"}), HasMethods(["weight_scores"])],
        "n_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "fine_tune_epochs": [Interval(numbers.Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "schedule": [StrOptions({"cubic", "linear"})],
        "round_to": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        sparsity=0.5,
        granularity="auto",
        n_layers=None,
        n_members=None,
        member_selection="greedy",
        scope="global",
        importance="magnitude",
        n_steps=1,
        fine_tune_epochs="auto",
        schedule="cubic",
        round_to=8,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.sparsity = sparsity
        self.granularity = granularity
        self.n_layers = n_layers
        self.n_members = n_members
        self.member_selection = member_selection
        self.scope = scope
        self.importance = importance
        self.n_steps = n_steps
        self.fine_tune_epochs = fine_tune_epochs
        self.schedule = schedule
        self.round_to = round_to
        self.random_state = random_state
        self.verbose = verbose

    @fit_context(prefer_skip_nested_validation=False)  # estimator is validated by its own fit
    def fit(self, X, y, sample_weight=None):
        """Fit (or copy) the net, prune it and fine-tune it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the net's fit (when ``estimator`` is not a fitted one)
            and of every fine-tuning: the weighted mean of per-sample losses.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        y = self._check_fit_input(X, y, "prunes")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        seed = draw_seed(self.random_state)
        if self.granularity == "member":  # refused before a fit where the unfitted net already tells
            self._check_members(self.estimator, found_only=True)
        estimator = fit_or_copy(self.estimator, X, y, sample_weight, owner=type(self).__name__)
        if self.granularity == "member":
            return self._fit_members(estimator, X, y, seed, sample_weight)
        self._check_prunable_layers(estimator)
        Xn, targets = net_input(estimator, X), net_targets(estimator, y)
        self.granularity_ = self.granularity
        if self.granularity == "layer":
            return self._fit_layers(estimator, Xn, targets, seed, sample_weight)
        module = get_net(estimator).module_
        n_dense = count_params(module)
        cutter = self._cutter(estimator, Xn, targets, seed)
        history = [self._prune_step(estimator, cutter, step, target, Xn, targets, seed, sample_weight)
                   for step, target in enumerate(sparsity_schedule(self.sparsity, self.n_steps, self.schedule))]
        fold_weight_masks(module)
        self.estimator_ = estimator
        self._set_target_attributes(estimator)
        self.sparsity_ = cutter.sparsity()
        self.n_params_ = count_params(module)
        self.n_nonzero_params_ = count_params(module, nonzero=True)
        self.n_params_dense_ = n_dense
        self.history_ = history
        return self

    def _check_prunable_layers(self, estimator):
        """A clear error for a module without the layers pruning scores and cuts."""
        module = get_net(estimator).module_
        if not prunable_weights(module):
            leaves = sorted({type(m).__name__ for m in module.modules() if next(m.children(), None) is None})
            raise ValueError(
                f"{type(self).__name__} cannot prune {type(estimator).__name__}: its module "
                f"{type(module).__name__} has no nn.Linear or nn.Conv layer, the layers pruning scores and cuts "
                f"(its layers: {leaves}). "
                "Distil it into a net that has them (DistilledClassifier/DistilledRegressor) or quantize it.")

    def _cutter(self, estimator, Xn, targets, seed):
        """How to cut: whole units where the module allows it (``"neuron"``, ``"auto"``), else weights."""
        net = get_net(estimator)
        importance = get_importance(self.importance, seed)
        if self.granularity in ("neuron", "auto"):
            example = torch.as_tensor(np.array(Xn[:2]), device=next(net.module_.parameters()).device)
            groups = self._structured_groups(net.module_, example)
            self.granularity_ = "weight" if groups is None else "neuron"
            if groups is not None:
                return UnitCut(net, importance, Xn, targets, self.scope, groups, example, self.round_to)
        return WeightCut(net, importance, Xn, targets, self.scope)

    def _prune_step(self, estimator, cutter, step, target, Xn, targets, seed, sample_weight):
        """One step of the schedule: cut to ``target``, fine-tune; its record for ``history_``."""
        net = get_net(estimator)
        cutter.cut(step, target)
        net.module_.zero_grad(set_to_none=True)
        n_before = len(net.history)
        # a fresh optimizer per step: the parameters changed (neurons) or their zeros must stay
        # untouched by old moments (weights); schedulers and early stopping start over with it
        train_epochs(estimator, Xn, targets, self._fine_tune_epochs(), seed + step + 1,
                     rebuild_optimizer=True, sample_weight=sample_weight)
        trained = len(net.history) > n_before
        record = {"step": step + 1, "target_sparsity": target, "sparsity": cutter.sparsity(),
                  "n_params": count_params(net.module_),
                  "train_loss": float(net.history[-1, "train_loss"]) if trained else None}
        if self.verbose:
            print(f"[{type(self).__name__}] step {record['step']}/{self.n_steps}: "
                  f"sparsity {record['sparsity']:.3f} (target {target:.3f}), "
                  f"{record['n_params']:,} parameters, train loss {record['train_loss']}")
        return record

    def _structured_groups(self, module, example):
        """The unit groups to cut; with ``"auto"``, ``None`` (weights instead) when the module has none, with a warning."""
        if self.granularity == "neuron":
            return check_prunable(module, example)
        try:
            return check_prunable(module, example)
        except StructuralPruningError as exc:
            warnings.warn(
                f"{type(self).__name__}(granularity='auto'): {exc} Pruning weights instead "
                "(zeros: the model keeps its size and speed); pass granularity='weight' to silence this.",
                UserWarning, stacklevel=3)
            return None

    def _fit_layers(self, estimator, Xn, targets, seed, sample_weight=None):
        """Layer trimming: skip the least important blocks step by step, fine-tuning after each step."""
        net = get_net(estimator)
        module = net.module_
        device = next(module.parameters()).device
        blocks = find_blocks(module, torch.as_tensor(Xn[:2], device=device))
        n_remove = self.n_layers if self.n_layers is not None else int(round(self.sparsity * len(blocks)))
        check_trimmable(module, blocks, n_remove)
        rows = np.random.RandomState(seed).permutation(len(Xn))[:_TRIM_ROWS]
        X_score = torch.as_tensor(Xn[rows], device=device)
        y_score = torch.as_tensor(targets[rows], device=device)
        n_dense = count_params(module)
        history, removed = [], []
        targets_per_step = sparsity_schedule(1.0, self.n_steps, self.schedule)
        for step, fraction in enumerate(targets_per_step):
            n_now = int(round(fraction * n_remove)) - len(removed)
            removed += trim(net, [b for b in blocks if b not in dict(removed)], n_now, X_score, y_score)
            n_before = len(net.history)
            train_epochs(estimator, Xn, targets, self._fine_tune_epochs(), seed + step + 1,
                         rebuild_optimizer=True, sample_weight=sample_weight)
            history.append({
                "step": step + 1,
                "removed_layers": [name for name, _ in removed],
                "n_params": count_params(module),
                "train_loss": (
                    float(net.history[-1, "train_loss"]) if len(net.history) > n_before else None
                ),
            })
        self.estimator_ = estimator
        self._set_target_attributes(estimator)
        self.removed_layers_ = [name for name, _ in removed]
        self.layer_loss_increase_ = {name: inc for name, inc in removed}
        self.sparsity_ = len(removed) / len(blocks)
        self.n_params_ = count_params(module)
        self.n_nonzero_params_ = count_params(module, nonzero=True)
        self.n_params_dense_ = n_dense
        self.history_ = history
        return self

    def _fine_tune_epochs(self):
        """``"auto"``: 5 epochs after each cut of weights, neurons or blocks; none after member selection.

        Member selection leaves every kept member as it was trained.  Measured
        on tables of ``bench_tabular.py`` (8 of 32 members, greedy, 2 splits,
        2026-12-06): with 5 more epochs the RMSE was 2.2% above the full
        TabM's on births and salaries, without them 1.5% below (one births
        split 9.6% worse with them); Titanic accuracy 78.66% with, 78.81% without.
        """
        if self.fine_tune_epochs != "auto":
            return self.fine_tune_epochs
        return 0 if self.granularity == "member" else 5

    def _check_members(self, estimator, found_only=False):
        """The members of the net inside ``estimator``; refuse a net without (``found_only``: only a net reached)."""
        k = n_members(estimator)
        if k is not None:
            return k
        net_estimator = get_net_estimator(estimator)
        if found_only and net_estimator is None:
            return None
        inner = estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator
        raise ValueError(
            f"{type(self).__name__}(granularity='member') cannot prune {type(inner).__name__}: "
            f"its net {type(net_estimator or inner).__name__} has no ensemble members to select "
            "(TabMClassifier and TabMRegressor have). Use granularity='neuron', 'weight' or 'layer'.")

    def _fit_members(self, estimator, X, y, seed, sample_weight=None):
        """Member pruning: keep the best ``n_members`` members, scored on held-out rows, then fine-tune."""
        k = self._check_members(estimator)
        net_estimator = get_net_estimator(estimator)
        net = get_net(estimator)
        n_keep = self.n_members if self.n_members is not None else max(1, int(round((1 - self.sparsity) * k)))
        if n_keep > k:
            raise ValueError(f"{type(self).__name__}: n_members={n_keep} exceeds the {k} members of "
                             f"{type(net_estimator).__name__}.")
        Xn = net_input(estimator, X)
        targets = net_targets(estimator, y)
        rows = scoring_rows(net, Xn, targets)
        outputs = net_estimator._member_outputs(Xn[rows])
        classification = net_estimator._classification
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[rows]
        if weights is not None and not weights.sum() > 0:
            weights = None  # the scoring rows all weigh nothing: score them alike
        keep, losses = select_members(outputs, targets[rows], n_keep, self.member_selection, classification,
                                      weights)
        n_dense = count_params(net.module_)
        module = keep_members(net_estimator, keep)
        n_before = len(net.history)
        train_epochs(estimator, Xn, targets, self._fine_tune_epochs(), seed + 1,
                     rebuild_optimizer=True, sample_weight=sample_weight)
        self.granularity_ = "member"
        self.estimator_ = estimator
        self._set_target_attributes(estimator)
        self.kept_members_ = np.asarray(keep)
        self.member_losses_ = np.asarray(losses)
        self.member_loss_full_ = member_loss(outputs, targets[rows], classification)
        self.sparsity_ = 1 - n_keep / k
        self.n_params_ = count_params(module)
        self.n_nonzero_params_ = count_params(module, nonzero=True)
        self.n_params_dense_ = n_dense
        self.history_ = [{
            "step": 1,
            "kept_members": [int(j) for j in keep],
            "n_params": self.n_params_,
            "train_loss": float(net.history[-1, "train_loss"]) if len(net.history) > n_before else None,
        }]
        return self


@register
class PrunedClassifier(NetWrapperClassifierMixin, _BasePruned):
    """Prune a net classifier and fine-tune it: smaller and, with neurons, faster.

    ``fit`` fits a clone of ``estimator`` (or copies the fitted net inside a
    ``FrozenEstimator``), then prunes it in ``n_steps`` steps, fine-tuning for
    ``fine_tune_epochs`` after each.  The user's estimator is never modified.

    Parameters
    ----------
    estimator : estimator
        An unfitted skensemble net or skorch ``NeuralNetClassifier``, a
        ``FrozenEstimator`` of a fitted one, a ``Pipeline`` ending in one, or
        another skensemble meta-estimator wrapping one.
    sparsity : float in [0, 1), default=0.5
        With ``granularity="weight"``, the fraction of weights (of Linear and
        Conv layers) set to zero; with ``"neuron"``, the fraction of hidden
        units and channels removed; with ``"layer"`` (unless ``n_layers`` is
        given), the fraction of removable blocks removed.
    granularity : {"auto", "weight", "neuron", "layer", "member"}, default="auto"
        ``"auto"``: ``"neuron"`` where the module has hidden units that can be
        cut (the model gets smaller and faster), else ``"weight"`` with a
        warning that names the layer that blocks it (``granularity_`` says
        which ran).  ``"weight"``: unstructured pruning; masks are folded into the weights at
        the end, so the model is a plain module with zeros (same size and speed
        as dense).  ``"neuron"``: structured pruning; hidden units of Linear
        layers and channels of Conv layers are physically removed together with
        their batch-norm entries and the matching inputs of the next layer, so
        the model is smaller and faster.  Units coupled by residual additions,
        concatenations, norms or embeddings are cut together (any module, not
        only skensemble's); a layer whose units cannot be cut gets a
        ``StructuralPruningError`` naming it.  The output layer is never
        pruned.  ``"layer"``: network trimming; whole blocks (a residual block,
        or a hidden layer that keeps its input's shape, in an ``nn.Sequential``
        or ``nn.ModuleList``) are replaced by their skip path, least important
        first: the one whose skipping raises the loss least on up to 2048
        training rows, scored again after each removal.  ``"member"``: keep
        the best ``n_members`` members of an ensemble net (TabM's k members):
        the others are cut from every per-member tensor (BatchEnsemble
        scalings and biases, packed weights, heads), so the module computes
        fewer members.  Members are scored on the rows the net held out for
        early stopping (the same seeded split of ``X``; all rows when the
        net has none).  TabM's backbone units are cut with ``"neuron"``,
        with their BatchEnsemble adapters.
    n_layers : int or None, default=None
        With ``granularity="layer"``, the number of blocks to remove; None
        removes ``round(sparsity * n_removable_blocks)``.
    n_members : int or None, default=None
        With ``granularity="member"``, the members to keep; None keeps
        ``round((1 - sparsity) * k)`` (at least one).
    member_selection : {"greedy", "individual"}, default="greedy"
        With ``granularity="member"``, how members are chosen: greedy forward
        selection of the kept ensemble's loss (log loss of the mean
        probability, or squared error of the mean), or each member's own
        loss.
    scope : {"global", "layer"}, default="global"
        Rank scores across all layers, or prune each layer by ``sparsity``.
        Global unit scores are divided by their layer's mean score.  No layer
        is ever emptied.
    importance : {"magnitude", "l2", "random"} or object, default="magnitude"
        What to score: L1 or squared L2 magnitude, random (a baseline), or an
        object with ``weight_scores(param)`` and optionally ``fit(net, X, y)``
        (see :class:`skensemble.compression.Importance`;
        :class:`~skensemble.compression.pruning.TaylorImportance` is one, no
        longer a named choice: it lost to random unit scores, see
        ``CHANGELOG.md``).
    n_steps : int, default=1
        Number of prune/fine-tune steps to reach ``sparsity``.
    fine_tune_epochs : int or "auto", default="auto"
        Epochs of training after each step (0 disables fine-tuning).
        ``"auto"``: 5, and none after member selection (the kept members stay
        as they were trained; 5 more epochs made them worse in the TabM
        compression benchmark).
    schedule : {"cubic", "linear"}, default="cubic"
        How sparsity grows over the steps (Zhu & Gupta, 2017, for "cubic").
    round_to : int or None, default=8
        With ``granularity="neuron"``, keep the nearest multiple of
        ``round_to`` units in each layer, and at least ``round_to`` (or all
        of a smaller layer), so ``sparsity_`` moves a little from
        ``sparsity``.  Matrix kernels prefer aligned sizes: at 50% sparsity,
        rounding to 8 made batches of 4096 predict 1.1-1.5x faster than unrounded
        sizes on our CPU (see the pruning benchmark); 16 or 64 may suit GPUs
        better.  ``None`` removes exactly the requested fraction.
    random_state : int, RandomState instance or None, default=None
        Seeds fine-tuning and random importance.
    verbose : int, default=0
        Print one line per step when positive.

    Attributes
    ----------
    estimator_ : estimator
        The pruned, fine-tuned estimator; its net's ``module_`` is the pruned module.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.
    granularity_ : {"weight", "neuron", "layer", "member"}
        The granularity that ran (``"auto"`` resolved).
    sparsity_ : float
        Measured sparsity: the fraction of zero weights (``"weight"``), of
        removed hidden units (``"neuron"``), of removed blocks (``"layer"``)
        or of removed members (``"member"``).
    n_params_ : int
        Parameters of the pruned module.
    n_nonzero_params_ : int
        Non-zero parameters of the pruned module.
    n_params_dense_ : int
        Parameters of the module before pruning.
    history_ : list of dict
        Per step: target and measured sparsity (the removed blocks for
        ``"layer"``), parameters and the fine-tuning training loss.
    removed_layers_ : list of str
        With ``granularity="layer"``, the names of the removed blocks, in the
        order they were removed.
    layer_loss_increase_ : dict
        With ``granularity="layer"``, the loss increase measured when each
        removed block was skipped.
    kept_members_ : ndarray of int
        With ``granularity="member"``, the kept members' indices in the
        original net, in the order they were chosen.
    member_losses_ : ndarray of float
        With ``granularity="member"``, the kept ensemble's loss on the
        scoring rows after each choice.
    member_loss_full_ : float
        With ``granularity="member"``, the loss of all k members on the same rows.

    See Also
    --------
    PrunedRegressor : The same for regressors.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skensemble.nets import MLPNetClassifier
    >>> from skensemble.compression import PrunedClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> net = MLPNetClassifier((64,), max_epochs=20, random_state=0)
    >>> pruned = PrunedClassifier(net, sparsity=0.5, granularity="neuron",
    ...                           random_state=0).fit(X, y)
    >>> pruned.estimator_.module_.layers[0]
    Linear(in_features=64, out_features=32, bias=True)
    >>> pruned.n_params_ < pruned.n_params_dense_
    True
    """


@register
class PrunedRegressor(NetWrapperRegressorMixin, _BasePruned):
    """Prune a net regressor and fine-tune it: smaller and, with neurons, faster.

    ``fit`` fits a clone of ``estimator`` (or copies the fitted net inside a
    ``FrozenEstimator``), then prunes it in ``n_steps`` steps, fine-tuning for
    ``fine_tune_epochs`` after each.  The user's estimator is never modified.

    Parameters
    ----------
    estimator : estimator
        An unfitted skensemble net regressor or skorch ``NeuralNetRegressor``, a
        ``FrozenEstimator`` of a fitted one, a ``Pipeline`` ending in one, or
        another skensemble meta-estimator wrapping one.
    sparsity : float in [0, 1), default=0.5
        With ``granularity="weight"``, the fraction of weights (of Linear and
        Conv layers) set to zero; with ``"neuron"``, the fraction of hidden
        units and channels removed; with ``"layer"`` (unless ``n_layers`` is
        given), the fraction of removable blocks removed.
    granularity : {"auto", "weight", "neuron", "layer", "member"}, default="auto"
        ``"auto"``: ``"neuron"`` where the module has hidden units that can be
        cut (the model gets smaller and faster), else ``"weight"`` with a
        warning that names the layer that blocks it (``granularity_`` says
        which ran).  ``"weight"``: unstructured pruning; masks are folded into the weights at
        the end, so the model is a plain module with zeros (same size and speed
        as dense).  ``"neuron"``: structured pruning; hidden units of Linear
        layers and channels of Conv layers are physically removed together with
        their batch-norm entries and the matching inputs of the next layer, so
        the model is smaller and faster.  Units coupled by residual additions,
        concatenations, norms or embeddings are cut together (any module, not
        only skensemble's); a layer whose units cannot be cut gets a
        ``StructuralPruningError`` naming it.  The output layer is never
        pruned.  ``"layer"``: network trimming; whole blocks (a residual block,
        or a hidden layer that keeps its input's shape, in an ``nn.Sequential``
        or ``nn.ModuleList``) are replaced by their skip path, least important
        first: the one whose skipping raises the loss least on up to 2048
        training rows, scored again after each removal.  ``"member"``: keep
        the best ``n_members`` members of an ensemble net (TabM's k members):
        the others are cut from every per-member tensor (BatchEnsemble
        scalings and biases, packed weights, heads), so the module computes
        fewer members.  Members are scored on the rows the net held out for
        early stopping (the same seeded split of ``X``; all rows when the
        net has none).  TabM's backbone units are cut with ``"neuron"``,
        with their BatchEnsemble adapters.
    n_layers : int or None, default=None
        With ``granularity="layer"``, the number of blocks to remove; None
        removes ``round(sparsity * n_removable_blocks)``.
    n_members : int or None, default=None
        With ``granularity="member"``, the members to keep; None keeps
        ``round((1 - sparsity) * k)`` (at least one).
    member_selection : {"greedy", "individual"}, default="greedy"
        With ``granularity="member"``, how members are chosen: greedy forward
        selection of the kept ensemble's loss (log loss of the mean
        probability, or squared error of the mean), or each member's own
        loss.
    scope : {"global", "layer"}, default="global"
        Rank scores across all layers, or prune each layer by ``sparsity``.
        Global unit scores are divided by their layer's mean score.  No layer
        is ever emptied.
    importance : {"magnitude", "l2", "random"} or object, default="magnitude"
        What to score: L1 or squared L2 magnitude, random (a baseline), or an
        object with ``weight_scores(param)`` and optionally ``fit(net, X, y)``
        (see :class:`skensemble.compression.Importance`;
        :class:`~skensemble.compression.pruning.TaylorImportance` is one, no
        longer a named choice: it lost to random unit scores, see
        ``CHANGELOG.md``).
    n_steps : int, default=1
        Number of prune/fine-tune steps to reach ``sparsity``.
    fine_tune_epochs : int or "auto", default="auto"
        Epochs of training after each step (0 disables fine-tuning).
        ``"auto"``: 5, and none after member selection (the kept members stay
        as they were trained; 5 more epochs made them worse in the TabM
        compression benchmark).
    schedule : {"cubic", "linear"}, default="cubic"
        How sparsity grows over the steps (Zhu & Gupta, 2017, for "cubic").
    round_to : int or None, default=8
        With ``granularity="neuron"``, keep the nearest multiple of
        ``round_to`` units in each layer, and at least ``round_to`` (or all
        of a smaller layer), so ``sparsity_`` moves a little from
        ``sparsity``.  Matrix kernels prefer aligned sizes: at 50% sparsity,
        rounding to 8 made batches of 4096 predict 1.1-1.5x faster than unrounded
        sizes on our CPU (see the pruning benchmark); 16 or 64 may suit GPUs
        better.  ``None`` removes exactly the requested fraction.
    random_state : int, RandomState instance or None, default=None
        Seeds fine-tuning and random importance.
    verbose : int, default=0
        Print one line per step when positive.

    Attributes
    ----------
    estimator_ : estimator
        The pruned, fine-tuned estimator; its net's ``module_`` is the pruned module.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X has string column names.
    granularity_ : {"weight", "neuron", "layer", "member"}
        The granularity that ran (``"auto"`` resolved).
    sparsity_ : float
        Measured sparsity: the fraction of zero weights (``"weight"``), of
        removed hidden units (``"neuron"``), of removed blocks (``"layer"``)
        or of removed members (``"member"``).
    n_params_ : int
        Parameters of the pruned module.
    n_nonzero_params_ : int
        Non-zero parameters of the pruned module.
    n_params_dense_ : int
        Parameters of the module before pruning.
    history_ : list of dict
        Per step: target and measured sparsity (the removed blocks for
        ``"layer"``), parameters and the fine-tuning training loss.
    removed_layers_ : list of str
        With ``granularity="layer"``, the names of the removed blocks, in the
        order they were removed.
    layer_loss_increase_ : dict
        With ``granularity="layer"``, the loss increase measured when each
        removed block was skipped.
    kept_members_ : ndarray of int
        With ``granularity="member"``, the kept members' indices in the
        original net, in the order they were chosen.
    member_losses_ : ndarray of float
        With ``granularity="member"``, the kept ensemble's loss on the
        scoring rows after each choice.
    member_loss_full_ : float
        With ``granularity="member"``, the loss of all k members on the same rows.

    See Also
    --------
    PrunedClassifier : The same for classifiers.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skensemble.nets import MLPNetRegressor
    >>> from skensemble.compression import PrunedRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> net = MLPNetRegressor((64,), max_epochs=50, lr=0.01, random_state=0)
    >>> pruned = PrunedRegressor(net, sparsity=0.5, granularity="neuron",
    ...                          random_state=0).fit(X, y)
    >>> pruned.estimator_.module_.layers[0].out_features  # 64 neurons, half of them cut
    32
    >>> pruned.score(X, y) > 0.4
    True
    """
