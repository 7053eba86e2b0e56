"""Member pruning: keep the best k' of the k members of an ensemble net (TabM), physically.

The three concerns of pruning, for members:

* *what to score* -- each member's outputs on held-out rows
  (:func:`member_loss`, :func:`selection_scores`);
* *how much* -- ``n_members`` of the estimator;
* *how to cut* -- :func:`keep_members` builds the net's module again with
  ``k'`` members (the estimator's own ``_module_spec``) and copies the kept
  members' slices of every per-member tensor into it; shared tensors are
  copied whole.  The module gets smaller by the members' adapters and heads
  and faster by the batch of members it no longer computes.

A net has members when its estimator exposes ``_member_outputs(X)``
(``(n, k, n_outputs)``) and its module spec takes ``k``: skensemble's
:class:`~skensemble.nets.TabMClassifier` and
:class:`~skensemble.nets.TabMRegressor`.
"""

import numpy as np
import torch

from ...utils._access import get_net_estimator
from ...utils._random import torch_seed

SELECTIONS = ("greedy", "individual")


def has_members(net_estimator):
    """Whether the net estimator's module is an ensemble of members that can be selected."""
    return net_estimator is not None and hasattr(net_estimator, "_member_outputs") \
        and "k" in net_estimator.get_params()


def n_members(estimator):
    """The members (TabM's ``k``) of the net inside ``estimator`` (fitted or not, frozen or not), or None."""
    net_estimator = get_net_estimator(estimator)
    return int(net_estimator.get_params()["k"]) if has_members(net_estimator) else None


def _member_probabilities(outputs):
    shifted = outputs - outputs.max(axis=-1, keepdims=True)
    p = np.exp(shifted)
    return p / p.sum(axis=-1, keepdims=True)


def member_loss(outputs, targets, classification, weights=None):
    """The loss of an ensemble of members' ``outputs`` ``(n, m, n_outputs)`` on ``targets``.

    Classification: the log loss of the members' mean probability (targets
    are class indices); regression: the mean squared error of the members'
    mean (targets as the net trains on them, standardised).  ``weights``:
    the rows' sample weights (a weighted mean over the rows).
    """
    if classification:
        p = _member_probabilities(outputs).mean(axis=1)
        picked = p[np.arange(len(p)), np.asarray(targets, dtype=int).ravel()]
        return float(np.average(-np.log(np.clip(picked, 1e-12, None)), weights=weights))
    mean = outputs.mean(axis=1)
    errors = ((mean - np.asarray(targets, dtype=np.float64).reshape(mean.shape)) ** 2).mean(axis=1)
    return float(np.average(errors, weights=weights))


def select_members(outputs, targets, n_keep, how, classification, weights=None):
    """Indices of the ``n_keep`` members to keep, in the order they were chosen.

    ``how="individual"``: the members with the lowest loss of their own.
    ``how="greedy"``: forward selection without replacement (Caruana et al.,
    2004): start from the best member, then add the member that lowers the
    loss of the kept members' mean most.

    Parameters
    ----------
    outputs : ndarray of shape (n_samples, k, n_outputs)
        Every member's raw outputs (logits, or standardised predictions).
    targets : ndarray
        Class indices, or the standardised targets.
    n_keep : int
        Members to keep (1 to k).
    how : {"greedy", "individual"}
    classification : bool
    weights : ndarray of shape (n_samples,), default=None
        The rows' sample weights: losses are weighted means over the rows.

    Returns
    -------
    keep : list of int
    losses : list of float
        The loss of the kept members' ensemble after each choice.
    """
    k = outputs.shape[1]
    own = np.array([member_loss(outputs[:, [j]], targets, classification, weights) for j in range(k)])
    if how == "individual":
        keep = [int(j) for j in np.argsort(own, kind="stable")[:n_keep]]
        return keep, [member_loss(outputs[:, keep[:i + 1]], targets, classification, weights)
                      for i in range(n_keep)]
    values = _member_probabilities(outputs) if classification else outputs
    keep = [int(np.argmin(own))]
    total = values[:, keep[0]].copy()
    losses = [float(own[keep[0]])]
    y = np.asarray(targets)
    while len(keep) < n_keep:
        m = len(keep) + 1
        candidates = (total[:, None, :] + values) / m  # (n, k, n_outputs): the mean with each candidate
        if classification:
            picked = candidates[np.arange(len(y)), :, y.astype(int).ravel()]  # (n, k)
            scores = np.average(-np.log(np.clip(picked, 1e-12, None)), axis=0, weights=weights)
        else:
            scores = np.average(((candidates - y.reshape(len(y), 1, -1)) ** 2).mean(axis=2), axis=0,
                                weights=weights)
        scores[keep] = np.inf
        best = int(np.argmin(scores))
        keep.append(best)
        total += values[:, best]
        losses.append(float(scores[best]))
    return keep, losses


def scoring_rows(net, Xn, targets):
    """The rows members are scored on: the net's early-stopping hold-out when it has one, else all.

    The net's split is seeded, so the same ``X`` gives the rows it held out
    while it trained (unseen by the members' gradients).
    """
    if net.train_split is None:
        return np.arange(len(Xn))
    _, valid = net.get_split_datasets(Xn, targets)
    indices = getattr(valid, "indices", None)
    if valid is None or indices is None or len(indices) == 0:
        return np.arange(len(Xn))
    return np.asarray(indices)


def keep_members(net_estimator, keep):
    """Replace the net's module by one with only the members ``keep``; in place.

    The estimator's ``k`` becomes ``len(keep)``, so it rebuilds (and saves)
    the smaller module.  Every tensor whose member axis changed is sliced;
    the others are copied.  The optimizer must be rebuilt afterwards.
    """
    net = net_estimator.net_
    old = net.module_
    k = int(net_estimator.get_params()["k"])
    keep = [int(j) for j in keep]
    builder, kwargs = net_estimator._module_spec(net_estimator._n_module_inputs(), net_estimator._n_outputs())
    kwargs = {**kwargs, "k": len(keep)}
    # its initial weights are overwritten below; torch_seed holds the process-wide lock, so a fit in another
    # thread never draws from (or has restored) the global generator in between
    with torch_seed(0):
        new = builder(**kwargs)
    index = torch.as_tensor(keep, dtype=torch.long)
    state, old_state = {}, old.state_dict()
    for name, target in new.state_dict().items():
        source = old_state[name]
        if source.shape != target.shape:
            axes = [d for d, (a, b) in enumerate(zip(source.shape, target.shape)) if a != b]
            if len(axes) != 1 or source.shape[axes[0]] != k:
                raise ValueError(f"Cannot map the members of {name!r}: {tuple(source.shape)} -> "
                                 f"{tuple(target.shape)}.")
            source = source.index_select(axes[0], index.to(source.device))
        state[name] = source.detach().clone()
    new.load_state_dict(state, strict=True)
    new.to(next(old.parameters()).device)
    new.train(old.training)
    net.module_ = new
    net_estimator.set_params(k=len(keep))
    if hasattr(net, "iterator_train__k"):  # the members' own training batches: one column per member left
        net.iterator_train__k = len(keep)
    return new
