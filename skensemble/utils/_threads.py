"""How many torch threads a fit uses: the cores it may use and the net's size, never the machine's load.

Measured on this project's 2-core machines (``benchmarks/bench_busy.py``,
``benchmarks/results/busy.md``): a second thread speeds a fit up by at most
1.09x while a training batch takes fewer than about 4 million multiply-adds
forward (a (128, 128) MLP on 64 features at batch 128; a convolution counts
its weights at every output position), and by 1.3-1.6x for (256, 256) and
(512, 512) MLPs.  So by default (``"auto"``) a fit uses one thread for small
nets and, for larger ones, the cores this process may run on (its CPU
affinity, capped by its cgroup quota) but never more than the calling
thread's ``torch.get_num_threads()``.  The count depends on nothing that
changes from one minute to the next: convolutions' and norm layers'
gradients round differently on one thread and on two, so a count read from
the load made a seeded fit's result depend on what else was running.

Two spinning OpenMP threads on cores that another process is using slow a
fit down many times over (30-70x for a (256, 256) MLP beside two CPU-bound
processes).  ``"adaptive"`` keeps the choice skensemble made before: the
cores left free by the other runnable processes (fast beside other work,
but a fit's rounding then follows the load).

Each fit sets its count in its own thread and restores that thread's count
when it ends (torch keeps the OpenMP count per thread), so concurrent fits
(``backend="threading"``) neither see nor undo each other's counts.

Override with ``skensemble.set_config(fit_threads=...)`` (or
``config_context``): an integer (that many threads for every fit),
``"keep"`` (never change torch's setting), ``"adaptive"`` or ``"auto"``
(the default).  The environment variable ``SKENSEMBLE_FIT_THREADS`` sets
the default (worker processes read it too).
"""

import glob
import os
import threading
import time
from contextlib import contextmanager

import torch

from ._config import get_config

SMALL_WORK = 4_000_000  # forward multiply-adds of a training batch below which a second thread does not pay

_local = threading.local()  # each thread's nesting depth of fit_threads


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
    if isinstance(setting, int):
        return setting
    if work < SMALL_WORK:
        return 1
    cores = available_cores() - (busy_cores() if setting == "adaptive" else 0)
    return max(1, min(current, cores))


@contextmanager
def fit_threads(work):
    """Run a fit with :func:`choose_threads` torch threads; this thread's count is restored after.

    Every fit sets its count in its own thread, also while other fits run:
    torch keeps the OpenMP count per thread once a thread has set it, so a
    fit that left the count to the first of concurrent fits ran with its
    thread's default instead (two threads beside seven one-thread fits, and
    results that depended on which fit started first).  A nested fit
    (fine-tuning inside a pruning fit) keeps the outer fit's count.
    """
    depth = getattr(_local, "depth", 0)
    own = torch.get_num_threads()
    n = choose_threads(work, own) if depth == 0 else own
    if n != own:
        torch.set_num_threads(n)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        if torch.get_num_threads() != own:
            torch.set_num_threads(own)
