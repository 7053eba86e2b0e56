import numpy as np
import pytest
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.svm import SVC
from skorch import NeuralNetClassifier

from skensemble.compression import DistillationLoss, DistilledClassifier, MungeAugmenter
from skensemble.nets import MLPNetClassifier
from skensemble.nets._modules import MLPModule


class CountingForest(RandomForestClassifier):
    """A teacher that counts its fits (class attribute survives cloning)."""

    n_fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).n_fits += 1
        return super().fit(X, y, sample_weight)


@pytest.fixture(scope="module")
def voting_teacher(digits_split):
    X_train, _, y_train, _ = digits_split
    return VotingClassifier(
        [("svc", CalibratedClassifierCV(SVC(), ensemble=False)),
         ("rf", RandomForestClassifier(random_state=0)),
         ("mlp", MLPNetClassifier(random_state=0))],
        voting="soft",
    ).fit(X_train, y_train)


def test_distil_voting_ensemble_within_1_5_points(voting_teacher, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    student = MLPNetClassifier(hidden_layer_sizes=(32,), random_state=0)
    distilled = DistilledClassifier(FrozenEstimator(voting_teacher), student, random_state=0).fit(X_train, y_train)
    teacher_score = voting_teacher.score(X_test, y_test)
    assert distilled.score(X_test, y_test) >= teacher_score - 0.015
    assert 0.95 <= distilled.fidelity_ <= 1.0
    assert distilled.n_transfer_samples_ == 5 * len(X_train)
    assert distilled.student_.module_.layers[0].out_features == 32


def test_frozen_teacher_is_not_refitted(digits_split):
    X_train, _, y_train, _ = digits_split
    teacher = CountingForest(n_estimators=20, random_state=0).fit(X_train, y_train)
    CountingForest.n_fits = 0
    DistilledClassifier(FrozenEstimator(teacher), MLPNetClassifier((16,), max_epochs=3),
                        augment_factor=1, random_state=0).fit(X_train, y_train)
    assert CountingForest.n_fits == 0
    DistilledClassifier(CountingForest(n_estimators=5), MLPNetClassifier((16,), max_epochs=1),
                        augmentation=None, random_state=0).fit(X_train, y_train)
    assert CountingForest.n_fits == 1


@pytest.mark.parametrize("augmentation", [None, "noise", "mixup", "munge", MungeAugmenter(p=0.2),
                                          lambda X, rs: X[:, ::-1].copy()])
def test_augmentations_build_transfer_set(small_data, augmentation):
    X, y = small_data
    d = DistilledClassifier(LogisticRegression(), MLPNetClassifier((8,), max_epochs=2),
                            augmentation=augmentation, augment_factor=2, random_state=0).fit(X, y)
    assert d.n_transfer_samples_ == (1 if augmentation is None else 3) * len(X)
    assert d.predict(X).shape == (len(X),)


def test_gradient_boosting_teacher_string_labels_and_logits(small_data):
    X, y = small_data
    labels = np.array(["a", "b", "c"])[y]
    d = DistilledClassifier(GradientBoostingClassifier(n_estimators=20, random_state=0),
                            MLPNetClassifier((16,), max_epochs=30, lr=0.01),
                            random_state=0).fit(X, labels)
    assert set(d.predict(X)) <= {"a", "b", "c"}
    assert d.score(X, labels) > 0.8
    np.testing.assert_allclose(d.predict_proba(X).sum(axis=1), 1)


def test_net_teacher_uses_logits_and_born_again(digits_mlp, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    student = MLPNetClassifier(max_epochs=5, random_state=1)  # same architecture as digits_mlp
    d = DistilledClassifier(FrozenEstimator(digits_mlp), student, init="teacher",
                            augmentation=None, random_state=0).fit(X_train, y_train)
    # starting from the teacher's weights, 5 epochs keep it as good as the teacher
    assert d.score(X_test, y_test) >= digits_mlp.score(X_test, y_test) - 0.01
    with pytest.raises(ValueError, match="architecture"):
        DistilledClassifier(FrozenEstimator(digits_mlp), MLPNetClassifier((8,), max_epochs=1),
                            init="teacher").fit(X_train, y_train)


def test_user_skorch_student(small_data):
    X, y = small_data
    student = NeuralNetClassifier(MLPModule, module__n_features=6, module__n_outputs=3,
                                  criterion=torch.nn.CrossEntropyLoss, max_epochs=30, lr=0.05,
                                  optimizer=torch.optim.Adam, train_split=None, verbose=0)
    d = DistilledClassifier(LogisticRegression(), student, random_state=0).fit(X.astype(np.float32), y)
    assert d.score(X.astype(np.float32), y) > 0.8
    assert type(d.student_.criterion_) is torch.nn.CrossEntropyLoss  # restored after distillation


def test_distillation_loss_formula():
    torch.manual_seed(0)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    labels = torch.tensor([0.0, 2.0, 1.0, 1.0])
    real = torch.tensor([1.0, 1.0, 0.0, 0.0])
    T, a = 2.0, 0.7
    loss = DistillationLoss(T, a)(s, torch.column_stack([t, labels, real]))
    p_t = torch.softmax(t / T, 1)
    kl = (p_t * (torch.log(p_t) - torch.log_softmax(s / T, 1))).sum(1)
    ce = torch.nn.functional.cross_entropy(s, labels.long(), reduction="none")
    expected = (a * T * T * kl + (1 - a) * real * ce).mean()
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"teacher": SVC()}, TypeError, "SVC has no predict_proba"),
        ({"teacher": LinearRegression()}, TypeError, "LinearRegression has no predict_proba"),
        ({"temperature": 0}, ValueError, "temperature"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"augmentation": "rotate"}, ValueError, "augmentation"),
        ({"augmentation": lambda X, rs: X[:, :2]}, ValueError, "shape"),
        ({"student": RandomForestClassifier()}, TypeError, "student must be"),
    ],
)
def test_bad_input(small_data, kwargs, error, match):
    X, y = small_data
    params = {"teacher": LogisticRegression(), "student": MLPNetClassifier((4,), max_epochs=1)}
    params.update(kwargs)
    with pytest.raises(error, match=match):
        DistilledClassifier(**params).fit(X, y)


