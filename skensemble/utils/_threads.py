"""How many torch threads a fit uses: the cores it may use, what else is running, and the net's size.

Measured on this project's 2-core machines (``benchmarks/bench_busy.py``,
``benchmarks/results/busy.md``): a second thread speeds a fit up by at most
1.09x while a training batch takes fewer than about 4 million multiply-adds
forward (a (128, 128) MLP on 64 features at batch 128; a convolution counts
its weights at every output position), and by 1.3-1.6x for (256, 256) and
(512, 512) MLPs; but two spinning OpenMP threads
on cores that another process is using slow a fit down many times over.  So
a fit uses one thread for small nets and, for larger ones, the cores left
free by the other runnable processes (at most the caller's
``torch.get_num_threads()``), and restores the caller's setting afterwards.

Concurrent fits (threads, ``backend="threading"``) each set their count in
their own thread; the last to end restores the caller's.  The count is not
part of a fit's randomness, but convolutions' and norm layers' gradients
round differently on one thread and on two: fits of such nets above the
one-thread size are bit-identical only at equal counts (set
``SKENSEMBLE_FIT_THREADS`` for that); smaller nets and MLPs are.

Override with ``skensemble.set_config(fit_threads=...)`` (or
``config_context``): an integer (that many threads for every fit),
``"keep"`` (never change torch's setting) or ``"auto"`` (the default).  The
environment variable ``SKENSEMBLE_FIT_THREADS`` sets the default (worker
processes read it too).
"""

import glob
import os
import threading
import time
from contextlib import contextmanager

import torch

from ._config import get_config

SMALL_WORK = 4_000_000  # forward multiply-adds of a training batch below which a second thread does not pay

_lock = threading.Lock()
_local = threading.local()  # each thread's nesting depth of fit_threads
_active = 0
_saved = None


def available_cores():
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def _runnable_total():
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[0])


def _runnable_own():
    count = 0
    for path in glob.glob("/proc/self/task/*/stat"):
        try:
            with open(path) as f:
                count += f.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            pass
    return count


def busy_cores():
    """Runnable threads of other processes (the least of three readings 1 ms apart), 0 where unknown.

    This process's own threads are read before and after the machine-wide
    count and the larger number is taken: torch's OpenMP workers spin for a
    while after a fit and then sleep, and one counted in the total but
    asleep by the time the own threads are read made an idle machine look
    busy (one fit in 16 took one thread in ``bench_ensembles.py``).
    Readings 1 ms apart skip other processes' transients.
    """
    try:
        readings = []
        for i in range(3):
            if i:
                time.sleep(0.001)
            own = _runnable_own()
            total = _runnable_total()
            readings.append(total - max(own, _runnable_own()))
        return max(0, min(readings))
    except (OSError, ValueError, IndexError):
        return 0


def choose_threads(work, current):
    """Torch threads for a fit whose batches take ``work`` multiply-adds forward, the caller having ``current``."""
    setting = get_config()["fit_threads"]  # skensemble.set_config; default: SKENSEMBLE_FIT_THREADS or "auto"
    if setting == "keep":
        return current
    if setting != "auto":
        return setting
    if work < SMALL_WORK:
        return 1
    return max(1, min(current, available_cores() - busy_cores()))


@contextmanager
def fit_threads(work):
    """Run a fit with :func:`choose_threads` torch threads; the caller's count is restored after.

    Every fit sets its count in its own thread, also while other fits run:
    torch keeps the OpenMP count per thread once a thread has set it, so a
    fit that left the count to the first of concurrent fits ran with its
    thread's default instead (two threads beside seven one-thread fits, and
    results that depended on which fit started first: conv and norm
    layers' gradients depend on the thread count).
    """
    global _active, _saved
    depth = getattr(_local, "depth", 0)
    with _lock:
        _active += 1
        if _active == 1:
            _saved = torch.get_num_threads()
        n = choose_threads(work, _saved) if depth == 0 else None  # nested: the outer fit's choice stands
    if n is not None and n != torch.get_num_threads():
        torch.set_num_threads(n)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        with _lock:
            _active -= 1
            if _active == 0 and torch.get_num_threads() != _saved:
                torch.set_num_threads(_saved)
