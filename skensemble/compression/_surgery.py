"""How to cut: find prunable layer groups in a module and physically remove units.

A *group* is a layer that produces units (output features of a ``Linear``,
output channels of a ``Conv1d``/``Conv2d``), the ``BatchNorm`` that normalises
them, if any, and the one layer that consumes them.  Units of a group can be
removed from all three at once without changing what the rest of the network
computes from the remaining units.

The groups are found by recording one forward pass (:mod:`._graph`, which
patches nothing process-wide) and following each layer's output through
element-wise operations (activations, dropout, pooling, flatten) to the next
``Linear``/``Conv``.  A layer whose output is
used more than once (residual additions, concatenations, shared layers) or
reaches the module's output (the output layer) is not put in any group; the
former gets a ``StructuralPruningError`` naming the layer when the user asks
for structured pruning.
"""

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..utils._torch import count_params
from ._graph import record

PRODUCERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_PASSTHROUGH_MODULES = (
    nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.ELU, nn.Identity,
    nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)
# Functions and tensor methods (by name) that act on each unit separately.
_PASSTHROUGH_FUNCTIONS = {
    "relu", "relu_", "tanh", "sigmoid", "gelu", "silu", "elu", "leaky_relu", "dropout",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "contiguous",
}
_RESHAPES = {"flatten", "view", "reshape"}


class StructuralPruningError(ValueError):
    """The module has a layer that cannot be pruned structurally."""


@dataclass
class Group:
    """A prunable layer, its batch norm and the layer consuming its units."""

    producer: str
    consumer: str
    norm: str | None = None
    # Inputs of the consumer per unit (> 1 when a conv feeds a linear via flatten).
    inputs_per_unit: int = 1
    n_units: int = 0
    original_units: int = 0
    params: list = field(default_factory=list)  # (name, dim) pairs, filled by find_groups

    def unit_params(self, module):
        """``(name, tensor, dim)`` triples whose slices along ``dim`` belong to each unit.

        For a consumer fed through ``flatten``, the weight is viewed as
        ``(out, units, inputs_per_unit)`` so that dim 1 indexes units.
        """
        out = []
        for name, dim in self.params:
            t = module.get_parameter(name)
            if name.startswith(self.consumer + ".") and self.inputs_per_unit > 1:
                t = t.reshape(t.shape[0], self.n_units, self.inputs_per_unit)
            out.append((name, t, dim))
        return out


def _is_passthrough(node, modules):
    if node.kind == "module":
        return isinstance(modules[node.target], _PASSTHROUGH_MODULES + _NORMS + (nn.Flatten,))
    return node.kind == "function" and node.target in _PASSTHROUGH_FUNCTIONS | _RESHAPES


def _is_flatten(node, modules):
    if node.kind == "module":
        return isinstance(modules[node.target], nn.Flatten)
    return node.target in _RESHAPES


def find_groups(module, example_input):
    """Return the prunable groups of ``module``, in forward order.

    The data flow is recorded with :func:`skensemble.compression._graph.record`
    (one forward pass of ``example_input``; nothing global is patched, so
    other threads may train meanwhile).

    Parameters
    ----------
    module : torch.nn.Module
        The module (left unchanged).
    example_input : torch.Tensor
        A small batch used to propagate shapes (needed to map conv channels
        to the inputs of a linear layer after ``flatten``).

    Returns
    -------
    groups : list of Group
    blocked : dict
        Producer layers that cannot be pruned, with the reason.
    """
    try:
        graph = record(module, example_input)
    except Exception as exc:  # a module that fails on the example batch
        raise StructuralPruningError(
            f"{type(module).__name__} failed on an example batch while its layers were "
            f"mapped ({type(exc).__name__}: {exc}); use granularity='weight' instead."
        ) from None
    modules, nodes = graph.modules, graph.nodes
    groups, blocked = [], {}
    for start, node in enumerate(nodes):
        if node.kind != "module" or not isinstance(modules[node.target], PRODUCERS):
            continue
        name = node.target
        layer = modules[name]
        if len(graph.module_calls(name)) > 1:
            blocked.setdefault(name, "it is called more than once (a shared layer)")
            continue
        if isinstance(layer, (nn.Conv1d, nn.Conv2d)) and layer.groups != 1:
            blocked[name] = f"it is a grouped convolution (groups={layer.groups})"
            continue
        norm, flattened, index, shape_before_flatten = None, False, start, None
        while True:
            current = nodes[index]
            n_uses = len(current.users) + (index in graph.outputs)
            if n_uses != 1:
                blocked[name] = (
                    "its output is used by more than one operation "
                    "(a residual addition, a concatenation or a branch)"
                    if n_uses else "its output is not used"
                )
                break
            if index in graph.outputs:
                blocked[name] = "it is the output layer"
                break
            nxt = nodes[current.users[0]]
            if nxt.kind == "module" and isinstance(modules[nxt.target], PRODUCERS):
                consumer = modules[nxt.target]
                per_unit = math.prod(shape_before_flatten[2:]) if flattened else 1
                if len(graph.module_calls(nxt.target)) > 1:
                    blocked[name] = f"its consumer {nxt.target!r} is a shared layer"
                elif isinstance(consumer, (nn.Conv1d, nn.Conv2d)) and consumer.groups != 1:
                    blocked[name] = f"its consumer {nxt.target!r} is a grouped convolution"
                else:
                    groups.append(_make_group(name, nxt.target, norm, per_unit, layer))
                break
            if not _is_passthrough(nxt, modules) or nxt.inputs != [index]:
                what = "layer" if nxt.kind == "module" else "operation"
                blocked[name] = (f"its output goes through the {what} {nxt.target!r}, "
                                 "which skensemble cannot cut through")
                break
            if nxt.kind == "module" and isinstance(modules[nxt.target], _NORMS):
                norm = nxt.target
            if _is_flatten(nxt, modules):
                before, after = current.shape, nxt.shape
                if len(after) != 2 or after[1] != math.prod(before[1:]):
                    blocked[name] = f"its output is reshaped by {nxt.target!r} to {tuple(after)}"
                    break
                if not flattened and len(before) > 2:
                    flattened, shape_before_flatten = True, before
            index = current.users[0]
    return groups, blocked


