"""Small torch helpers that leave the caller's module as it was."""

import io
import warnings
from contextlib import contextmanager

import torch

from .._compat.torch import CONV_TYPES, packed_weights


@contextmanager
def eval_mode(module):
    """Run the block with ``module`` in eval mode, then restore every submodule's flag.

    ``module.train(was_training)`` would set all submodules to the root's
    flag; this restores each one (a user may freeze batch norms in eval mode
    inside a training module).  A root already in eval mode (``module.eval()``
    sets every submodule so, and training ends with it) is used as it is: the
    check costs one attribute read on the prediction path.
    """
    if not module.training:  # a module in eval mode (as training leaves it) predicts as it is
        yield module
        return
    training = [m for m in module.modules() if m.training]
    if not training:  # already in eval mode: nothing to set or restore
        yield module
        return
    module.eval()
    try:
        yield module
    finally:
        for m in training:
            m.training = True


def set_submodule(root, name, new):
    """Replace the submodule ``name`` (a dotted path such as ``"blocks.0"``) of ``root`` by ``new``."""
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def state_size_bytes(module):
    """Bytes of ``torch.save(module.state_dict())``: the size of a module's weights on disk."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's TypedStorage notice for int8 states
        torch.save(module.state_dict(), buf)
    return buf.tell()


_INT8 = (torch.int8, torch.qint8, torch.quint8)


def count_params(module, nonzero=False):
    """Number of stored weights of ``module`` (only the non-zero ones if ``nonzero``).

    Weights are the module's parameters, its int8 weight buffers
    (weight-only int8) and the packed weights of torch's int8 layers,
    counted unpacked.  Batch-norm statistics and quantization scales are not
    weights.  The one parameter counter of skensemble: pruning's
    ``n_params_`` and the compression report both use it.
    """
    tensors = list(module.parameters()) + [b for b in module.buffers() if b.dtype in _INT8]
    for layer in module.modules():
        tensors += packed_weights(layer)
    total = 0
    for t in tensors:
        t = t.dequantize() if t.is_quantized else t
        total += int(torch.count_nonzero(t)) if nonzero else t.numel()
    return total


def multiply_adds_per_row(module, row):
    """Multiply-adds of one forward pass of ``module`` on ``row`` (a batch of one), from its Linear and Conv layers.

    A convolution counts its weights once per output position, so a small
    conv net that runs its kernels over long signals counts as the work it
    is.  None when the module does not run on ``row`` (it is then for the
    caller to estimate otherwise).
    """
    total = 0

    def count(layer, _inputs, output):
        nonlocal total
        if not torch.is_tensor(output) or output.dim() < 2:
            return
        if isinstance(layer, torch.nn.Linear):
            positions = output.numel() // layer.out_features  # rows of the batch of one (and any extra dims)
        else:
            positions = output[0, 0].numel()  # a convolution's output positions
        total += layer.weight.numel() * positions

    layers = [m for m in module.modules() if isinstance(m, (torch.nn.Linear, *CONV_TYPES))]
    handles = [m.register_forward_hook(count) for m in layers]
    try:
        with torch.no_grad(), eval_mode(module):
            module(row)
    except Exception:  # noqa: BLE001 - any module: the caller falls back
        return None
    finally:
        for h in handles:
            h.remove()
    return total
