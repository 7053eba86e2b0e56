"""The one module that reads torch's private names.

Tested with torch 2.13 (CPU here and in CI; CUDA on the GPU machine when one is
lent); the package declares ``torch>=2.2,<3`` and importing skensemble with a
torch outside that range fails with
:class:`~skensemble._compat.UntestedVersionError`.  Where a private piece is
missing in the installed torch, the function that reads it says so
(``None``), and its caller takes the public path instead.

What is read, and why:

* the base classes ``_BatchNorm`` and ``_ConvNd`` (every batch norm and
  every convolution, including the quantized ones);
* the hook registries, per module, per parameter and global, so that the
  closed-form training step runs only where no hook would miss it, and a
  prediction calls layers' ``forward`` directly where no hook would see it;
* the aten backward kernels of the activations (the ones autograd itself
  calls), for the closed-form step;
* a module's set of non-persistent buffers, so a cut buffer stays as it was;
* the masks of ``torch.nn.utils.prune`` on a layer (to fold them);
* the packed weights of torch's int8 layers (to count their parameters);
* ``torch.utils._pytree.tree_flatten`` (the tensors in a module's output).
"""

import types

import torch
from torch import nn
from torch.nn.utils import prune
from torch.utils._pytree import tree_flatten

from . import check_version

TESTED = ("2.13", "2.13")
DECLARED = ("2.2", "2.99")  # pyproject.toml: torch>=2.2,<3
check_version("torch", torch.__version__, *DECLARED)

# every private name of torch this adapter reads (imports, attributes, getattr), checked against its
# source by tests/test_architecture.py: what to re-check when a new torch release is tested
READS = (
    "_BatchNorm",
    "_ConvNd",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks",
    "_forward_pre_hooks",
    "_non_persistent_buffers_set",
    "_opt_called",
    "_packed_params",
    "_post_accumulate_grad_hooks",
    "_tensor_name",
    "_weight_bias",
    "torch.ops",
    "torch.utils._pytree",
)

# torch's private methods that skensemble's classes override, and why.
OVERRIDDEN = {}

BATCH_NORM_TYPES = (nn.modules.batchnorm._BatchNorm,)
CONV_TYPES = (nn.modules.conv._ConvNd,)

_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def has_hooks(module):
    """Whether any hook would see ``module``'s forward or backward pass (per module, per parameter or global)."""
    if any(getattr(nn.modules.module, "_global" + name, None) for name in _HOOKS):
        return True
    for m in module.modules():
        if any(getattr(m, name, None) for name in _HOOKS):
            return True
    for p in module.parameters():
        if getattr(p, "_backward_hooks", None) or getattr(p, "_post_accumulate_grad_hooks", None):
            return True
    return False


_GLOBAL_HOOKS = tuple(getattr(nn.modules.module, "_global" + name, None) for name in _HOOKS)  # mutated in place


def _hooked(module):
    return module._forward_hooks or module._forward_pre_hooks or module._backward_hooks or module._backward_pre_hooks


def call_layers(module, X):
    """``module(X)`` for a module whose ``forward`` is ``self.layers(X)`` (an ``nn.Sequential``).

    Where no hook would see them (global, on the module, its ``layers`` or
    a layer), each layer's ``forward`` is called directly: torch's call
    machinery costs about 1.5 us per module, a third of an MLP(256, 256)'s
    forward on one row.  A hooked layer is called as usual.
    """
    if None in _GLOBAL_HOOKS or any(_GLOBAL_HOOKS) or _hooked(module) or _hooked(module.layers):
        return module(X)
    for layer in module.layers:
        X = layer(X) if _hooked(layer) else layer.forward(X)
    return X


def activation_backward_kernels():
    """The aten kernels autograd calls for the activations' gradients, or ``None`` where one is missing.

    A namespace with ``threshold_backward``, ``tanh_backward``,
    ``sigmoid_backward``, ``leaky_relu_backward``, ``gelu_backward`` and
    ``silu_backward``.
    """
    names = ("threshold_backward", "tanh_backward", "sigmoid_backward", "leaky_relu_backward",
             "gelu_backward", "silu_backward")
    try:
        return types.SimpleNamespace(**{name: getattr(torch.ops.aten, name) for name in names})
    except (AttributeError, RuntimeError):
        return None


def is_non_persistent_buffer(module, name):
    """Whether ``module``'s buffer ``name`` is left out of its ``state_dict``."""
    return name in module._non_persistent_buffers_set


def fold_pruning_masks(layer):
    """Make the weights ``torch.nn.utils.prune`` masks on ``layer`` plain parameters again (zeros stay)."""
    for hook in list(layer._forward_pre_hooks.values()):
        if isinstance(hook, prune.BasePruningMethod):
            prune.remove(layer, hook._tensor_name)


def packed_weights(layer):
    """The weight and bias tensors packed inside one of torch's int8 layers (empty for any other layer)."""
    packed = getattr(layer, "_packed_params", None)
    if packed is None or not hasattr(packed, "_weight_bias"):
        return []
    return [t for t in packed._weight_bias() if t is not None]


def mark_stepped(optimizer):
    """Tell ``optimizer``'s learning-rate schedulers that its weights were stepped (by another optimizer).

    A scheduler warns when it steps before its optimizer ever did (a
    reading of ``_opt_called``, which ``Optimizer.step`` sets); a fused
    member's own optimizer never steps, the fused one steps its weights.
    """
    optimizer._opt_called = True


def tensors_in(tree):
    """The tensors in a nested structure of tuples, lists and dicts (a module's output), in order."""
    return [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]


__all__ = [
    "BATCH_NORM_TYPES",
    "CONV_TYPES",
    "OVERRIDDEN",
    "READS",
    "TESTED",
    "activation_backward_kernels",
    "call_layers",
    "fold_pruning_masks",
    "has_hooks",
    "is_non_persistent_buffer",
    "mark_stepped",
    "packed_weights",
    "tensors_in",
]