def _make_group(producer, consumer, norm, per_unit, layer):
    n = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
    params = [(f"{producer}.weight", 0)]
    if layer.bias is not None:
        params.append((f"{producer}.bias", 0))
    if norm is not None:
        params += [(f"{norm}.weight", 0), (f"{norm}.bias", 0)]
    params.append((f"{consumer}.weight", 1))
    return Group(producer, consumer, norm, per_unit, n, n, params)


def check_prunable(module, example_input):
    """Groups of ``module``; raise naming the layer when a hidden layer is blocked."""
    groups, blocked = find_groups(module, example_input)
    hidden = {k: v for k, v in blocked.items() if v != "it is the output layer"}
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


def _set_submodule(root, name, new):
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _slice_layer(layer, keep, dim):
    """A new Linear/Conv/BatchNorm with only the ``keep`` indices along ``dim``."""
    w = layer.weight.detach()
    if isinstance(layer, _NORMS):
        new = type(layer)(len(keep), eps=layer.eps, momentum=layer.momentum,
                          affine=layer.affine, track_running_stats=layer.track_running_stats)
        with torch.no_grad():
            if layer.affine:
                new.weight.copy_(w[keep])
                new.bias.copy_(layer.bias.detach()[keep])
            if layer.track_running_stats:
                new.running_mean.copy_(layer.running_mean[keep])
                new.running_var.copy_(layer.running_var[keep])
                new.num_batches_tracked.copy_(layer.num_batches_tracked)
        return new.to(w.device)
    new_w = w.index_select(dim, keep)
    bias = layer.bias
    if isinstance(layer, nn.Linear):
        new = nn.Linear(new_w.shape[1], new_w.shape[0], bias=bias is not None)
    else:
        new = type(layer)(
            new_w.shape[1], new_w.shape[0], layer.kernel_size, stride=layer.stride,
            padding=layer.padding, dilation=layer.dilation, bias=bias is not None,
            padding_mode=layer.padding_mode,
        )
    new = new.to(device=w.device, dtype=w.dtype)
    with torch.no_grad():
        new.weight.copy_(new_w)
        if bias is not None:
            b = bias.detach()
            new.bias.copy_(b[keep] if dim == 0 else b)
    return new


def remove_units(module, group, keep):
    """Physically keep only the units ``keep`` (sorted indices) of ``group``.

    The producer loses output units, its batch norm the matching features and
    the consumer the matching inputs; ``module`` is changed in place.
    """
    keep = torch.as_tensor(sorted(int(k) for k in keep), dtype=torch.long)
    if len(keep) == 0:
        raise ValueError(f"Refusing to remove every unit of layer {group.producer!r}.")
    producer = module.get_submodule(group.producer)
    keep = keep.to(producer.weight.device)
    _set_submodule(module, group.producer, _slice_layer(producer, keep, 0))
    if group.norm is not None:
        _set_submodule(module, group.norm, _slice_layer(module.get_submodule(group.norm), keep, 0))
    consumer = module.get_submodule(group.consumer)
    in_keep = keep
    if group.inputs_per_unit > 1:
        per = group.inputs_per_unit
        in_keep = (keep[:, None] * per + torch.arange(per, device=keep.device)).reshape(-1)
    _set_submodule(module, group.consumer, _slice_layer(consumer, in_keep, 1))
    group.n_units = len(keep)
    return module


def prunable_weights(module):
    """Names of the weight matrices and kernels of Linear/Conv layers."""
    return [f"{name}.weight" for name, m in module.named_modules() if isinstance(m, PRODUCERS)]


__all__ = [
    "Group",
    "StructuralPruningError",
    "check_prunable",
    "count_params",
    "find_groups",
    "prunable_weights",
    "remove_units",
]
