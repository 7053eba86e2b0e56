"""Deep ensembles and fused training: K seeds of one net trained as one batched module."""

import contextlib
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import EpochScoring, GradientNormClipping, LRScheduler

import skensemble
from skensemble.ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor
from skensemble.ensemble._fused import (
    StackedMLP, _Member, _member_loss, _move_optimizer_state, fused_fit, fusable_reason, fusion_groups)
from skensemble.nets import ConvNetClassifier, MLPNetClassifier, MLPNetRegressor
from skensemble.nets._modules import MLPModule
from skensemble.utils._random import torch_seed

NET = MLPNetClassifier((64, 32), max_epochs=8, batch_size=64, lr=3e-3, random_state=0)


@pytest.fixture(scope="module")
def fused_and_separate(digits_split):
    X_train, _, y_train, _ = digits_split
    kwargs = dict(n_estimators=3, random_state=0)
    fused = DeepEnsembleClassifier(NET, fused=True, **kwargs).fit(X_train, y_train)
    separate = DeepEnsembleClassifier(NET, fused=False, **kwargs).fit(X_train, y_train)
    return fused, separate


def test_fused_members_are_the_separately_trained_ones(fused_and_separate, digits_split):
    _, X_test, _, y_test = digits_split
    fused, separate = fused_and_separate
    assert fused.fused_ and not separate.fused_
    for a, b in zip(fused.estimators_, separate.estimators_):
        assert a.random_state == b.random_state
        _assert_same_weights(a, b)
        np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
        assert a.history_[-1, "train_loss"] == pytest.approx(b.history_[-1, "train_loss"], rel=1e-5)
        assert len(a.history_) == 8 and a.history_[-1, "train_batch_count"] == b.history_[-1, "train_batch_count"]
    assert len({m.random_state for m in fused.estimators_}) == 3
    assert fused.score(X_test, y_test) > 0.95
    np.testing.assert_allclose(fused.predict_proba(X_test),
                               np.mean([m.predict_proba(X_test) for m in fused.estimators_], axis=0))


def test_fused_members_write_the_history_rows_of_their_own_fit(fused_and_separate, capsys, digits_split):
    """One epoch body: skorch's callbacks write each fused member's rows, with the keys its own fit writes."""
    fused, separate = fused_and_separate
    for a, b in zip(fused.estimators_, separate.estimators_):
        for row_a, row_b in zip(a.history_, b.history_):
            assert sorted(row_a) == sorted(row_b)  # epoch, batches, train_batch_count, train_loss(_best), dur
            assert [sorted(batch) for batch in row_a["batches"]] == [sorted(batch) for batch in row_b["batches"]]
            assert row_a["train_loss_best"] == row_b["train_loss_best"] and row_a["dur"] > 0
    X_train, _, y_train, _ = digits_split
    verbose = clone(NET).set_params(max_epochs=2, verbose=1)
    capsys.readouterr()
    assert DeepEnsembleClassifier(verbose, n_estimators=2, fused=True, random_state=0).fit(X_train, y_train).fused_
    printed = capsys.readouterr().out
    assert printed.count("train_loss") == 2 and printed.count("\n      2 ") == 2  # each member's table


def test_fused_with_dropout_weight_decay_l1_sgd_and_activations(digits_split):
    X_train, X_test, y_train, _ = digits_split
    for params in ({"dropout": 0.3}, {"weight_decay": 1e-3, "l1": 1e-5}, {"optimizer": "sgd", "lr": 0.05},
                   {"activation": "gelu", "dropout": 0.1}, {"activation": "tanh"}):
        net = clone(NET).set_params(max_epochs=3, **params)
        fused = fused_fit([clone(net).set_params(random_state=s) for s in (1, 2)], X_train, y_train)
        for seed, member in zip((1, 2), fused):
            alone = clone(net).set_params(random_state=seed).fit(X_train, y_train)
            _assert_same_weights(member, alone, str(params))


