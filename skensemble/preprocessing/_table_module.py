"""A fitted :class:`~skensemble.preprocessing.TableEncoder`'s arithmetic as a float32 torch layer.

The encoder's pandas work is reduced to one step that any table needs
(``TableEncoder.raw_rows``: numeric columns as numbers, NaN where missing;
each categorical column as the integer code of its value, one dictionary
lookup per value); everything else, the median fill, scaling,
smooth clipping, missing indicators and one-hot blocks, runs here in
float32 (on the CPU; the encoded rows then move to the net's device).
``TableEncoder.transform`` is this layer
applied to those rows, so fitting and prediction encode with the same code.
"""

import numpy as np
import torch
from torch import nn

SMOOTH_CLIP = 3.0
SPIKE_WIDTH = 1e-4  # a number this close to a spike (in units of its column's scale) is at the spike
_CLIP_ROWS = 256  # rows of a large batch clipped at a time, through one reused buffer that stays in cache
_FEW_CELLS = 1 << 14  # up to this many input cells, NumPy's kernels do the arithmetic (see TableEncoding.encode_few)


def smooth_clip_(z):
    """``z / sqrt(1 + (z / 3) ** 2)`` in place (z is returned).

    A few kernels on one extra buffer: one row costs a few us per kernel,
    and a large batch is clipped ``_CLIP_ROWS`` rows at a time through a
    buffer that stays in cache (4096 x 784: 2.6 against 3.3 ms, most of it
    the first touch of a new tensor's memory).  Square root and division
    round exactly, so a row encodes alike in any batch (rsqrt's vector and
    scalar code differ).
    """
    if len(z) <= _CLIP_ROWS:
        return z.div_((z / SMOOTH_CLIP).square_().add_(1.0).sqrt_())
    buffer = z.new_empty(_CLIP_ROWS, z.shape[1])
    for rows in z.split(_CLIP_ROWS):
        scaled = torch.div(rows, SMOOTH_CLIP, out=buffer[: len(rows)])
        rows.div_(scaled.square_().add_(1.0).sqrt_())
    return z