def test_teacher_with_other_classes_is_refused(small_data):
    X, y = small_data
    teacher = LogisticRegression().fit(X, y + 10)
    with pytest.raises(ValueError, match="classes_"):
        DistilledClassifier(FrozenEstimator(teacher), MLPNetClassifier((4,), max_epochs=1)).fit(X, y)


def test_gridsearch_and_cross_validate(digits_split):
    X_train, _, y_train, _ = digits_split
    teacher = FrozenEstimator(RandomForestClassifier(n_estimators=30, random_state=0).fit(X_train, y_train))
    d = DistilledClassifier(teacher, MLPNetClassifier((16,), max_epochs=25, lr=3e-3, random_state=0),
                            augment_factor=1, random_state=0)
    grid = {"temperature": [2.0, 4.0], "alpha": [0.5, 0.9], "student__hidden_layer_sizes": [(16,), (32,)]}
    search = GridSearchCV(d, grid, cv=2, n_jobs=2).fit(X_train, y_train)
    assert search.best_score_ > 0.85
    res = cross_validate(d, X_train, y_train, cv=2, n_jobs=2)
    assert res["test_score"].min() > 0.85


def test_student_alone_is_the_deployable_model(voting_teacher, digits_split):
    import pickle

    X_train, X_test, y_train, _ = digits_split
    d = DistilledClassifier(FrozenEstimator(voting_teacher), MLPNetClassifier((16,), max_epochs=5),
                            augment_factor=1, keep_teacher=False, random_state=0).fit(X_train, y_train)
    assert d.teacher_ is None
    student = pickle.loads(pickle.dumps(d.student_))
    np.testing.assert_array_equal(student.predict(X_test), d.predict(X_test))
    assert len(pickle.dumps(d.student_)) < len(pickle.dumps(voting_teacher)) / 10


def test_random_state_seeds_a_student_without_its_own(small_data):
    """random_state makes the whole distillation reproducible, also for a student with no seed of its own."""
    X, y = small_data
    student = MLPNetClassifier((16,), max_epochs=3)  # random_state=None
    fits = [DistilledClassifier(LogisticRegression(), student, augment_factor=1, random_state=seed).fit(X, y)
            for seed in (0, 0, 1)]
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))
    assert not np.array_equal(fits[0].predict_proba(X), fits[2].predict_proba(X))
    assert student.random_state is None and fits[0].student_.random_state is not None