def test_fused_members_validate_once_and_own_their_encoders(digits_split):
    """The first member's validation serves the group: every member gets its own copy of the fitted encoder
    (equal statistics, distinct objects) and the weights its own fit on the raw table gives."""
    import pandas as pd

    X_train, X_test, y_train, _ = digits_split
    frame = pd.DataFrame(X_train[:, :8], columns=[f"p{j}" for j in range(8)])
    frame["kind"] = np.where(X_train[:, 20] > 8, "dark", "light")
    frame.loc[::7, "p3"] = np.nan
    net = clone(NET).set_params(max_epochs=2)
    fused = fused_fit([clone(net).set_params(random_state=s) for s in (1, 2)], frame, y_train)
    encoders = [m.table_encoder_ for m in fused]
    assert encoders[0] is not encoders[1] and encoders[0].encoding_ is not encoders[1].encoding_
    for seed, member in zip((1, 2), fused):
        alone = clone(net).set_params(random_state=seed).fit(frame, y_train)
        assert list(member.feature_names_in_) == list(alone.feature_names_in_) == list(frame.columns)
        assert member.table_encoder_.categories_ == alone.table_encoder_.categories_ == [["light", "dark"]]
        np.testing.assert_array_equal(member.table_encoder_.center_, alone.table_encoder_.center_)
        _assert_same_weights(member, alone)
        np.testing.assert_array_equal(member.predict_proba(frame[:20]), alone.predict_proba(frame[:20]))


def _assert_same_weights(a, b, msg=""):
    """Bit for bit: the members' products, masks and optimizer steps are those of their own fits."""
    for p, q in zip(a.net_.module_.parameters(), b.net_.module_.parameters()):
        assert torch.equal(p, q), f"{msg} max diff {(p - q).abs().max().item()}"


def test_fused_closed_form_step_equals_autograd(digits_split):
    """The stacked module's written-out gradients are autograd's (with dropout: the same masks)."""
    X_train, _, y_train, _ = digits_split
    members = [_Member(clone(NET).set_params(random_state=s, dropout=0.2), X_train, y_train) for s in (1, 2)]
    stacked = StackedMLP([m.net.module_ for m in members]).train()
    X = torch.as_tensor(members[0].X[:50]).expand(2, 50, -1)
    y = torch.stack([torch.as_tensor(m.y[:50]) for m in members])
    generators = lambda: [torch.Generator().manual_seed(s) for s in (3, 4)]  # noqa: E731
    losses = _member_loss(stacked(X, generators()), y, True)
    (losses.sum() + 1e-3 * sum(W.abs().sum() for W in stacked.weights)).backward()
    expected = [p.grad.clone() for p in stacked.parameters()]
    closed = stacked.closed_form_step(X, y, generators(), True, 1e-3)
    np.testing.assert_allclose(closed, losses.detach(), rtol=1e-6)
    for got, want in zip((p.grad for p in stacked.parameters()), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)


# every torch.optim class a net trains with (SparseAdam needs sparse gradients, Muon 2-D parameters only)
NET_OPTIMIZERS = [torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop, torch.optim.Adagrad,
                  torch.optim.Adadelta, torch.optim.Adamax, torch.optim.ASGD, torch.optim.NAdam, torch.optim.RAdam,
                  torch.optim.Rprop, torch.optim.Adafactor, torch.optim.LBFGS]
STACKABLE = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop)


