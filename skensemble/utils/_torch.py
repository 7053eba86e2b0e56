"""Small torch helpers that leave the caller's module as it was."""

import io
import warnings
from contextlib import contextmanager

import torch


@contextmanager
def eval_mode(module):
    """Run the block with ``module`` in eval mode, then restore every submodule's flag.

    ``module.train(was_training)`` would set all submodules to the root's
    flag; this restores each one (a user may freeze batch norms in eval mode
    inside a training module).
    """
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, flag in flags:
            m.training = flag


def state_size_bytes(module):
    """Bytes of ``torch.save(module.state_dict())``: the size of a module's weights on disk."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's TypedStorage notice for int8 states
        torch.save(module.state_dict(), buf)
    return buf.tell()
