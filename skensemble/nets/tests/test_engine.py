"""The one training engine: callbacks' contract in every training, and per-fit randomness in threads."""

import threading
import time

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.frozen import FrozenEstimator
from skorch.callbacks import Callback, LRScheduler

from skensemble.compression import DistilledClassifier, DistilledRegressor, PrunedClassifier
from skensemble.nets import (ConvNetClassifier, MLPNetClassifier, MLPNetRegressor, NetClassifier,
                             ResNetClassifier)
from skensemble.nets._engine import raised_by_callback


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(300, 8, n_informative=5, n_classes=3, random_state=0)
    return X.astype(np.float32), y


class Recorder(Callback):
    """Counts the trainings it sees and records the learning rate at each epoch."""

    def initialize(self):
        self.begins, self.ends, self.lrs = 0, 0, []
        return self

    def on_train_begin(self, net, **kwargs):
        self.begins += 1

    def on_train_end(self, net, **kwargs):
        self.ends += 1

    def on_epoch_begin(self, net, **kwargs):
        self.lrs.append(net.optimizer_.param_groups[0]["lr"])


def _callback(est, name):
    return dict(est.net_.callbacks_)[name]


def test_pruning_fine_tuning_restarts_and_ends_early_stopping(data):
    """Defect 1: early stopping in the fine-tuning after a cut stops it quietly, counting from zero again."""
    X, y = data
    net = MLPNetClassifier((32,), early_stopping=True, n_iter_no_change=2, max_epochs=200, lr=0.05,
                           callbacks=[("rec", Recorder())], random_state=0).fit(X, y)
    first = net.n_epochs_
    assert first < 200  # it stopped in the first fit, so its misses are past patience
    pruned = PrunedClassifier(FrozenEstimator(net), sparsity=0.5, granularity="neuron", n_steps=2,
                              fine_tune_epochs=100, random_state=0).fit(X, y)
    inner = pruned.estimator_
    tuned = [len(inner.history_) - first]
    assert 2 * 3 <= tuned[0] < 2 * 100  # each step trained >= patience + 1 epochs, and stopped early
    rec = _callback(inner, "rec")
    assert rec.begins == rec.ends == 3  # the fit, then one training per pruning step
    assert pruned.score(X, y) > 0.7


def test_real_keyboard_interrupt_propagates(data):
    """Only a callback's KeyboardInterrupt ends training quietly; one from the module stops the program."""
    X, y = data

    class Interrupted(torch.nn.Module):
        def __init__(self, n_features, n_outputs):
            super().__init__()
            self.linear = torch.nn.Linear(n_features, n_outputs)
            self.calls = 0

        def forward(self, X):
            self.calls += 1
            if self.training and self.calls > 3:
                raise KeyboardInterrupt
            return self.linear(X)

    with pytest.raises(KeyboardInterrupt):
        NetClassifier(Interrupted, max_epochs=3, random_state=0).fit(X, y)


def test_ctrl_c_inside_a_callbacks_prediction_propagates(data):
    """A Ctrl-C that lands in a scoring callback's prediction is not that callback's stop (issue 41)."""
    X, y = data
    interrupted = {"armed": False}

    class Module(torch.nn.Module):
        def __init__(self, n_features, n_outputs):
            super().__init__()
            self.linear = torch.nn.Linear(n_features, n_outputs)

        def forward(self, X):
            if interrupted["armed"] and not self.training:
                raise KeyboardInterrupt  # Ctrl-C while the callback predicts
            return self.linear(X)

    class ScoreOnTrain(Callback):
        def on_epoch_end(self, net, **kwargs):
            interrupted["armed"] = len(net.history) == 2
            net.predict(X)

    class Ended(Callback):
        def on_train_end(self, net, **kwargs):
            interrupted["epochs at the end"] = len(net.history)

    net = NetClassifier(Module, max_epochs=5, callbacks=[("score", ScoreOnTrain()), ("ended", Ended())],
                        random_state=0)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y)
    # training ended where the interrupt landed, and on_train_end ran, as in skorch's fit
    assert interrupted["epochs at the end"] == 2


