"""Coupled units: residual additions, concatenations, embeddings and norms are cut consistently."""

import copy

import pytest
import torch
from torch import nn

from skensemble.compression import StructuralPruningError, TaylorImportance, find_groups
from skensemble.compression.pruning._surgery import check_prunable, cut
from skensemble.nets._modules import ConvModule, MLPModule

from .user_modules import EmbeddingConcatNet, ResNet18Style, ShiftedHidden, TabularResNet


def _randomise_norms(module):
    gen = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def _zero_what_cut_units_feed(module, plan):
    """Zero the consumer columns of the units about to be cut: cutting must then change nothing."""
    with torch.no_grad():
        for group, keep in plan:
            removed = sorted(set(range(group.n_units)) - set(keep))
            for entry in group.entries:
                layer = module.get_submodule(entry.name.rpartition(".")[0])
                if entry.dim == 1 and isinstance(layer, (nn.Linear, nn.Conv2d, nn.Conv1d)):
                    layer.weight.index_fill_(1, entry.indices(removed), 0.0)


CASES = {
    "mlp": (lambda: MLPModule(12, 3, (16, 8), batch_norm=True), (12,)),
    "conv": (lambda: ConvModule((1, 4, 4), 3, (4, 6), batch_norm=True), (16,)),
    "tabular_resnet": (lambda: TabularResNet(12, 3, width=16, hidden=24, n_blocks=2), (12,)),
    "resnet18_style": (lambda: ResNet18Style(3, widths=(4, 8, 8, 16)), (64,)),
    "embedding_concat": (lambda: EmbeddingConcatNet(12, 3, width=16), (12,)),
}


@pytest.mark.parametrize("case", CASES)
def test_cutting_units_that_feed_nothing_changes_no_output(case):
    build, shape = CASES[case]
    torch.manual_seed(0)
    module = build().eval()
    _randomise_norms(module)
    x = torch.randn(8, *shape).abs() * 3
    groups = check_prunable(module, x[:2])
    plan = [(g, list(range(1, g.n_units, 2))) for g in groups]
    _zero_what_cut_units_feed(module, plan)
    expected = module(x)
    n_before = sum(p.numel() for p in module.parameters())
    cut(module, plan)
    assert sum(p.numel() for p in module.parameters()) < n_before
    torch.testing.assert_close(module(x), expected)
    # the layers' size attributes follow their tensors: a copy rebuilds and runs
    torch.testing.assert_close(copy.deepcopy(module)(x), expected)
    for m in module.modules():
        if isinstance(m, nn.Linear):
            assert tuple(m.weight.shape) == (m.out_features, m.in_features)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            assert m.running_mean.shape[0] == m.num_features


def test_residual_additions_join_their_producers():
    module = TabularResNet(12, 3, width=16, hidden=24, n_blocks=3)
    groups, blocked = find_groups(module, torch.randn(2, 12))
    stream = groups[0]
    assert stream.producers == ["first", "blocks.0.linear2", "blocks.1.linear2", "blocks.2.linear2"]
    assert {"blocks.0.norm", "blocks.0.linear1", "norm", "head"} <= set(stream.layers)
    assert [g.producer for g in groups[1:]] == [f"blocks.{i}.linear1" for i in range(3)]
    assert blocked == {"head": "it is the output layer"}


def test_resnet18_projection_shortcuts_share_units_with_their_stage():
    groups, _ = find_groups(ResNet18Style(3, widths=(4, 8, 8, 16)), torch.randn(2, 64))
    producers = [set(g.producers) for g in groups]
    assert {"layer2.0.conv2", "layer2.0.downsample.0", "layer2.1.conv2"} in producers
    assert {"conv1", "layer1.0.conv2", "layer1.1.conv2"} in producers
    assert len(groups) == 12  # 4 stage streams + 8 inner block convs


def test_concatenated_units_map_to_their_columns():
    module = EmbeddingConcatNet(12, 3, embedding_dim=8, width=16)
    groups, _ = find_groups(module, torch.rand(2, 12))
    by_name = {g.producer: g for g in groups}
    columns = {e.name: (e.offset, e.n) for e in by_name["numeric"].entries if e.name == "hidden.weight"}
    assert columns == {"hidden.weight": (8, 16)}  # after the 8 embedding columns
    assert any(e.name == "embedding.weight" and e.dim == 1 for e in by_name["embedding"].entries)


def test_unit_scores_through_flatten_and_taylor(digits_split):
    """Taylor scores reach every entry, also consumer columns read through flatten."""
    from skensemble.nets import ConvNetClassifier

    X, _, y, _ = digits_split
    net = ConvNetClassifier((1, 8, 8), channels=(4,), max_epochs=1, random_state=0).fit(X[:100], y[:100])
    x = torch.as_tensor(X[:100], dtype=torch.float32)
    groups = check_prunable(net.module_, x[:2])
    imp = TaylorImportance().fit(net.net_, x.numpy(), y[:100])
    scores = imp.unit_scores(groups[0], net.module_)
    assert scores.shape == (4,) and torch.all(scores > 0)


@pytest.mark.parametrize(
    "module, layer, reason",
    [
        (ShiftedHidden(6, 3), "hidden", "raw parameter"),
        (nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 4, 3), nn.ReLU(),
                       nn.Conv2d(4, 4, 1, groups=2), nn.Flatten(), nn.Linear(16, 3)), "1", "grouped"),
    ],
)
def test_what_cannot_be_cut_is_named(module, layer, reason):
    with pytest.raises(StructuralPruningError, match=f"'{layer}'.*{reason}"):
        check_prunable(module, torch.randn(2, 6 if isinstance(module, ShiftedHidden) else 16))


def test_shared_layer_is_blocked():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.out = nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.out(self.b(torch.relu(self.b(self.a(x)))))

    _, blocked = find_groups(Shared(), torch.randn(2, 6))
    assert "shared layer" in blocked["a"] and "shared layer" in blocked["b"]
