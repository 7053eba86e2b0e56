"""Which layers a fine-tuning trains: the head, the frozen body, and the order of unfreezing."""

from contextlib import contextmanager

from torch import nn

from .._compat.torch import BATCH_NORM_TYPES
from ..graph._dependency import OUTPUT_LAYER, PRODUCERS, analyse
from ..graph._record import record
from ..utils._random import torch_seed
from ..utils._torch import set_submodule

_UNIT_LAYERS = PRODUCERS + (nn.Embedding,)


def find_head(module, example_input, head=None):
    """The name of the ``Linear`` layer that produces the module's output.

    ``head`` (a layer name) is checked and returned when given.
    """
    if head is not None:
        try:
            layer = module.get_submodule(head)
        except AttributeError:
            raise ValueError(f"head={head!r} is not a layer of {type(module).__name__}.") from None
        if not isinstance(layer, nn.Linear):
            raise ValueError(f"head={head!r} is a {type(layer).__name__}; the head must be an nn.Linear.")
        return head
    _, blocked = analyse(module, example_input)
    heads = [name for name, why in blocked.items()
             if why == OUTPUT_LAYER and isinstance(module.get_submodule(name), nn.Linear)]
    if len(heads) != 1:
        raise ValueError(
            f"Cannot tell the output layer of {type(module).__name__} ({heads or 'no Linear layer'} "
            "produces its output); name it with head='<layer name>'."
        )
    return heads[0]


def find_input_layer(module, example_input):
    """The name of the ``Linear`` layer that reads the module's input as given (rows of features)."""
    graph = record(module, example_input)
    readers = [n.target for n in graph.nodes if n.kind == "module" and 0 in n.inputs]
    if len(readers) != 1 or not isinstance(module.get_submodule(readers[0]), nn.Linear):
        raise ValueError(
            f"input_layer='replace' needs an nn.Linear that reads the input rows directly, but "
            f"{type(module).__name__}'s input goes to {readers or 'operations, not a layer'}."
        )
    return readers[0]


def replace_linear(module, name, seed, *, in_features=None, out_features=None):
    """Replace the ``Linear`` layer ``name`` by a fresh one (seeded), resized where given.

    The new head gets ``out_features`` (one per new class or target), a
    replaced input layer ``in_features`` (the new task's columns).
    """
    old = module.get_submodule(name)
    with torch_seed(seed):
        new = nn.Linear(in_features or old.in_features, out_features or old.out_features,
                        bias=old.bias is not None)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    set_submodule(module, name, new)
    return new


def with_following_norms(module, names):
    """``names`` plus the parameter layers (norms) that follow each before the next unit-making layer."""
    out, following = [], False
    for name, layer in module.named_modules():
        if not name or next(layer.children(), None) is not None:
            continue
        if name in names:
            out.append(name)
            following = True
        elif isinstance(layer, _UNIT_LAYERS):
            following = False
        elif following and any(True for _ in layer.parameters(recurse=False)):
            out.append(name)
    return out


def layer_groups(module, new_layers):
    """Leaf layers with parameters, grouped: each unit-making layer with the norms after it.

    In definition order, which is forward order for sequential nets; the new
    layers (head, replaced input layer) are left out.  Gradual unfreezing
    walks this list from the end.
    """
    groups = []
    for name, layer in module.named_modules():
        if not name or next(layer.children(), None) is not None or name in new_layers:
            continue
        if not any(True for _ in layer.parameters(recurse=False)):
            continue
        if isinstance(layer, _UNIT_LAYERS) or not groups:
            groups.append([name])
        else:
            groups[-1].append(name)
    return groups


def frozen_layers(module, new_layers, freeze):
    """Names of the leaf layers that ``freeze`` freezes (never the new layers)."""
    leaves = [name for group in layer_groups(module, new_layers) for name in group]
    if freeze == "none":
        return []
    if freeze == "body":
        return leaves
    names = list(freeze)
    for name in names:
        for new in new_layers:
            if name in ("", new) or new.startswith(f"{name}."):
                raise ValueError(f"freeze names {name!r}, which holds the new layer {new!r} (the "
                                 "new head, or the replaced input layer); new layers are always trained.")
        if not any(leaf == name or leaf.startswith(f"{name}.") for leaf in leaves):
            raise ValueError(f"freeze names {name!r}, which is not a layer with parameters of "
                             f"{type(module).__name__}; its layers are {leaves}.")
    return [leaf for leaf in leaves if any(leaf == n or leaf.startswith(f"{n}.") for n in names)]


def reinitialized(module, new_layers, reinit, seed):
    """Re-initialize the pretrained layers ``reinit`` names (an int: that many top groups); return them.

    ``"auto"``: the top group where at least one other pretrained group stays (one, else none).
    """
    groups = layer_groups(module, new_layers)
    if reinit == "auto":
        reinit = 1 if len(groups) > 1 else 0
    if isinstance(reinit, int):
        if reinit > len(groups):
            raise ValueError(f"reinit={reinit} exceeds the {len(groups)} pretrained layer groups of "
                             f"{type(module).__name__}: {groups}.")
        names = [name for group in groups[len(groups) - reinit:] for name in group] if reinit else []
    else:
        leaves = [name for group in groups for name in group]
        names = []
        for name in reinit:
            found = [leaf for leaf in leaves if leaf == name or leaf.startswith(f"{name}.")]
            if not found:
                raise ValueError(f"reinit names {name!r}, which is not a pretrained layer with "
                                 f"parameters of {type(module).__name__}; its layers are {leaves}.")
            names += [leaf for leaf in found if leaf not in names]
    with torch_seed(seed):
        for name in names:
            module.get_submodule(name).reset_parameters()
    return names


def set_trainable(module, names, trainable):
    for name in names:
        for p in module.get_submodule(name).parameters():
            p.requires_grad_(trainable)


@contextmanager
def frozen_norms_in_eval(module, names):
    """While training, frozen batch norms normalise with their running statistics and keep them.

    A forward pre-hook puts each frozen norm in eval mode at every call (the
    training loop sets the whole module to train mode each epoch); the hooks
    live on the module itself and are removed afterwards.
    """
    handles = []

    def to_eval(layer, _args):
        layer.training = False

    for name in names:
        layer = module.get_submodule(name)
        if isinstance(layer, BATCH_NORM_TYPES):
            handles.append(layer.register_forward_pre_hook(to_eval))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