def test_callback_keyboard_interrupt_is_recognised():
    class Stopper(Callback):
        def on_epoch_end(self, net, **kwargs):
            raise KeyboardInterrupt

    try:
        Stopper().on_epoch_end(None)
    except KeyboardInterrupt as exc:
        assert raised_by_callback(exc)
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        assert not raised_by_callback(exc)


def test_distilled_student_with_early_stopping_and_scheduler(data):
    """Defect 2: a student's early stopping validates on held-out transfer rows; its scheduler is built."""
    X, y = data
    student = MLPNetClassifier((16,), early_stopping=True, n_iter_no_change=3, max_epochs=300, lr=0.02,
                               callbacks=[("sched", LRScheduler("StepLR", step_size=2, gamma=0.5)),
                                          ("rec", Recorder())], random_state=0)
    dist = DistilledClassifier(MLPNetClassifier((32,), max_epochs=30, random_state=0), student=student,
                               random_state=0).fit(X, y)
    history = dist.history_
    assert "valid_loss" in history[-1] and 0 <= history[-1, "valid_acc"] <= 1
    assert len(history) < 300  # early stopping ended it
    lrs = _callback(dist.student_, "rec").lrs
    assert lrs[0] == pytest.approx(0.02) and lrs[4] == pytest.approx(0.005)  # the schedule ran
    assert dist.score(X, y) > 0.7 and dist.fidelity_ > 0.7

    Xr, yr = make_regression(200, 5, random_state=0)
    teacher = MLPNetRegressor((16,), max_epochs=100, lr=0.01, random_state=0).fit(Xr, yr)
    reg = DistilledRegressor(FrozenEstimator(teacher),
                             student=MLPNetRegressor((8,), early_stopping=True, max_epochs=300, lr=0.01,
                                                     random_state=0), random_state=0).fit(Xr, yr)
    assert "valid_loss" in reg.history_[-1] and len(reg.history_) < 300
    assert teacher.score(Xr, yr) > 0.9 and reg.score(Xr, yr) > 0.8


@pytest.mark.parametrize("granularity", ["weight", "neuron"])
def test_scheduler_restarts_on_the_fine_tuning_optimizer(data, granularity):
    """Defect 3: fine-tuning starts at the net's lr on its rebuilt optimizer, and the scheduler steps that one."""
    X, y = data
    net = MLPNetClassifier((32,), max_epochs=8, lr=0.01, random_state=0,
                           callbacks=[("sched", LRScheduler("StepLR", step_size=1, gamma=0.1)),
                                      ("rec", Recorder())]).fit(X, y)
    assert net.net_.optimizer_.param_groups[0]["lr"] < 1e-8  # decayed for 8 epochs in the fit
    pruned = PrunedClassifier(FrozenEstimator(net), sparsity=0.5, granularity=granularity,
                              fine_tune_epochs=3, random_state=0).fit(X, y)
    inner = pruned.estimator_.net_
    lrs = _callback(pruned.estimator_, "rec").lrs[8:]
    assert lrs == pytest.approx([0.01, 0.001, 0.0001])
    sched = dict(inner.callbacks_)["sched"].lr_scheduler_
    assert sched.optimizer is inner.optimizer_  # bound to the optimizer in use


