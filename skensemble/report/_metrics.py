"""Metric helpers: parameters, non-zero parameters, saved size and latency.

They take a torch module or any fitted estimator (nets, compressed nets,
ensembles, plain scikit-learn models).
"""

import io
import pickle
import statistics
import time
import warnings

import numpy as np
import torch
from torch import nn

from ..utils._access import get_module
from ..persistence import save
from ..utils._torch import count_params, eval_mode, state_size_bytes


def _modules(model):
    """Torch modules inside ``model`` (several for ensembles), or [] for non-nets."""
    if isinstance(model, nn.Module):
        return [model]
    quantized = getattr(model, "quantized_module_", None)
    if quantized is not None:
        return [quantized]
    try:
        return [get_module(model)]
    except (TypeError, AttributeError):
        pass
    members = getattr(model, "estimators_", None)
    if isinstance(members, (list, tuple)):
        found = []
        for m in members:
            found += _modules(m[1] if isinstance(m, tuple) else m)
        return found
    return []


def count_parameters(model, nonzero=False):
    """Number of (non-zero) stored weights of the torch modules in ``model``.

    Counted as :func:`skensemble.utils.count_params` counts a module (packed
    int8 weights unpacked; batch-norm statistics and quantization scales
    left out); an ONNX Runtime model counts its weight initializers.
    Returns ``None`` for models without torch modules.
    """
    modules = _modules(model)
    if not modules:
        return None
    total = 0
    for module in modules:
        if hasattr(module, "weight_arrays"):  # an ONNX Runtime model
            arrays = module.weight_arrays()
            total += sum(int(np.count_nonzero(a)) if nonzero else a.size for a in arrays)
        else:
            total += count_params(module, nonzero)
    return total


def saved_size_bytes(model):
    """Bytes of the model when saved.

    Estimators: the size of :func:`skensemble.save`'s file (pickle's size for
    objects it cannot save).  Torch modules: ``torch.save`` of the state dict.
    """
    if isinstance(model, nn.Module):
        return state_size_bytes(model)

    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            save(model, buf)
    except TypeError:
        return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    return buf.tell()


def predict_latency(predict, X, batch_size, n_repeats=7, warmup=2, max_batches=8):
    """Median seconds to predict one batch of ``batch_size`` rows of ``X``.

    ``predict`` is a callable (e.g. ``model.predict`` or a module) taking a
    batch. Batches cycle through X; ``warmup`` calls are discarded.
    """
    n = len(X)
    reps = max(1, -(-batch_size // n))
    data = np.concatenate([X] * reps)[: max(batch_size, n)] if reps > 1 else X
    starts = list(range(0, max(len(data) - batch_size, 0) + 1, batch_size))[:max_batches] or [0]
    batches = [data[s : s + batch_size] for s in starts]
    if isinstance(predict, nn.Module):
        module = predict
        batches = [torch.as_tensor(b, dtype=torch.float32) for b in batches]

        def predict(b):
            with torch.inference_mode(), eval_mode(module):
                return module(b)

    for i in range(warmup):
        predict(batches[i % len(batches)])
    times = []
    for i in range(n_repeats):
        b = batches[i % len(batches)]
        t = time.perf_counter()
        predict(b)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved_times(fns, repeats=5, warmup=1, warm_each=False):
    """Median seconds of each callable in ``fns`` (a dict), timed round-robin.

    Every callable runs ``warmup`` times first; then each round times every
    callable once, so machine noise affects all of them alike.  With
    ``warm_each`` every timed call follows an untimed call of the same
    callable, so no callable is timed on caches the previous one evicted (a
    forest's predict before a small net's doubled the net's time at batch 256).
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            if warm_each:
                fn()
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def interleaved_latency(predictors, X, batch_sizes, repeats=7):
    """Seconds per batch for each predictor (a dict of callables taking a batch).

    For each batch size, rows of ``X`` are cycled to fill the batch and the
    predictors are timed round-robin; a call faster than about 2 ms is
    repeated inside one timing (at most ``256 // batch`` times) so the
    timer's resolution does not dominate, and a single call is timed after an
    untimed one (see :func:`interleaved_times`).
    """
    X = np.asarray(X)
    out = {k: {} for k in predictors}
    for b in batch_sizes:
        batch = X[np.arange(b) % len(X)]
        inner = {}
        for k, fn in predictors.items():
            fn(batch)  # warm
            start = time.perf_counter()
            fn(batch)
            once = time.perf_counter() - start
            inner[k] = max(1, min(256 // b, int(_TIMED_SPAN / max(once, 1e-9))))
        timed = {k: (lambda fn=fn, n=inner[k]: [fn(batch) for _ in range(n)]) for k, fn in predictors.items()}
        for k, t in interleaved_times(timed, repeats=repeats, warmup=0,
                                      warm_each=min(inner.values()) == 1).items():
            out[k][b] = t / inner[k]
    return out


_TIMED_SPAN = 0.01  # seconds a timing should last at least, repeating fast calls (2 ms: ratios at batch 1 moved +-10%)
