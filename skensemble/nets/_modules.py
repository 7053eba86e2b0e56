"""The torch modules behind skensemble's nets.

Each module is a flat ``nn.Sequential`` named ``layers`` (after an optional
reshape), so that pruning can cut it layer by layer and users can read it.
"""

import math

import torch
from torch import nn

from .._compat.torch import call_layers
from ..persistence import register_layer, register_module
from ..utils._random import current_generator
from ._embeddings import NumEmbeddings

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


def dropout_mask(h, p, generator=None):
    """The mask dropout multiplies ``h`` by in training, scaled by 1/(1-p) (``None`` when ``p == 0``)."""
    if p == 0:
        return None
    if p == 1:
        return torch.zeros_like(h)
    return torch.empty_like(h).bernoulli_(1 - p, generator=generator).div_(1 - p)


class SeededDropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from the running fit's own generator.

    During a fit, skensemble's training engine gives each fit a
    ``torch.Generator`` seeded from its ``random_state``; this layer draws
    its masks from it, so fits in concurrent threads draw what they would
    draw alone.  Outside a fit (or with no fit generator) it draws from
    torch's global generator like ``nn.Dropout``.  In eval mode it is the
    identity.  It holds no state: a module saved with ``nn.Dropout`` loads
    into one with this layer and the reverse.  In a module of your own it
    draws from the fit's generator too, but such a module still trains
    inside torch's seeded global generator (its ``forward`` may call torch's
    random functions), one fit at a time when fits run in threads.
    """

    def forward(self, input):
        if not self.training or self.p == 0:
            return input
        if self.inplace:
            return input.mul_(dropout_mask(input, self.p, current_generator()))
        return input * dropout_mask(input, self.p, current_generator())


def _dense_block(n_in, n_out, activation, dropout, batch_norm):
    layers = [nn.Linear(n_in, n_out)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(ACTIVATIONS[activation]())
    if dropout:
        layers.append(SeededDropout(dropout))
    return layers


class MLPModule(nn.Module):
    """Fully connected network: ``n_features -> hidden... -> n_outputs``.

    Parameters
    ----------
    n_features : int
        Input size.
    n_outputs : int
        Output size (number of classes, or of regression targets).
    hidden_layer_sizes : tuple of int
        Units per hidden layer.
    activation : str
        A key of ``ACTIVATIONS``.
    dropout : float
        Dropout after each hidden activation (0 disables it).
    batch_norm : bool
        Batch normalisation after each hidden linear layer.
    embeddings : dict or None
        ``{"kind", "d_embedding", "bins"}`` of numerical embeddings ahead of
        the first layer (:class:`~skensemble.nets._embeddings.NumEmbeddings`,
        the first of ``layers``); ``None``: the raw features.
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_layer_sizes=(128,),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        embeddings=None,
    ):
        super().__init__()
        layers = []
        n_in = n_features
        if embeddings is not None:
            layers.append(NumEmbeddings(embeddings["kind"], n_features, embeddings["d_embedding"],
                                        embeddings.get("bins")))
            n_in = n_features * embeddings["d_embedding"]
        for width in hidden_layer_sizes:
            layers += _dense_block(n_in, width, activation, dropout, batch_norm)
            n_in = width
        layers.append(nn.Linear(n_in, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


class ResidualBlock(nn.Module):
    """``x + Dropout(Linear(Dropout(act(Linear(BatchNorm(x))))))``: one block of :class:`ResNetModule`."""

    def __init__(self, width, hidden, activation="relu", dropout=0.0):
        super().__init__()
        self.norm = nn.BatchNorm1d(width)
        self.linear1 = nn.Linear(width, hidden)
        self.activation = ACTIVATIONS[activation]()
        self.dropout1 = SeededDropout(dropout)
        self.linear2 = nn.Linear(hidden, width)
        self.dropout2 = SeededDropout(dropout)

    def forward(self, X):
        h = self.dropout1(self.activation(self.linear1(self.norm(X))))
        return X + self.dropout2(self.linear2(h))


class ResNetModule(nn.Module):
    """Residual network for tables (Gorishniy et al., 2021, "Revisiting Deep
    Learning Models for Tabular Data").

    ``Linear(n_features, width)``, then ``n_blocks`` residual blocks
    (batch norm -> linear to ``hidden`` -> activation -> dropout -> linear
    back to ``width`` -> dropout, added to the block's input), then batch
    norm -> activation -> ``Linear(width, n_outputs)``.

    Parameters
    ----------
    n_features : int
        Input size.
    n_outputs : int
        Output size.
    width : int
        Size of the residual stream.
    n_blocks : int
        Number of residual blocks.
    hidden_factor : float
        Hidden size of each block as a multiple of ``width``.
    activation : str
        A key of ``ACTIVATIONS``.
    dropout : float
        Dropout inside each block (after the activation and on the block's output).
    embeddings : dict or None
        Numerical embeddings ahead of the first layer (``embeddings``
        attribute), as in :class:`MLPModule`.
    """

    def __init__(self, n_features, n_outputs, width=128, n_blocks=2, hidden_factor=2.0,
                 activation="relu", dropout=0.0, embeddings=None):
        super().__init__()
        hidden = max(1, int(round(width * hidden_factor)))
        n_in = n_features
        if embeddings is not None:
            self.embeddings = NumEmbeddings(embeddings["kind"], n_features, embeddings["d_embedding"],
                                            embeddings.get("bins"))
            n_in = n_features * embeddings["d_embedding"]
        self.first = nn.Linear(n_in, width)
        self.blocks = nn.Sequential(
            *[ResidualBlock(width, hidden, activation, dropout) for _ in range(n_blocks)])
        self.norm = nn.BatchNorm1d(width)
        self.activation = ACTIVATIONS[activation]()
        self.head = nn.Linear(width, n_outputs)

    def forward(self, X):
        if hasattr(self, "embeddings"):
            X = self.embeddings(X)
        return self.head(self.activation(self.norm(self.blocks(self.first(X)))))


class Reshape(nn.Module):
    """Reshape a batch of flat rows to ``(batch, *shape)``."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, X):
        return X.reshape(X.shape[0], *self.shape)

    def extra_repr(self):
        return f"shape={self.shape}"


class ConvModule(nn.Module):
    """Convolutional network for flat rows reshaped to ``input_shape``.

    ``input_shape`` is ``(channels, length)`` for 1-D signals and
    ``(channels, height, width)`` for images.  Each block is
    conv -> [batch norm] -> activation -> [pool by 2]; a dense head follows.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample, without the batch dimension.
    n_outputs : int
        Number of classes.
    channels : tuple of int
        Output channels of each conv block.
    kernel_size : int
        Kernel size of every convolution ("same" padding).
    pooling : {"max", "avg", None}
        Pooling by 2 after each block while the spatial size allows it.
    hidden_layer_sizes : tuple of int
        Units of the dense head's hidden layers.
    activation, dropout, batch_norm
        As in :class:`MLPModule`; dropout applies to the dense head.
    """

    def __init__(
        self,
        input_shape,
        n_outputs,
        channels=(16, 32),
        kernel_size=3,
        pooling="max",
        hidden_layer_sizes=(64,),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
    ):
        super().__init__()
        input_shape = tuple(int(s) for s in input_shape)
        n_dims = len(input_shape) - 1
        conv = {1: nn.Conv1d, 2: nn.Conv2d}[n_dims]
        norm = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[n_dims]
        pool = {
            "max": {1: nn.MaxPool1d, 2: nn.MaxPool2d}[n_dims],
            "avg": {1: nn.AvgPool1d, 2: nn.AvgPool2d}[n_dims],
            None: None,
        }[pooling]
        layers = [Reshape(input_shape)]
        n_in, spatial = input_shape[0], list(input_shape[1:])
        for n_out in channels:
            layers.append(conv(n_in, n_out, kernel_size, padding=kernel_size // 2))
            # "same" padding keeps the size for odd kernels, adds one for even.
            spatial = [s + 2 * (kernel_size // 2) - kernel_size + 1 for s in spatial]
            if batch_norm:
                layers.append(norm(n_out))
            layers.append(ACTIVATIONS[activation]())
            if pool is not None and min(spatial) >= 2:
                layers.append(pool(2))
                spatial = [s // 2 for s in spatial]
            n_in = n_out
        layers.append(nn.Flatten())
        n_in = n_in * math.prod(spatial)
        for width in hidden_layer_sizes:
            layers += _dense_block(n_in, width, activation, dropout, False)
            n_in = width
        layers.append(nn.Linear(n_in, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


register_module(MLPModule)
register_module(ConvModule)
register_module(ResNetModule)
register_layer(SeededDropout, lambda m: {"p": m.p, "inplace": m.inplace})
register_layer(Reshape, lambda m: {"shape": list(m.shape)})
register_layer(NumEmbeddings, lambda m: {"kind": m.kind, "n_features": m.n_features, "d_embedding": m.d_embedding,
                                         "bins": m.bins})


_LAYERS_FORWARDS = (MLPModule.forward, ConvModule.forward)  # ``return self.layers(X)``


def predict_module(module, X):
    """``module(X)`` at prediction, through :func:`~skensemble._compat.torch.call_layers` for skensemble's
    modules whose forward is their layer sequence (a subclass that overrides ``forward`` is called as usual)."""
    if getattr(type(module), "forward", None) in _LAYERS_FORWARDS:
        return call_layers(module, X)
    return module(X)
