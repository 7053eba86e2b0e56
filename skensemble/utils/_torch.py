"""Small torch helpers that leave the caller's module as it was."""

from contextlib import contextmanager


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
