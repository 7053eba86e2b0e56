"""Layer trimming: remove whole residual blocks or hidden layers ("network trimming").

*What* can go: a block of a sequence (a child of an ``nn.Sequential`` or
``nn.ModuleList``) that holds a ``Linear`` or ``Conv`` layer and returns a
tensor of the shape it was given, so that replacing it by ``nn.Identity``
leaves a working network: a residual block then computes its skip path only,
and a square hidden layer passes its input on.  *How much it matters*: the
increase of the loss when the block is skipped, measured on a sample of rows.
*How*: the block is replaced by ``nn.Identity`` in its parent.
"""

import torch
from torch import nn

from ...utils._torch import eval_mode, set_submodule
from ...graph._dependency import PRODUCERS
from ._surgery import StructuralPruningError

_CONTAINERS = (nn.Sequential, nn.ModuleList)


def find_blocks(module, example_input):
    """Names of the blocks of ``module`` that can be replaced by their skip path, in forward order."""
    seen, order, handles = {}, [], []
    parents = {name: m for name, m in module.named_modules() if isinstance(m, _CONTAINERS)}

    def hook(name):
        def record(_module, args, out):
            same = (len(args) == 1 and torch.is_tensor(args[0]) and torch.is_tensor(out)
                    and args[0].shape == out.shape)
            seen[name] = seen.get(name, 0) + 1 if same else -10**9
            if name not in order:
                order.append(name)
        return record

    for parent_name, parent in parents.items():
        for child_name, child in parent.named_children():
            if any(isinstance(m, PRODUCERS) for m in child.modules()):
                name = f"{parent_name}.{child_name}" if parent_name else child_name
                handles.append(child.register_forward_hook(hook(name)))
    try:
        with eval_mode(module), torch.no_grad():
            module(example_input)
    finally:
        for handle in handles:
            handle.remove()
    return [name for name in order if seen[name] == 1]  # called once, shape kept


def skip_block(module, name):
    """Replace the block ``name`` by ``nn.Identity`` (in place)."""
    set_submodule(module, name, nn.Identity())


def _loss(net, module, X, y):
    with torch.no_grad(), eval_mode(module):
        return float(net.get_loss(module(X), y, training=False))


def trim(net, blocks, n_remove, X, y):
    """Remove the ``n_remove`` blocks whose skipping raises the loss least, one at a time.

    After each removal the remaining blocks are scored again.  Returns the
    removed names with the loss increase measured when each was removed.
    """
    module = net.module_
    removed = []
    blocks = list(blocks)
    for _ in range(n_remove):
        base = _loss(net, module, X, y)
        increases = {}
        for name in blocks:
            original = module.get_submodule(name)
            skip_block(module, name)
            increases[name] = _loss(net, module, X, y) - base
            set_submodule(module, name, original)
        name = min(blocks, key=increases.get)
        skip_block(module, name)
        blocks.remove(name)
        removed.append((name, increases[name]))
    return removed


def check_trimmable(module, blocks, n_remove):
    """A clear error when ``module`` has no removable block, or fewer than ``n_remove``."""
    if not blocks:
        raise StructuralPruningError(
            f"{type(module).__name__} has no block that can be replaced by its skip path (a "
            "child of an nn.Sequential or nn.ModuleList holding a Linear or Conv layer that "
            "returns the shape it is given); use granularity='neuron' or 'weight'."
        )
    if n_remove > len(blocks):
        raise ValueError(
            f"n_layers={n_remove} asks for more blocks than {type(module).__name__} has that can "
            f"be removed ({len(blocks)}: {blocks})."
        )