class TableEncoding(nn.Module):
    """Raw rows (numbers with NaN, category codes) to the encoded matrix of a fitted ``TableEncoder``.

    Parameters
    ----------
    center, scale : array-like of shape (n_numeric,)
        Median and scale (the encoder's ``scaling``) of each numeric column.
    indicated : list of int
        Numeric columns (indices into the first ``n_numeric`` inputs) that
        get a missing indicator.
    category_sizes : list of int
        Per categorical column, the width of its one-hot block: its kept
        categories plus one column for a missing value and one for any other
        value.  Its input is the code: ``0 .. size - 3`` a kept category,
        ``size - 2`` missing, ``size - 1`` other.
    spiked : list of int
        Numeric columns (indices into the first ``n_numeric`` inputs) that
        get a spike indicator: +1 where the number equals the column's spike,
        -1 elsewhere (centred as the scaled numbers are: on the credit card
        table, ResNet's log loss 0.057 against 0.061 with a 0/1 column).
    spike_values : array-like of shape (len(spiked),)
        Each spiked column's spike (a value that a large share of its rows
        hold, such as an expenditure of 0).  A number within ``SPIKE_WIDTH``
        of its column's scale of the spike is at the spike: the same value
        computed in float32 by an exported pipeline and in float64 by
        scikit-learn (an imputed median after a scaler) differs in its last
        bits.

    The output is the clipped numbers, the missing indicators, the spike
    indicators and the one-hot blocks, in that order.
    """

    def __init__(self, center, scale, indicated=(), category_sizes=(), spiked=(), spike_values=()):
        super().__init__()
        self.register_buffer("center", torch.as_tensor(np.asarray(center, dtype=np.float32)))
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, dtype=np.float32)))
        self.indicated = [int(i) for i in indicated]
        self.category_sizes = [int(s) for s in category_sizes]
        self.register_buffer("_indicated", torch.as_tensor(self.indicated, dtype=torch.long), persistent=False)
        self.spiked = [int(i) for i in spiked]
        spike_values = np.asarray(spike_values, dtype=np.float32).reshape(-1)
        spike_widths = (np.asarray(scale, dtype=np.float32)[self.spiked] * np.float32(SPIKE_WIDTH)).astype(np.float32)
        self.register_buffer("_spiked", torch.as_tensor(self.spiked, dtype=torch.long), persistent=False)
        self.register_buffer("_spike_values", torch.as_tensor(spike_values), persistent=False)
        self.register_buffer("_spike_widths", torch.as_tensor(spike_widths), persistent=False)
        starts = np.concatenate([[0], np.cumsum(self.category_sizes)[:-1]]).astype(np.int64)
        self.register_buffer("_offsets", torch.as_tensor(starts), persistent=False)
        # encode_few's copies: the layer is built from a fitted encoder's statistics, never loaded into
        self._few = (self.center.numpy().copy(), self.scale.numpy().copy(), starts, spike_values.copy(),
                     spike_widths)

    @property
    def n_numeric(self):
        return self.center.shape[0]

    @property
    def n_features_out(self):
        return self.n_numeric + len(self.indicated) + len(self.spiked) + sum(self.category_sizes)

    def forward(self, x, overwrite=False):
        """The encoded rows; with ``overwrite`` (numbers only, no categories) in ``x``'s memory.

        A caller that owns ``x`` (say the float32 copy of a user's float64
        array) saves a new tensor of its size: 1 of 4 ms on 4096 x 784.
        """
        numbers = x[:, : self.n_numeric] if self.category_sizes else x
        missing = torch.isnan(numbers[:, self._indicated]).to(x.dtype) if self.indicated else None  # before overwriting
        spikes = None
        if self.spiked:  # +1 at the spike, -1 elsewhere (and where missing)
            near = (numbers[:, self._spiked] - self._spike_values).abs_() <= self._spike_widths
            spikes = near.to(x.dtype).mul_(2.0).sub_(1.0)
        z = numbers.sub_(self.center) if overwrite and not self.category_sizes else numbers - self.center
        z.div_(self.scale).nan_to_num_(nan=0.0)  # a missing number is the median
        parts = [smooth_clip_(z)]
        parts += [part for part in (missing, spikes) if part is not None]
        if self.category_sizes:
            codes = x[:, self.n_numeric:].long() + self._offsets
            parts.append(z.new_zeros(len(x), sum(self.category_sizes)).scatter_(1, codes, 1.0))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def encode_few(self, rows):
        """:meth:`forward` of a few float32 rows (an ndarray), bit for bit, in NumPy's kernels; a tensor.

        A torch kernel costs 2-3 us even on one row, a NumPy one well under
        1 us: one row of 64 columns encodes in about 8 us instead of 18.  The
        same float32 operations in the same order round alike (subtraction,
        division, squaring and addition are exact IEEE operations in both);
        the square root, which torch computes to within an ulp rather than
        exactly rounded, is torch's, on the same values.  It reads the
        statistics the layer was built with (NumPy copies of its buffers).
        """
        center, scale, offsets, spike_values, spike_widths = self._few
        numbers = rows[:, : len(center)] if self.category_sizes else rows
        with np.errstate(over="ignore"):  # a huge number overflows to infinity, silently as in torch
            z = np.subtract(numbers, center)
            np.divide(z, scale, out=z)
            if not np.isfinite(z).all():  # torch's nan_to_num_: a missing number is the median, infinity the largest
                np.nan_to_num(z, copy=False, nan=0.0)
            q = np.divide(z, np.float32(SMOOTH_CLIP))
            np.multiply(q, q, out=q)
        np.add(q, np.float32(1.0), out=q)
        torch.from_numpy(q).sqrt_()
        np.divide(z, q, out=z)
        parts = [z]
        if self.indicated:
            parts.append(np.isnan(numbers[:, self.indicated]).astype(np.float32))
        if self.spiked:
            near = np.abs(numbers[:, self.spiked] - spike_values) <= spike_widths
            parts.append(np.where(near, np.float32(1.0), np.float32(-1.0)))
        if self.category_sizes:
            hot = np.zeros((len(rows), sum(self.category_sizes)), dtype=np.float32)
            np.put_along_axis(hot, rows[:, len(center):].astype(np.int64) + offsets, np.float32(1.0), axis=1)
            parts.append(hot)
        return torch.from_numpy(np.concatenate(parts, axis=1) if len(parts) > 1 else z)

    def extra_repr(self):
        return (f"n_numeric={self.n_numeric}, indicated={len(self.indicated)}, spiked={len(self.spiked)}, "
                f"categorical={len(self.category_sizes)}, n_features_out={self.n_features_out}")
