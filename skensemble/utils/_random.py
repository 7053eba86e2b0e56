"""Seeding that makes torch fits reproducible without touching global state.

Two sources of randomness serve a fit:

* :func:`fit_generator` -- the fit's own ``torch.Generator``, seeded from its
  ``random_state``.  Shuffles (``TensorLoader``) and skensemble's dropout
  (:class:`~skensemble.nets.SeededDropout`) draw from it, so fits running in
  threads at the same time draw exactly what they would draw one after the
  other.
* :func:`torch_seed` -- torch's process-wide generator, seeded for a block and
  restored after it.  Weight initialisation (``reset_parameters`` draws from
  it) and a user's module that draws from it in ``forward`` (``nn.Dropout``,
  ``torch.rand``) use it.  As the generator is one per process, the block
  holds a process-wide lock: two blocks never interleave their draws (or
  restore each other's state), so they are reproducible in threads too, and
  run one at a time.
"""

import contextvars
import threading
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

_MAX_SEED = np.iinfo(np.int32).max

# torch's process-wide generators are shared by every thread: one seeded block at a time
_GLOBAL_RNG_LOCK = threading.RLock()

# the generator of the fit running in this thread (a context variable: each thread sees its own)
_FIT_GENERATOR = contextvars.ContextVar("skensemble_fit_generator", default=None)


def draw_seed(random_state):
    """Draw one integer seed from ``random_state`` (int, RandomState or None)."""
    return int(check_random_state(random_state).randint(_MAX_SEED))


def make_generator(seed, device="cpu"):
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    return torch.Generator(device=torch.device(device)).manual_seed(int(seed))


@contextmanager
def fit_generator(seed, device="cpu"):
    """Run the block with a generator of its own (seeded with ``seed``) as this thread's fit generator.

    Yields the generator.  Nested blocks restore the outer one when they end.
    """
    generator = make_generator(seed, device)
    token = _FIT_GENERATOR.set(generator)
    try:
        yield generator
    finally:
        _FIT_GENERATOR.reset(token)


def current_generator():
    """The generator of the fit running in this thread, or ``None`` outside a fit (torch's global one is used)."""
    return _FIT_GENERATOR.get()


@contextmanager
def torch_seed(seed, device="cpu"):
    """Run the block with torch's global RNG seeded to ``seed``, then restore it.

    The global torch random state (CPU, and the CUDA device in use when
    ``device`` is a CUDA device) is the same after the block as before, so a
    fit with a fixed ``random_state`` neither depends on nor changes the
    caller's RNG.  The block holds a process-wide lock (see the module's
    docstring): keep it short, or accept that such blocks run one at a time.
    """
    devices = []
    dev = torch.device(device)
    if dev.type == "cuda":
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices):
        # the generators forked above, seeded as torch.manual_seed would (which also seeds every
        # other backend and, before CUDA is initialised, records a traceback: ~1 ms a call)
        torch.default_generator.manual_seed(seed)
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
