"""A batch iterator that slices whole tensors instead of collating samples.

skorch's default ``DataLoader`` fetches every sample on its own and collates
them into a batch; on small tabular batches that costs about a third of the
training time (measured in ``benchmarks/bench_nets.py``).  When the data is a
plain in-memory array, ``TensorLoader`` converts it to a tensor once and yields
batches by slicing, which is what a hand-written torch loop does.  Anything
else (a user's ``Dataset``, dicts of arrays, sparse input) falls back to
``torch.utils.data.DataLoader`` with the same arguments.
"""

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

from ..utils._random import current_generator


def writable(a):
    """A writable array: joblib hands workers read-only memmaps, which torch warns about."""
    if isinstance(a, np.ndarray) and not a.flags.writeable:
        return a.copy()
    return a


def _dense_tensors(dataset):
    """Return ``(X, y)`` tensors for a dataset that is a view of arrays, else None."""
    indices = None
    while isinstance(dataset, Subset):
        sub = np.asarray(dataset.indices)
        indices = sub if indices is None else sub[indices]
        dataset = dataset.dataset
    if type(dataset) is not Dataset:
        return None
    X, y = dataset.X, dataset.y
    if not isinstance(X, (np.ndarray, torch.Tensor)):
        return None
    if y is not None and not isinstance(y, (np.ndarray, torch.Tensor)):
        return None
    X = torch.as_tensor(writable(X))
    y = None if y is None else torch.as_tensor(writable(y))
    if indices is not None:
        idx = torch.as_tensor(indices, dtype=torch.long)
        X = X[idx]
        y = None if y is None else y[idx]
    return X, y


def batch_bounds(n, batch_size, drop_last=False, merge_last=False):
    """``(start, end)`` of each batch of ``n`` rows; ``merge_last`` joins a last single row to the batch before."""
    stop = n - n % batch_size if drop_last else n
    starts = list(range(0, stop, batch_size))
    ends = starts[1:] + [stop]
    if not drop_last and merge_last:
        starts, ends = starts[:-1], ends[:-2] + [stop]
    return list(zip(starts, ends))


class TensorLoader:
    """Iterate over ``(X_batch, y_batch)`` slices of an in-memory dataset.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset of one
        The data.  Other datasets are served by a ``DataLoader``.
    batch_size : int
        Number of samples per batch.
    shuffle : bool, default=False
        Draw a new permutation from torch's global RNG at each epoch (the
        estimators seed that RNG, so shuffling is reproducible).
    device : str or None, default=None
        Move the whole dataset to this device once, so batches need no copy.
    drop_last : bool, default=False
        Leave out the last batch when it is smaller than ``batch_size``.
    merge_single_row : bool, default=False
        Serve a last batch of a single row together with the batch before it
        (batch norm cannot train on one row; the nets' training loader does this).
    **loader_kwargs
        Any other ``DataLoader`` argument (``num_workers``, ``pin_memory``,
        ``collate_fn``, ...): given one, batches come from a ``DataLoader``
        with it, so it takes effect.
    """

    def __init__(self, dataset, batch_size, shuffle=False, device=None, drop_last=False,
                 merge_single_row=False, **loader_kwargs):
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.merge_single_row = merge_single_row
        tensors = None if loader_kwargs else _dense_tensors(dataset)
        self._fallback = None
        if tensors is None:
            generator = current_generator()
            if shuffle and generator is not None and generator.device.type == "cpu" \
                    and "generator" not in loader_kwargs and "sampler" not in loader_kwargs:
                loader_kwargs["generator"] = generator  # the fit's own shuffles
            self._fallback = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                                        drop_last=drop_last, **loader_kwargs)
            return
        X, y = tensors
        if device is not None:
            X = X.to(device)
            y = None if y is None else y.to(device)
        self._X, self._y = X, y

    def __len__(self):
        if self._fallback is not None:
            return len(self._fallback)
        n = len(self._X)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size) - (self._merges_last(n))

    def _merges_last(self, n):
        return bool(self.merge_single_row and n > self.batch_size and n % self.batch_size == 1)

    def __iter__(self):
        if self._fallback is not None:
            yield from self._fallback
            return
        X, y, bs = self._X, self._y, self.batch_size
        n = len(X)
        if self.shuffle:
            generator = current_generator()  # the fit's own (skensemble.utils._random)
            order = torch.randperm(n, generator=generator, device=generator.device if generator is not None
                                   else "cpu").to(X.device)
            X = X.index_select(0, order)  # a third of the time of X[order]
            y = None if y is None else y.index_select(0, order)
        for start, end in batch_bounds(n, bs, self.drop_last, self._merges_last(n)):
            yield X[start:end], (None if y is None else y[start:end])


class MemberBatchLoader(TensorLoader):
    """:class:`TensorLoader` whose training batches give each of ``k`` ensemble members its own rows.

    Every epoch draws one permutation of the rows per member (from the fit's
    own generator); batch ``b`` holds, for member ``j``, rows ``b`` of
    permutation ``j``: X comes as ``(batch, k, n_features)`` and y as
    ``(batch, k, ...)``, so each member sees every row once per epoch, in
    its own order and with its own batch mates, as the TabM authors train
    (``share_training_batches=False`` in their code).  Without shuffling, or
    where :class:`TensorLoader` falls back to a ``DataLoader`` (a user's
    dataset, dicts of arrays, loader arguments), the members share the
    batches.

    Parameters
    ----------
    dataset, batch_size, **kwargs
        As :class:`TensorLoader`.
    k : int, default=1
        Number of members; 1 is :class:`TensorLoader`.
    """

    def __init__(self, dataset, batch_size, k=1, **kwargs):
        super().__init__(dataset, batch_size, **kwargs)
        self.k = int(k)

    def __iter__(self):
        if self._fallback is not None or self.k == 1 or not self.shuffle:
            yield from super().__iter__()
            return
        X, y = self._X, self._y
        generator = current_generator()  # the fit's own (skensemble.utils._random)
        device = generator.device if generator is not None else "cpu"
        orders = torch.rand((self.k, len(X)), generator=generator, device=device).argsort(dim=1).to(X.device)
        for start, end in batch_bounds(len(X), self.batch_size, self.drop_last, self._merges_last(len(X))):
            rows = orders[:, start:end].T  # (batch, k): member j's rows in column j
            yield X[rows], (None if y is None else y[rows])