@pytest.mark.parametrize("optimizer", [o for o in NET_OPTIMIZERS if o is not torch.optim.LBFGS])
def test_fused_optimizer_steps_each_member_as_its_own_bit_for_bit(optimizer):
    """Given the same gradients, the fused step equals each member's own optimizer step exactly.

    The fused optimizer steps whole stacked tensors where the members' slices
    are whole numbers of 64 elements and aliases of the slices elsewhere: one
    fused Adam over a stack of 10-bias slices rounds their vectorised body
    and scalar tail differently, one element within some dozens of steps.
    """
    torch.manual_seed(0)
    modules = [MLPModule(64, 10, (256, 33)) for _ in range(4)]
    stacked = StackedMLP(modules)
    views = stacked.member_parameters()
    params = stacked.optimizer_parameters(views, optimizer)
    whole = [p for p in params if any(p is t for t in stacked.parameters())]
    if optimizer in STACKABLE:
        # the (256, 64) and (33, 256) weights and the 256 biases are stepped whole; the (10, 33) weights and
        # the 33 and 10 biases member by member
        assert [tuple(p.shape) for p in whole] == [(4, 256, 64), (4, 1, 256), (4, 33, 256)]
        assert len(params) == 3 + 3 * 4
    else:  # each member's tensors of its own shapes (Adafactor's factors and norms are per tensor)
        assert whole == [] and len(params) == 6 * 4
    kwargs = {"lr": 0.01, "weight_decay": 1e-3} if optimizer is not torch.optim.Rprop else {"lr": 0.01}
    if optimizer in (torch.optim.Adam, torch.optim.AdamW):
        kwargs["fused"] = True  # as the nets' Adam
    fused = optimizer(params, **kwargs)
    own = [optimizer(m.parameters(), **kwargs) for m in modules]
    for step in range(60):
        grads = [[torch.randn_like(p) * 10.0 ** -(step % 5) for p in m.parameters()] for m in modules]
        for m, opt, gs in zip(modules, own, grads):
            for p, g in zip(m.parameters(), gs):
                p.grad = g
            opt.step()
        for W, b in zip(stacked.weights, stacked.biases):
            W.grad, b.grad = torch.empty_like(W), torch.empty_like(b)
        for k, gs in enumerate(grads):
            for (t, shape), g in zip(stacked._member_shapes(), gs):
                t.grad[k].view(shape).copy_(g)
        stacked.share_grads(views)
        fused.step()
    reference = StackedMLP(modules)  # the members' own weights, stacked again
    for got, want in zip(stacked.parameters(), reference.parameters()):
        assert torch.equal(got, want)
    # each member's optimizer receives the state the fused one kept for its weights
    members = [SimpleNamespace(net=SimpleNamespace(optimizer_=optimizer(m.parameters(), **kwargs), module_=m))
               for m in modules]
    _move_optimizer_state(fused, stacked, views, members)
    for member, opt in zip(members, own):
        for p in member.net.module_.parameters():
            got, want = member.net.optimizer_.state[p], opt.state[p]
            assert got.keys() == want.keys()
            for name in want:
                assert torch.equal(torch.as_tensor(got[name]), torch.as_tensor(want[name])), name


def test_fused_members_keep_training_like_separate_ones(fused_and_separate, digits_split):
    """The optimizer state is written back: one more epoch gives the same net either way."""
    X_train, X_test, y_train, _ = digits_split
    fused, separate = fused_and_separate
    a, b = clone(fused).fit(X_train, y_train).estimators_[0], clone(separate).fit(X_train, y_train).estimators_[0]
    for member in (a, b):
        with torch_seed(0):  # the same shuffle for both
            member.net_.partial_fit(member._validate_X(X_train, reset=False), member.encode_targets(y_train),
                                    epochs=1)
    _assert_same_weights(a, b)


def test_regressor_fused_equals_separate_and_reports_spread():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    y = np.column_stack([X[:, 0] * 2 + X[:, 1] ** 2, X[:, 2]])
    net = MLPNetRegressor((32,), max_epochs=40, lr=0.01, random_state=0)
    fused = DeepEnsembleRegressor(net, n_estimators=3, random_state=1).fit(X, y)
    separate = DeepEnsembleRegressor(net, n_estimators=3, fused=False, random_state=1).fit(X, y)
    assert fused.fused_
    for a, b in zip(fused.estimators_, separate.estimators_):
        _assert_same_weights(a, b)
    mean, std = fused.predict(X, return_std=True)
    assert mean.shape == std.shape == y.shape and np.all(std > 0)
    assert fused.score(X, y) > 0.7


def test_auto_falls_back_and_true_explains(digits_split):
    X_train, _, y_train, _ = digits_split
    early = clone(NET).set_params(early_stopping=True, max_epochs=3)
    assert not DeepEnsembleClassifier(early, n_estimators=2, random_state=0).fit(X_train, y_train).fused_
    with pytest.raises(ValueError, match="early_stopping=True"):
        DeepEnsembleClassifier(early, n_estimators=2, fused=True).fit(X_train, y_train)
    conv = ConvNetClassifier(channels=(4,), max_epochs=1)
    with pytest.raises(ValueError, match="ConvNetClassifier is not an MLPNetClassifier"):
        DeepEnsembleClassifier(conv, n_estimators=2, fused=True).fit(X_train, y_train)
    forest = DeepEnsembleClassifier(RandomForestClassifier(10), n_estimators=2, n_jobs=2, random_state=0)
    forest.fit(X_train, y_train)
    assert not forest.fused_ and forest.estimators_[0].random_state != forest.estimators_[1].random_state


