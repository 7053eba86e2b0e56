"""Floating-point operations of one prediction, counted from the layers that run.

Convention: FLOPs = 2 x multiply-adds of the ``Linear`` and ``Conv`` layers
(float, half or int8 ones alike) for one sample; element-wise work
(activations, norms, additions, pooling) is not counted.  An
``MLPNetClassifier((256, 256))`` on 64 features with 10 classes does
``2 * (64*256 + 256*256 + 256*10)`` FLOPs.  The count comes from one forward
pass of one row with forward hooks on the module's own leaf layers (removed
afterwards), so it follows pruned and trimmed layers exactly.
"""

import math

import numpy as np
import torch
from torch import nn

from .._compat.torch import CONV_TYPES
from ..utils._access import get_module, net_input
from ..utils._torch import eval_mode


def _layer_macs(layer, out):
    if isinstance(layer, CONV_TYPES):
        per_output = layer.in_channels // layer.groups * math.prod(layer.kernel_size)
        return out[0].numel() * per_output
    if hasattr(layer, "in_features") and hasattr(layer, "out_features"):  # Linear, int8 Linear
        return out[0].numel() * layer.in_features
    return 0


def module_flops(module, x):
    """FLOPs per sample of ``module`` on the batch ``x`` (a tensor of one or more rows)."""
    total, handles = [0], []

    def hook(layer, _args, out):
        if torch.is_tensor(out):
            total[0] += _layer_macs(layer, out)

    for layer in module.modules():
        if next(layer.children(), None) is None:
            handles.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad(), eval_mode(module):
            module(x)
    finally:
        for handle in handles:
            handle.remove()
    return 2 * total[0] // len(x)


def count_flops(model, X):
    """FLOPs of one prediction of ``model`` (see the module's convention), or None.

    Parameters
    ----------
    model : torch module or fitted estimator
        A net, a compressed net (an int8 model counts as its float structure:
        the same multiply-adds), a pipeline ending in one, or an ensemble
        (its nets' FLOPs add up; members without a torch net count 0).
    X : array-like
        Rows as the model takes them (one is enough); a pipeline's
        preprocessing is applied before the net.

    Returns
    -------
    flops : int or None
        None when the model holds no torch module.
    """
    if isinstance(model, nn.Module):
        device = next(model.parameters()).device
        return module_flops(model, torch.as_tensor(np.asarray(X[:1], dtype=np.float32), device=device))
    try:
        module = get_module(model)
    except TypeError:
        members = getattr(model, "estimators_", None)
        if not isinstance(members, (list, tuple)):
            return None
        counts = [count_flops(m[1] if isinstance(m, tuple) else m, X) for m in members]
        counts = [c for c in counts if c is not None]
        return sum(counts) if counts else None
    row = X.iloc[:1] if hasattr(X, "iloc") else np.asarray(X)[:1]
    device = next(module.parameters()).device
    return module_flops(module, torch.as_tensor(net_input(model, row), device=device))
