"""How to cut at each step of a schedule: one strategy per granularity of ``PrunedClassifier``/``Regressor``.

*What to score* is an importance (``_importance``), *how much and when* a
sparsity schedule (``_schedule``); a cut takes a target sparsity and removes
that much of the module, then says how much is gone.  ``WeightCut`` zeroes
weights under masks (folded between steps); ``UnitCut`` removes whole units
(neurons, channels) along the dependency analysis, mapping the layers again
after each step.
"""

from ...graph._dependency import WEIGHTED_LAYERS
from ._pruner import apply_weight_masks, fold_weight_masks, prune_units, weight_masks
from ._surgery import check_prunable, prunable_weights


class _Cut:
    """A module cut step by step; ``importance`` scores on ``(net, X, targets)`` where it learns from data."""

    def __init__(self, net, importance, X, targets, scope):
        self.net, self.module = net, net.module_
        self.importance, self.X, self.targets, self.scope = importance, X, targets, scope

    def _score_on_data(self):
        if hasattr(self.importance, "fit"):
            self.importance.fit(self.net, self.X, self.targets)

    def __str__(self):
        return f"{type(self).__name__}(scope={self.scope!r}, importance={type(self.importance).__name__})"


class WeightCut(_Cut):
    """Zero the lowest-scored weights of the prunable layers (``granularity="weight"``)."""

    def __init__(self, net, importance, X, targets, scope):
        super().__init__(net, importance, X, targets, scope)
        self.weights = prunable_weights(self.module)

    def cut(self, step, target):
        fold_weight_masks(self.module)
        self._score_on_data()
        apply_weight_masks(self.module, weight_masks(self.module, self.weights, self.importance, target, self.scope))

    def sparsity(self):
        """Fraction of the weights of the weighted layers that are zero."""
        ws = [m.weight for m in self.module.modules() if isinstance(m, WEIGHTED_LAYERS)]
        return sum(int((w == 0).sum()) for w in ws) / sum(w.numel() for w in ws)


class UnitCut(_Cut):
    """Remove the lowest-scored units of every group that can lose some (``granularity="neuron"``)."""

    def __init__(self, net, importance, X, targets, scope, groups, example, round_to):
        super().__init__(net, importance, X, targets, scope)
        self.groups, self.example, self.round_to = groups, example, round_to
        self.original = {g.producer: g.n_units for g in groups}

    def cut(self, step, target):
        if step:  # the last cut changed the layers: map them again
            self.groups = check_prunable(self.module, self.example)
            for group in self.groups:
                group.original_units = self.original[group.producer]
        self._score_on_data()
        prune_units(self.module, self.groups, self.importance, target, self.scope, self.round_to)

    def sparsity(self):
        """Fraction of the groups' original units removed."""
        return 1 - sum(g.n_units for g in self.groups) / sum(g.original_units for g in self.groups)