@pytest.mark.parametrize("callbacks", [
    [("lr", LRScheduler(policy="StepLR", step_size=2, gamma=0.3))],
    [("lr", LRScheduler(policy="CyclicLR", base_lr=1e-3, max_lr=1e-2, step_size_up=5, step_every="batch",
                        cycle_momentum=False))],
    [("clip", GradientNormClipping(gradient_clip_value=0.05))],
    [("clip", GradientNormClipping(gradient_clip_value=0.05)), ("lr", LRScheduler(policy="StepLR", step_size=1))],
], ids=["epoch schedule", "batch schedule", "clipping", "both"])
def test_schedules_and_clipping_behave_the_same_fused_and_alone(callbacks, digits_split):
    """Fused members keep LRScheduler and GradientNormClipping: each member's weights, losses and learning
    rates are those of its own fit (its gradients come from autograd alone and the closed form fused: equal
    to float rounding), and the callbacks really act (without them the weights differ)."""
    X_train, X_test, y_train, _ = digits_split
    net = MLPNetClassifier((32,), max_epochs=4, batch_size=64, lr=5e-3, callbacks=callbacks, random_state=0)
    fused = DeepEnsembleClassifier(net, n_estimators=2, fused=True, random_state=0).fit(X_train, y_train)
    separate = DeepEnsembleClassifier(net, n_estimators=2, fused=False, random_state=0).fit(X_train, y_train)
    plain = DeepEnsembleClassifier(clone(net).set_params(callbacks=None), n_estimators=2, fused=True,
                                   random_state=0).fit(X_train, y_train)
    assert fused.fused_ and not separate.fused_
    for a, b, c in zip(fused.estimators_, separate.estimators_, plain.estimators_):
        for wa, wb, wc in zip(a.module_.parameters(), b.module_.parameters(), c.module_.parameters()):
            np.testing.assert_allclose(wa.detach(), wb.detach(), rtol=1e-4, atol=1e-5)
            assert not torch.allclose(wa, wc, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(a.history_[:, "train_loss"], b.history_[:, "train_loss"], rtol=1e-4)
        if "lr" in dict(callbacks):
            scheduled = a.history_[:, "event_lr"] if "event_lr" in a.history_[-1] else \
                [batch["event_lr"] for row in a.history_ for batch in row["batches"]]
            alone = b.history_[:, "event_lr"] if "event_lr" in b.history_[-1] else \
                [batch["event_lr"] for row in b.history_ for batch in row["batches"]]
            assert scheduled == alone and len(set(scheduled)) > 1
            assert a.net_.optimizer_.param_groups[0]["lr"] == b.net_.optimizer_.param_groups[0]["lr"]
        np.testing.assert_allclose(a.predict_proba(X_test), b.predict_proba(X_test), atol=1e-5)


def test_other_callbacks_train_members_one_by_one(digits_split):
    X_train, _, y_train, _ = digits_split
    net = MLPNetClassifier((8,), max_epochs=1, callbacks=[EpochScoring("accuracy", on_train=True)], random_state=0)
    assert fusable_reason(net) == "callbacks other than LRScheduler, GradientNormClipping are set (EpochScoring)"
    assert not DeepEnsembleClassifier(net, n_estimators=2, random_state=0).fit(X_train, y_train).fused_


def test_fusion_groups():
    a = MLPNetClassifier((8,), random_state=0)
    groups = fusion_groups([a, clone(a).set_params(random_state=1), clone(a).set_params(lr=0.1),
                            RandomForestClassifier(), clone(a).set_params(random_state=5)])
    assert groups == [[0, 1, 4]]
    scheduled = clone(a).set_params(callbacks=[("lr", LRScheduler(policy="StepLR", step_size=2))])
    groups = fusion_groups([scheduled, clone(scheduled).set_params(random_state=1),
                            clone(a).set_params(callbacks=[("lr", LRScheduler(policy="StepLR", step_size=3))])])
    assert groups == [[0, 1]]  # equal callbacks fuse, a different schedule does not


def test_composes_and_saves(fused_and_separate, digits_split, tmp_path):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, y_test = digits_split
    fused, _ = fused_and_separate
    path = skensemble.save(fused, tmp_path / "deep.zip")
    loaded = skensemble.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fused.predict_proba(X_test))
    frame = pd.DataFrame(X_train, columns=[f"p{i}" for i in range(64)])
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y_train]
    small = DeepEnsembleClassifier(clone(NET).set_params(max_epochs=2), n_estimators=2, random_state=0)
    grid = GridSearchCV(small, {"n_estimators": [1, 2]}, cv=2).fit(frame, labels)
    assert set(grid.predict(frame.iloc[:5])) <= set(labels)
    assert list(grid.best_estimator_.feature_names_in_) == list(frame.columns)


