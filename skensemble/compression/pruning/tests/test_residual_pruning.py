"""Pruning residual networks written by users: neurons, channels and whole blocks."""

import pytest
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from torch import nn

from skensemble.compression import PrunedClassifier, PrunedRegressor, StructuralPruningError, count_params
from skensemble.nets import MLPNetClassifier, NetClassifier, ResNetRegressor
from skensemble.utils._torch import state_size_bytes

from ...tests.user_modules import ResNet18Style, TabularResNet

_RESNET = {"width": 128, "hidden": 256, "n_blocks": 3}


@pytest.fixture(scope="module")
def dense_resnet(digits_split):
    X_train, _, y_train, _ = digits_split
    return NetClassifier(TabularResNet, module_params=_RESNET, max_epochs=20, random_state=0).fit(
        X_train, y_train)


@pytest.fixture(scope="module")
def image_resnet(digits_split):
    """ResNet-18's layout, trained briefly on the 8x8 digit images."""
    X_train, _, y_train, _ = digits_split
    return NetClassifier(ResNet18Style, module_params={"widths": (16, 32, 32, 64)}, max_epochs=6,
                         random_state=0).fit(X_train, y_train)


def test_half_the_neurons_of_a_user_resnet(dense_resnet, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pruned = PrunedClassifier(FrozenEstimator(dense_resnet), sparsity=0.5, granularity="neuron",
                              random_state=0).fit(X_train, y_train)
    module = pruned.estimator_.module_
    assert count_params(module) == pruned.n_params_ <= 0.35 * count_params(dense_resnet.module_)
    assert module.first.out_features == module.blocks[0].linear2.out_features == module.head.in_features
    assert pruned.score(X_test, y_test) >= dense_resnet.score(X_test, y_test) - 0.015
    assert count_params(dense_resnet.module_) == 208_394  # the user's net is not touched


def test_layer_trimming_removes_the_requested_blocks(dense_resnet, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    trimmed = PrunedClassifier(FrozenEstimator(dense_resnet), granularity="layer", n_layers=2,
                               random_state=0).fit(X_train, y_train)
    blocks = trimmed.estimator_.module_.blocks
    assert len(trimmed.removed_layers_) == 2 and set(trimmed.removed_layers_) <= {"blocks.0", "blocks.1",
                                                                                  "blocks.2"}
    assert sum(isinstance(b, nn.Identity) for b in blocks) == 2
    assert trimmed.sparsity_ == pytest.approx(2 / 3)
    assert trimmed.n_params_ < 0.4 * trimmed.n_params_dense_
    assert trimmed.score(X_test, y_test) >= dense_resnet.score(X_test, y_test) - 0.03
    assert set(trimmed.layer_loss_increase_) == set(trimmed.removed_layers_)


def test_layer_trimming_of_square_hidden_layers_and_of_a_regressor(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    mlp = MLPNetClassifier((32, 32, 32), max_epochs=30, random_state=0)
    trimmed = PrunedClassifier(mlp, granularity="layer", sparsity=0.5, fine_tune_epochs=20,
                               random_state=0).fit(X_train, y_train)
    assert len(trimmed.removed_layers_) == 1  # round(0.5 * 2 square hidden layers)
    assert trimmed.score(X_test, y_test) > 0.9
    reg = PrunedRegressor(ResNetRegressor(width=16, n_blocks=2, max_epochs=20, random_state=0),
                          granularity="layer", n_layers=1, random_state=0).fit(X_train, y_train)
    assert reg.removed_layers_[0] in ("blocks.0", "blocks.1")
    assert reg.score(X_test, y_test) > 0.5


def test_trimming_errors_name_the_problem(digits_split):
    X_train, _, y_train, _ = digits_split
    with pytest.raises(ValueError, match="n_layers=3.*2"):
        PrunedRegressor(ResNetRegressor(width=8, n_blocks=2, max_epochs=1), granularity="layer", n_layers=3).fit(
            X_train[:100], y_train[:100])
    with pytest.raises(StructuralPruningError, match="no block"):
        PrunedClassifier(MLPNetClassifier((16,), max_epochs=1), granularity="layer").fit(
            X_train[:100], y_train[:100])


def test_resnet18_style_channels_halved(image_resnet, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pruned = PrunedClassifier(FrozenEstimator(image_resnet), sparsity=0.5, granularity="neuron",
                              fine_tune_epochs=2, random_state=0).fit(X_train, y_train)
    dense_module, module = image_resnet.module_, pruned.estimator_.module_
    assert pruned.n_params_ < 0.35 * count_params(dense_module)
    assert state_size_bytes(module) < 0.4 * state_size_bytes(dense_module)
    assert pruned.predict_proba(X_test).shape == image_resnet.predict_proba(X_test).shape
    for block in (module.layer2[0], module.layer3[0]):  # projection shortcut follows the stage
        assert block.downsample[0].out_channels == block.conv2.out_channels == block.bn2.num_features
    assert pruned.score(X_test, y_test) > 0.8


def test_concurrent_pruning_of_residual_nets_under_threads(digits_split):
    X_train, _, y_train, _ = digits_split
    tiny = NetClassifier(TabularResNet, module_params={"width": 16, "hidden": 16, "n_blocks": 2},
                         max_epochs=2, random_state=0)
    image = NetClassifier(ResNet18Style, module_params={"widths": (4, 8, 8, 8)}, max_epochs=1,
                          random_state=0)
    models = [PrunedClassifier(tiny, granularity="neuron", round_to=None, fine_tune_epochs=1),
              PrunedClassifier(tiny, granularity="layer", n_layers=1, fine_tune_epochs=1),
              PrunedClassifier(image, granularity="neuron", round_to=None, fine_tune_epochs=1),
              clone(tiny)] * 2
    fitted = Parallel(n_jobs=4, backend="threading")(
        delayed(m.fit)(X_train[:300], y_train[:300]) for m in models)
    assert len(fitted) == 8
    assert all(f.n_params_ < f.n_params_dense_ for f in fitted[:3] + fitted[4:7])
    torch.testing.assert_close(  # same seed, same result, whatever ran beside it
        torch.as_tensor(fitted[0].predict_proba(X_train[:5])),
        torch.as_tensor(fitted[4].predict_proba(X_train[:5])))


def test_pruned_and_trimmed_user_resnets_round_trip_only_when_trusted(image_resnet, dense_resnet,
                                                                       digits_split, tmp_path):
    import skensemble
    from skensemble.persistence import UntrustedTypesError

    X_train, X_test, y_train, _ = digits_split
    channels = PrunedClassifier(FrozenEstimator(image_resnet), sparsity=0.5, granularity="neuron",
                                fine_tune_epochs=1, random_state=0).fit(X_train, y_train)
    blocks = PrunedClassifier(FrozenEstimator(dense_resnet), granularity="layer", n_layers=1,
                              fine_tune_epochs=1, random_state=0).fit(X_train, y_train)
    for model, cls in ((channels, ResNet18Style), (blocks, TabularResNet)):
        path = tmp_path / f"{cls.__name__}.zip"
        skensemble.save(model, path)
        with pytest.raises(UntrustedTypesError, match=f"user_modules.{cls.__name__}"):
            skensemble.load(path)
        loaded = skensemble.load(path, trusted=[cls])
        assert torch.equal(torch.as_tensor(loaded.predict_proba(X_test)),
                           torch.as_tensor(model.predict_proba(X_test)))
        assert loaded.n_params_ == model.n_params_
    assert isinstance(loaded.estimator_.module_.get_submodule(blocks.removed_layers_[0]), nn.Identity)


def test_builtin_resnet_pruned_round_trips_without_trust(digits_split, tmp_path):
    import skensemble
    from skensemble.nets import ResNetClassifier

    X_train, X_test, y_train, _ = digits_split
    model = PrunedClassifier(ResNetClassifier(width=32, max_epochs=3, random_state=0), granularity="neuron",
                             fine_tune_epochs=1, random_state=0).fit(X_train, y_train)
    skensemble.save(model, tmp_path / "m.zip")
    loaded = skensemble.load(tmp_path / "m.zip")
    assert loaded.estimator_.module_.first.out_features == 16
    assert torch.equal(torch.as_tensor(loaded.predict_proba(X_test)),
                       torch.as_tensor(model.predict_proba(X_test)))
