"""How to cut: find groups of coupled units in a module and physically remove units.

A *group* (see :mod:`._dependency`) is a set of units that must be cut
together: the output units of a ``Linear``/``Conv`` layer (or of several
layers whose outputs a residual connection adds), with every tensor entry
that belongs to them: their rows in the producing layers, their batch-norm
or layer-norm entries and their input columns in every consuming layer.
Removing units of a group keeps what the rest of the network computes from
the remaining units.  Units that reach the module's output, go through an
operation that is not understood, or feed a shared layer are never cut; a
hidden layer blocked that way gets a ``StructuralPruningError`` naming it
when the user asks for structured pruning.
"""

from collections import defaultdict

import torch
from torch import nn

from ..._compat.torch import BATCH_NORM_TYPES, is_non_persistent_buffer
from ...utils._torch import count_params
from ...graph._dependency import ENSEMBLE_LAYERS, OUTPUT_LAYER, PRODUCERS, WEIGHTED_LAYERS, Entry, Group, analyse


class StructuralPruningError(ValueError):
    """The module has a layer that cannot be pruned structurally."""


def find_groups(module, example_input):
    """Return the prunable groups of ``module``, in forward order.

    The data flow is recorded with one forward pass of ``example_input``
    (nothing global is patched, so other threads may train meanwhile).

    Parameters
    ----------
    module : torch.nn.Module
        The module (left unchanged).
    example_input : torch.Tensor
        A small batch used to propagate shapes (two rows are enough).

    Returns
    -------
    groups : list of Group
    blocked : dict
        Producer layers whose units cannot be cut, with the reason.
    """
    try:
        return analyse(module, example_input)
    except Exception as exc:  # a module that fails on the example batch
        raise StructuralPruningError(
            f"{type(module).__name__} failed on an example batch while its layers were "
            f"mapped ({type(exc).__name__}: {exc}); use granularity='weight' instead."
        ) from None


def check_prunable(module, example_input):
    """Groups of ``module``; raise naming the layer when a hidden layer is blocked."""
    groups, blocked = find_groups(module, example_input)
    hidden = {k: v for k, v in blocked.items() if v != OUTPUT_LAYER}
    if hidden:
        name, why = next(iter(hidden.items()))
        raise StructuralPruningError(
            f"Cannot prune layer {name!r} of {type(module).__name__} structurally: {why}. "
            "Use granularity='weight' for this module."
        )
    if not groups:
        raise StructuralPruningError(
            f"{type(module).__name__} has no hidden Linear or Conv layer to prune."
        )
    return groups


def _owner(module, name):
    layer_name, _, attr = name.rpartition(".")
    return (module.get_submodule(layer_name) if layer_name else module), attr


def _resized(layer):
    """Make a layer's size attributes agree with its (cut) tensors."""
    if isinstance(layer, nn.Linear):
        layer.out_features, layer.in_features = layer.weight.shape
    elif isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        layer.out_channels = layer.weight.shape[0]
        if layer.groups == 1:
            layer.in_channels = layer.weight.shape[1]
        else:  # depthwise: one filter per channel
            layer.in_channels = layer.groups = layer.out_channels
    elif isinstance(layer, BATCH_NORM_TYPES):
        ref = layer.weight if layer.weight is not None else layer.running_mean
        layer.num_features = ref.shape[0]
    elif isinstance(layer, nn.LayerNorm):
        layer.normalized_shape = (layer.weight.shape[0],)
    elif isinstance(layer, nn.Embedding):
        layer.embedding_dim = layer.weight.shape[1]
    elif ENSEMBLE_LAYERS.get(type(layer)) == "batch_ensemble":  # tabm's: weight (out, in)
        layer.out_features, layer.in_features = layer.weight.shape


def cut(module, plan):
    """Keep only the given units of each group; ``plan`` is a list of ``(group, keep)``.

    All groups of one recorded graph are cut together, so that groups
    feeding the same layer (a concatenation) index it consistently.
    ``module`` is changed in place: its tensors are replaced by smaller
    ones (optimizers holding the old parameters must be rebuilt).
    """
    drops = defaultdict(list)
    for group, keep in plan:
        keep = sorted({int(k) for k in keep})
        if not keep:
            raise ValueError(f"Refusing to remove every unit of layer {group.producer!r}.")
        removed = sorted(set(range(group.n_units)) - set(keep))
        if removed:
            for entry in group.entries:
                drops[(entry.name, entry.dim)].append(entry.indices(removed))
        group.n_units = len(keep)
    touched = set()
    for (name, dim), parts in drops.items():
        owner, attr = _owner(module, name)
        old = getattr(owner, attr)
        mask = torch.ones(old.shape[dim], dtype=torch.bool)
        mask[torch.cat(parts)] = False
        index = mask.nonzero().reshape(-1).to(old.device)
        new = old.detach().index_select(dim, index)
        if isinstance(old, nn.Parameter):
            setattr(owner, attr, nn.Parameter(new, requires_grad=old.requires_grad))
        else:
            owner.register_buffer(attr, new, persistent=not is_non_persistent_buffer(owner, attr))
        touched.add(owner)
    for layer in touched:
        _resized(layer)
    return module


def remove_units(module, group, keep):
    """Physically keep only the units ``keep`` (indices) of ``group``; in place.

    The producing layers lose output units, their norms the matching
    entries, and every consuming layer the matching inputs.
    """
    return cut(module, [(group, keep)])


def prunable_weights(module):
    """Names of the weight matrices and kernels of Linear/Conv layers (and of TabM's ensemble linears)."""
    return [f"{name}.weight" for name, m in module.named_modules() if isinstance(m, WEIGHTED_LAYERS)]


__all__ = [
    "Entry",
    "Group",
    "StructuralPruningError",
    "check_prunable",
    "cut",
    "count_params",
    "find_groups",
    "prunable_weights",
    "remove_units",
]