def _threaded_equals_sequential(make, X, y, n=8):
    """Fit ``n`` copies in threads at once; each equals the sequential fit; the fits overlapped in time."""
    expected = make().fit(X, y).predict_proba(X)
    spans, results, errors = [None] * n, [None] * n, []
    barrier = threading.Barrier(n)

    def job(i):
        try:
            barrier.wait()
            start = time.perf_counter()
            results[i] = make().fit(X, y).predict_proba(X)
            spans[i] = (start, time.perf_counter())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # all ran at the same time
    for got in results:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("make", [
    lambda: MLPNetClassifier((16,), dropout=0.3, max_epochs=4, random_state=0),
    lambda: ConvNetClassifier((1, 8), channels=(4,), hidden_layer_sizes=(8,), dropout=0.3, max_epochs=3,
                              random_state=0),
    lambda: ResNetClassifier(width=8, n_blocks=1, dropout=0.3, max_epochs=3, random_state=0),
    lambda: PrunedClassifier(MLPNetClassifier((16,), dropout=0.3, max_epochs=3, random_state=0),
                             sparsity=0.5, granularity="neuron", fine_tune_epochs=2, random_state=0),
    lambda: DistilledClassifier(MLPNetClassifier((16,), dropout=0.3, max_epochs=3, random_state=0),
                                student=MLPNetClassifier((8,), dropout=0.2, max_epochs=3),
                                augment_factor=1, random_state=0),
], ids=["mlp", "conv", "resnet", "pruned", "distilled"])
def test_concurrent_threaded_fits_equal_the_sequential_fit(data, make):
    """Defect 6: eight fits in threads with the same random_state equal the sequential fit exactly."""
    X, y = data
    _threaded_equals_sequential(make, X, y)


def test_cross_validate_and_voting_in_threads_equal_sequential(data):
    """Defect 6, as reported: cross_validate under the threading backend and VotingClassifier(n_jobs=3)."""
    from joblib import parallel_backend
    from sklearn.model_selection import cross_validate

    from skensemble.ensemble import VotingClassifier

    X, y = data
    net = MLPNetClassifier((16,), dropout=0.3, max_epochs=3, random_state=0)
    members = [(f"m{i}", MLPNetClassifier((8 + 4 * i,), dropout=0.3, max_epochs=3, random_state=i))
               for i in range(3)]  # different widths: not fused, fitted in parallel
    sequential = [e.predict_proba(X) for e in cross_validate(net, X, y, cv=3, return_estimator=True)["estimator"]]
    vote = VotingClassifier(members, voting="soft").fit(X, y).predict_proba(X)
    with parallel_backend("threading", n_jobs=3):
        threaded = cross_validate(net, X, y, cv=3, n_jobs=3, return_estimator=True)["estimator"]
        vote_threads = VotingClassifier(members, voting="soft", n_jobs=3).fit(X, y).predict_proba(X)
    for est, want in zip(threaded, sequential):
        np.testing.assert_array_equal(est.predict_proba(X), want)
    np.testing.assert_array_equal(vote_threads, vote)


def test_weighted_training_in_partial_fit_pruning_and_fine_tuning(data):
    """Every training of the engine takes sample weights: equal weights are the unweighted training, exactly."""
    from skensemble.transfer import FineTunedClassifier

    X, y = data
    skew = np.where(y == 1, 10.0, 0.1)

    def partial(weights):
        est = MLPNetClassifier((8,), random_state=0)
        for _ in range(3):
            est.partial_fit(X, y, classes=np.unique(y), sample_weight=weights)
        return est.predict_proba(X)

    def pruned(weights):
        net = MLPNetClassifier((16,), max_epochs=5, random_state=0).fit(X, y)
        return PrunedClassifier(FrozenEstimator(net), granularity="neuron", fine_tune_epochs=3,
                                random_state=0).fit(X, y, sample_weight=weights).predict_proba(X)

    def tuned(weights):
        net = MLPNetClassifier((16,), max_epochs=5, random_state=0).fit(X, y)
        return FineTunedClassifier(FrozenEstimator(net), max_epochs=3, random_state=0).fit(
            X, y, sample_weight=weights).predict_proba(X)

    for train in (partial, pruned, tuned):
        plain = train(None)
        np.testing.assert_array_equal(train(np.full(len(y), 2.0)), plain)
        weighted = train(skew)
        assert weighted[:, 1].mean() > plain[:, 1].mean()  # class 1 weighs more: it gains probability


def test_a_weighted_fit_keeps_its_optimizer_state_and_leaves_the_net_unweighted(data):
    """Weighted fits go through the engine's weighted training too: nothing rebuilds the optimizer after them."""
    X, y = data
    est = MLPNetClassifier((8,), max_epochs=3, random_state=0).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    assert len(est.net_.optimizer_.state) == len(list(est.module_.parameters()))  # Adam's moments are kept
    assert est.net_.sample_weighted is False and est.net_.criterion_.reduction == "mean"
