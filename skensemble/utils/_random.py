"""Seeding that makes torch fits reproducible without touching global state."""

from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

_MAX_SEED = np.iinfo(np.int32).max


def draw_seed(random_state):
    """Draw one integer seed from ``random_state`` (int, RandomState or None)."""
    return int(check_random_state(random_state).randint(_MAX_SEED))


@contextmanager
def torch_seed(seed, device="cpu"):
    """Run the block with torch's RNG seeded to ``seed``, then restore it.

    The global torch random state (CPU, and the CUDA device in use when
    ``device`` is a CUDA device) is the same after the block as before, so a
    fit with a fixed ``random_state`` neither depends on nor changes the
    caller's RNG.
    """
    devices = []
    dev = torch.device(device)
    if dev.type == "cuda":
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        # the generators forked above, seeded as torch.manual_seed would (which also seeds every
        # other backend and, before CUDA is initialised, records a traceback: ~1 ms a call)
        torch.default_generator.manual_seed(seed)
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
