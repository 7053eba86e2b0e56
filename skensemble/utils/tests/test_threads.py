"""Torch threads per fit: one for small nets, the process's cores for large ones (not the load), each thread's count restored."""

import threading

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import skensemble
from skensemble.nets import MLPNetClassifier
from skensemble.utils import _threads
from skensemble.utils._threads import SMALL_WORK, choose_threads, fit_threads


class RecordThreads(Callback):
    def initialize(self):
        self.seen = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())


@pytest.fixture
def two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def _threads_in_fit(hidden, **params):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(256, 64)).astype(np.float32)
    recorder = RecordThreads()
    net = MLPNetClassifier(hidden, max_epochs=2, callbacks=[("rec", recorder)], random_state=0, **params)
    net.fit(X, (X[:, 0] > 0).astype(int))
    return dict(net.net_.callbacks_)["rec"].seen


def test_small_nets_train_on_one_thread_and_the_count_is_restored(two_threads):
    with skensemble.config_context(fit_threads="auto"):
        assert _threads_in_fit((16,)) == [1, 1]
    assert torch.get_num_threads() == 2


def test_large_nets_use_the_process_cores_whatever_the_load(two_threads, monkeypatch):
    monkeypatch.setattr(_threads, "available_cores", lambda: 2)
    monkeypatch.setattr(_threads, "busy_cores", lambda: 0)
    with skensemble.config_context(fit_threads="auto"):  # the default (the suite runs on one thread)
        assert _threads_in_fit((512, 512)) == [2, 2]
        monkeypatch.setattr(_threads, "busy_cores", lambda: 1)  # another process is computing
        assert _threads_in_fit((512, 512)) == [2, 2]  # the default does not read the load
        monkeypatch.setattr(_threads, "available_cores", lambda: 1)  # affinity or quota: one core
        assert _threads_in_fit((512, 512)) == [1, 1]
    assert torch.get_num_threads() == 2


def test_adaptive_leaves_the_busy_cores(two_threads, monkeypatch):
    monkeypatch.setattr(_threads, "available_cores", lambda: 2)
    monkeypatch.setattr(_threads, "busy_cores", lambda: 1)
    with skensemble.config_context(fit_threads="adaptive"):
        assert _threads_in_fit((512, 512)) == [1, 1]
        monkeypatch.setattr(_threads, "busy_cores", lambda: 0)
        assert _threads_in_fit((512, 512)) == [2, 2]
    assert torch.get_num_threads() == 2


def test_never_more_than_the_caller_allows(monkeypatch):
    monkeypatch.setattr(_threads, "available_cores", lambda: 16)
    monkeypatch.setattr(_threads, "busy_cores", lambda: 0)
    for policy in ("auto", "adaptive"):
        with skensemble.config_context(fit_threads=policy):
            assert choose_threads(10 * SMALL_WORK, current=3) == 3
            assert choose_threads(SMALL_WORK - 1, current=3) == 1


@pytest.mark.parametrize("setting, expected", [("keep", 2), ("3", 3), ("auto", 1)])
def test_environment_override(two_threads, monkeypatch, setting, expected):
    monkeypatch.setenv("SKENSEMBLE_FIT_THREADS", setting)
    assert choose_threads(SMALL_WORK // 2, current=2) == expected


def test_concurrent_fits_restore_the_callers_count(two_threads):
    errors = []

    def fit():
        try:
            _threads_in_fit((16,))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=fit) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors and torch.get_num_threads() == 2


def test_each_thread_gets_its_own_count_back(two_threads):
    """A thread's count after its fit is its own, whatever the main thread or other fits set meanwhile."""
    seen, release = {}, threading.Event()

    def worker():
        torch.set_num_threads(1)
        with fit_threads(1):
            release.wait(5)
        seen["after"] = torch.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    with fit_threads(1):  # the main thread's fit ends first, while the worker's still runs
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2  # restored at once, not when the last concurrent fit ends
    release.set()
    t.join()
    assert seen == {"after": 1} and torch.get_num_threads() == 2


