"""What to score: importance criteria for weights and for units.

An importance criterion is a small object with

``weight_scores(param)`` -> Tensor shaped like ``param``
    A non-negative score per weight; low scores are pruned first.
``fit(net, X, y)`` (optional)
    Called before each pruning step with the fitted skorch net and the
    training data as the net sees it (float32 X, encoded y), for criteria that
    need data, such as gradients.

Unit (neuron/channel) scores are derived from ``weight_scores``: a unit's score
is the sum of the scores of every weight that belongs to it (its row in the
producing layer, its bias, its batch-norm scale and shift, and its column in the
consuming layer).  A user criterion needs only these two members; subclass
:class:`Importance` for the unit reduction.  A criterion whose unit score is
not a sum of weight scores overrides ``unit_scores(group, module)``
(:class:`TaylorImportance`: the square of a sum of signed terms).
"""

import copy

import torch

from ...persistence import register
from ...utils._torch import eval_mode


class Importance:
    """Base class: derive unit scores from per-weight scores."""

    def weight_scores(self, param):
        raise NotImplementedError

    def unit_scores(self, group, module):
        """Score each unit of ``group`` (a :class:`~._dependency.Group`).

        The sum of the weight scores of every parameter entry the units own.
        """
        total, scored = None, {}
        for entry in group.entries:
            if not entry.is_param:
                continue  # batch-norm statistics are not weights
            if entry.name not in scored:
                scored[entry.name] = self.weight_scores(module.get_parameter(entry.name))
            per_unit = entry.per_unit(scored[entry.name]).sum(1)
            total = per_unit if total is None else total + per_unit
        return total


@register
class MagnitudeImportance(Importance):
    """``|w|**p``: L1 (``p=1``) or squared L2 (``p=2``) magnitude."""

    def __init__(self, p=1):
        self.p = p

    def weight_scores(self, param):
        return param.detach().abs().pow(self.p)


@register
class TaylorImportance(Importance):
    """First-order Taylor estimate of the loss change when weights or units are removed.

    Removing a weight ``w`` changes the loss by about ``-w * dL/dw``;
    removing a unit zeroes every weight it owns (its row in the producing
    layer, its bias, its batch-norm scale and shift, its column in the
    consuming layer), so its first-order term is the *sum* of ``w * dL/dw``
    over those weights.  Each mini-batch gives one such term; a unit's score
    is the mean of their squares over the batches (Molchanov et al., 2019,
    "Importance Estimation for Neural Network Pruning"): on a converged net
    the terms of different batches have different signs, so their mean
    would average the signal away.  A weight's score is the mean over the
    batches of ``|w * dL_batch/dw|`` (Molchanov et al., 2017).

    Not a named choice of the pruning estimators since issue 41: neither
    this unit score nor the sum of per-weight magnitudes it replaced beat
    random unit scores without fine-tuning (digits, (256, 256) MLP, 4 net
    seeds, neuron pruning: accuracy 0.32-0.52 against random's 0.34-0.88 at
    sparsity 0.8, 0.71-0.88 against 0.90-0.96 at 0.5; ``CHANGELOG.md``).
    Pass an instance to try it on your net.

    Parameters
    ----------
    max_samples : int, default=2048
        Training samples used to estimate the scores.
    batch_size : int, default=64
        Mini-batch size of the estimate.
    """

    def __init__(self, max_samples=2048, batch_size=64):
        self.max_samples = max_samples
        self.batch_size = batch_size

    def fit(self, net, X, y):
        module = net.module_
        params = [p for p in module.parameters() if p.requires_grad]
        self._scores = {p: torch.zeros_like(p) for p in params}
        # per parameter and dimension, each batch's sums of w * g over the other dimensions: the
        # first-order terms of the units along that dimension (entries are slices along one dimension)
        self._terms = {p: [[] for _ in range(p.dim())] for p in params}
        device = params[0].device
        n = min(len(X), self.max_samples)
        n_batches = 0
        with eval_mode(module):
            for start in range(0, n, self.batch_size):
                xb = torch.as_tensor(X[start : start + self.batch_size], device=device)
                yb = torch.as_tensor(y[start : start + self.batch_size], device=device)
                module.zero_grad()
                net.get_loss(module(xb), yb, training=False).backward()
                with torch.no_grad():
                    for p in params:
                        product = p * p.grad
                        self._scores[p] += product.abs()
                        for d, terms in enumerate(self._terms[p]):
                            others = [i for i in range(p.dim()) if i != d]
                            terms.append(product.sum(others) if others else product.clone())
                n_batches += 1
        module.zero_grad(set_to_none=True)
        for p in params:
            self._scores[p] /= max(1, n_batches)
            self._terms[p] = [torch.stack(terms) for terms in self._terms[p]]
        return self

    def weight_scores(self, param):
        scores = getattr(self, "_scores", {})
        if param not in scores:
            raise RuntimeError("TaylorImportance.fit must run on the current module first.")
        return scores[param]

    def unit_scores(self, group, module):
        """Each unit's mean over the batches of the squared sum of ``w * dL/dw`` over the weights it owns."""
        terms = getattr(self, "_terms", {})
        total = None
        for entry in group.entries:
            if not entry.is_param:
                continue  # batch-norm statistics are not weights
            param = module.get_parameter(entry.name)
            if param not in terms:
                raise RuntimeError("TaylorImportance.fit must run on the current module first.")
            per_batch = terms[param][entry.dim]  # (batches, size of dim)
            span = per_batch.narrow(1, entry.offset, entry.outer * entry.n * entry.inner)
            per_unit = span.reshape(len(span), entry.outer, entry.n, entry.inner).sum((1, 3))
            total = per_unit if total is None else total + per_unit
        return None if total is None else total.pow(2).mean(0)


@register
class RandomImportance(Importance):
    """Uniform random scores: the baseline any criterion should beat."""

    def __init__(self, generator=None):
        self.generator = generator

    def weight_scores(self, param):
        return torch.rand(param.shape, generator=self.generator).to(param.device)


def get_importance(importance, seed):
    """Return an importance object for a name or a user object."""
    if importance == "magnitude":
        return MagnitudeImportance(p=1)
    if importance == "l2":
        return MagnitudeImportance(p=2)
    if importance == "random":
        return RandomImportance(torch.Generator().manual_seed(seed))
    if callable(getattr(importance, "weight_scores", None)):
        return copy.deepcopy(importance)  # fit() may store scores: never on the user's object
    raise ValueError(
        f"importance={importance!r} is not one of 'magnitude', 'l2', 'random' "
        "or an object with a weight_scores(param) method."
    )
