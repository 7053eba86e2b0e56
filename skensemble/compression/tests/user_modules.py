"""Torch modules written by a "user" (not skensemble's), shared by the tests.

They are importable (``skensemble.compression.tests.user_modules.<Name>``) so
that saved models can name them and ``load(..., trusted=[...])`` can rebuild them.
"""

import torch
from torch import nn


class TabularBlock(nn.Module):
    """Gorishniy et al. (2021): norm -> linear -> ReLU -> dropout -> linear, plus the skip."""

    def __init__(self, width, hidden, dropout=0.0):
        super().__init__()
        self.norm = nn.BatchNorm1d(width)
        self.linear1 = nn.Linear(width, hidden)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(hidden, width)

    def forward(self, x):
        return x + self.linear2(self.dropout(torch.relu(self.linear1(self.norm(x)))))


class TabularResNet(nn.Module):
    """A residual net for tables written in the tests."""

    def __init__(self, n_features, n_outputs, width=64, hidden=128, n_blocks=3, dropout=0.0):
        super().__init__()
        self.first = nn.Linear(n_features, width)
        self.blocks = nn.Sequential(*[TabularBlock(width, hidden, dropout) for _ in range(n_blocks)])
        self.norm = nn.BatchNorm1d(width)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.blocks(self.first(x)))))


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convs with batch norm; a 1x1 projection when the shape changes."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                                            nn.BatchNorm2d(channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18Style(nn.Module):
    """ResNet-18's layout (4 stages of 2 basic blocks, stride-2 stages with projection
    shortcuts, global average pooling) for small images given as flat rows."""

    def __init__(self, n_outputs, image_shape=(1, 8, 8), widths=(16, 32, 64, 128)):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.conv1 = nn.Conv2d(image_shape[0], widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        stages, channels = [], widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(channels, width, stride), BasicBlock(width, width)))
            channels = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, n_outputs)

    def forward(self, x):
        x = x.reshape(x.shape[0], *self.image_shape)
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class EmbeddingConcatNet(nn.Module):
    """A categorical first column embedded, concatenated with the numeric columns' features."""

    def __init__(self, n_features, n_outputs, n_categories=16, embedding_dim=8, width=32):
        super().__init__()
        self.n_categories = n_categories
        self.embedding = nn.Embedding(n_categories, embedding_dim)
        self.numeric = nn.Linear(n_features - 1, width)
        self.hidden = nn.Linear(embedding_dim + width, width)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x):
        codes = x[:, 0].long().clamp(0, self.n_categories - 1)
        features = torch.cat([self.embedding(codes), torch.relu(self.numeric(x[:, 1:]))], dim=1)
        return self.head(torch.relu(self.hidden(features)))


class ShiftedHidden(nn.Module):
    """A raw parameter added to the hidden units: they cannot be cut without it."""

    def __init__(self, n_features, n_outputs, width=16):
        super().__init__()
        self.hidden = nn.Linear(n_features, width)
        self.shift = nn.Parameter(torch.zeros(width))
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x):
        return self.head(torch.relu(self.hidden(x) + self.shift))