def test_nested_blocks_restore_once(two_threads):
    with fit_threads(1):
        assert torch.get_num_threads() == 1
        with fit_threads(10 * SMALL_WORK):
            assert torch.get_num_threads() == 1  # the outer fit's choice stands
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_machine_readings_are_sane():
    assert 1 <= _threads.available_cores() <= (__import__("os").cpu_count() or 1)



def test_a_spinning_process_counts_as_busy():
    """busy_cores sees another process's runnable thread (it read 0 on every machine before, it can fail now)."""
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # the child is running its loop
        assert max(_threads.busy_cores() for _ in range(5)) >= 1
    finally:
        child.kill()
        child.wait()


def test_unreadable_machine_counts_as_idle(monkeypatch):
    def unreadable():
        raise OSError("no /proc here")

    monkeypatch.setattr(_threads, "_runnable_total", unreadable)
    assert _threads.busy_cores() == 0


def test_own_threads_falling_asleep_do_not_count_as_busy(monkeypatch):
    """An OpenMP worker counted in the machine-wide total, asleep when the own threads are read again."""
    last = []  # the worker is runnable when the total is read and asleep right after

    def total():
        last.append("total")
        return 2

    def own():
        asleep = bool(last) and last[-1] == "total"
        last.append("own")
        return 1 if asleep else 2

    monkeypatch.setattr(_threads, "_runnable_own", own)
    monkeypatch.setattr(_threads, "_runnable_total", total)
    assert _threads.busy_cores() == 0
    monkeypatch.setattr(_threads, "_runnable_own", lambda: 1)
    totals = iter([3, 1, 3])  # other processes runnable in two readings of three: a transient
    monkeypatch.setattr(_threads, "_runnable_total", lambda: next(totals))
    assert _threads.busy_cores() == 0
    monkeypatch.setattr(_threads, "_runnable_total", lambda: 3)  # two other threads in every reading
    assert _threads.busy_cores() == 2


def test_work_counts_a_convolution_at_every_position():
    from torch import nn

    from skensemble.utils._torch import multiply_adds_per_row

    conv = nn.Sequential(nn.Conv1d(1, 16, 3, padding=1), nn.Flatten(), nn.Linear(16 * 40, 4))
    assert multiply_adds_per_row(conv, torch.zeros(1, 1, 40)) == 16 * 3 * 40 + 16 * 40 * 4
    assert multiply_adds_per_row(nn.Linear(3, 2), torch.zeros(1, 5)) is None  # does not run: caller's fallback


def _conv_and_resnet_predictions():
    """A conv net with batch norm and a ResNet, each above the one-thread size, fitted with random_state=0."""
    from skensemble.nets import ConvNetClassifier, ResNetClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(512, 64)).astype(np.float32)
    y = (X[:, :8].sum(1) > 0).astype(int)
    nets = [ConvNetClassifier((1, 64), channels=(32, 32), hidden_layer_sizes=(64,), batch_norm=True, max_epochs=2,
                              random_state=0),
            ResNetClassifier(width=256, n_blocks=2, max_epochs=2, random_state=0)]
    out = []
    for net in nets:
        recorder = RecordThreads()
        net.set_params(callbacks=[("rec", recorder)]).fit(X, y)
        out.append((dict(net.net_.callbacks_)["rec"].seen, net.predict_proba(X)))
    return out


@pytest.mark.slow
def test_a_busy_machine_does_not_change_a_seeded_fit(two_threads):
    """Fitted alone and beside two CPU-bound processes: the same thread count and identical predictions."""
    import subprocess
    import sys
    import time

    with skensemble.config_context(fit_threads="auto"):
        alone = _conv_and_resnet_predictions()
        children = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        try:
            time.sleep(0.3)
            assert _threads.busy_cores() >= 1  # the machine is busy (the old rule would have taken 1 thread)
            busy = _conv_and_resnet_predictions()
        finally:
            for child in children:
                child.kill()
                child.wait()
    expected = min(2, _threads.available_cores())
    for (threads_alone, pred_alone), (threads_busy, pred_busy) in zip(alone, busy):
        assert threads_alone == threads_busy == [expected] * 2
        np.testing.assert_array_equal(pred_alone, pred_busy)