def test_voting_and_selection_train_same_shape_members_fused(digits_split):
    """Same-shape members of the other ensembles are fused too, with the same result as separate fits."""
    from sklearn.linear_model import LogisticRegression

    from skensemble.ensemble import EnsembleSelectionClassifier, VotingClassifier, VotingRegressor

    X_train, X_test, y_train, _ = digits_split
    labels = np.array(list("abcdefghij"))[y_train]
    members = [(f"net{s}", clone(NET).set_params(max_epochs=3, random_state=s)) for s in range(3)]
    members.append(("lr", LogisticRegression(max_iter=200)))
    for make in (lambda fused: VotingClassifier(members, voting="soft", fused=fused),
                 lambda fused: EnsembleSelectionClassifier(members, ensemble_size=5, cv=2, fused=fused)):
        fused, separate = make(True).fit(X_train, labels), make(False).fit(X_train, labels)
        assert all(type(e).__name__ in ("MLPNetClassifier", "LogisticRegression", "str")
                   for e in fused.estimators_)
        np.testing.assert_allclose(fused.predict_proba(X_test), separate.predict_proba(X_test), atol=1e-5)
        assert list(fused.named_estimators_) == list(separate.named_estimators_)
    regressors = [(f"net{s}", MLPNetRegressor((16,), max_epochs=3, random_state=s)) for s in range(2)]
    y = y_train.astype(float)
    np.testing.assert_allclose(VotingRegressor(regressors).fit(X_train, y).predict(X_test),
                               VotingRegressor(regressors, fused=False).fit(X_train, y).predict(X_test),
                               atol=1e-4)
    weights = np.ones(len(y))  # sample weights: members fitted one by one, as before
    VotingRegressor(regressors).fit(X_train, y, sample_weight=weights)


@pytest.mark.parametrize("optimizer", NET_OPTIMIZERS, ids=lambda o: o.__name__)
def test_every_optimizer_of_a_net_trains_ensemble_members(optimizer):
    """Deep ensembles, voting and ensemble selection of same-shape nets fit with any of them (LBFGS: one by one)."""
    from skensemble.ensemble import EnsembleSelectionClassifier, VotingRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = MLPNetClassifier((8,), max_epochs=2, optimizer=optimizer, random_state=0)
    separate = skensemble.config_context(fused_training=False)
    fusable = optimizer is not torch.optim.LBFGS
    with pytest.warns(UserWarning, match="LBFGS evaluates the loss") if not fusable else _no_warning():
        deep = DeepEnsembleClassifier(net, n_estimators=2, random_state=0).fit(X, y)
    assert deep.fused_ is fusable
    with separate:
        alone = DeepEnsembleClassifier(net, n_estimators=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(deep.predict_proba(X), alone.predict_proba(X))  # fused = separate fits
    regressors = [(f"r{s}", MLPNetRegressor((8,), max_epochs=2, optimizer=optimizer, random_state=s))
                  for s in range(2)]
    assert np.isfinite(VotingRegressor(regressors).fit(X, X[:, 0]).predict(X)).all()
    members = [(f"c{s}", clone(net).set_params(random_state=s)) for s in range(2)]
    selection = EnsembleSelectionClassifier(members, ensemble_size=3, cv=2).fit(X, y)
    assert selection.predict_proba(X).shape == (80, 2)


@contextlib.contextmanager
def _no_warning():
    """A fallback warning inside the block fails the test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*not fused")
        yield


@pytest.mark.parametrize("optimizer, params, message", [
    (torch.optim.Rprop, {"weight_decay": 1e-3}, "weight_decay=0.001, but optimizer=Rprop takes no weight_decay"),
    (torch.optim.SparseAdam, {}, "SparseAdam steps sparse gradients only"),
    (torch.optim.Muon, {}, "Muon steps 2-D weight matrices only"),
])
def test_optimizers_a_net_cannot_use_are_refused_by_name(optimizer, params, message):
    X = np.random.RandomState(0).normal(size=(20, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=message):
        MLPNetClassifier((4,), max_epochs=1, optimizer=optimizer, **params).fit(X, X[:, 0] > 0)
