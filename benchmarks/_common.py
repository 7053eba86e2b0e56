"""Helpers shared by the benchmark scripts: timing, tables, environment line."""

import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"


def median_time(fn, repeats=3, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def environment():
    import sklearn
    import skorch

    return (
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), skorch {skorch.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"{platform.machine()} CPU, {__import__('os').cpu_count()} cores"
    )


def markdown_table(rows, columns):
    """Render a list of dicts as a markdown table with the given columns."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_result(name, title, sections, command):
    """Write ``benchmarks/results/<name>.md`` from (heading, text) sections."""
    RESULTS.mkdir(exist_ok=True)
    parts = [f"# {title}", "", f"Command: `{command}`", "", f"Environment: {environment()}", ""]
    for heading, text in sections:
        parts += [f"## {heading}", "", text, ""]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(parts))
    print(path.read_text())
    return path


def interleaved_times(fns, repeats=3, warmup=1):
    """Median seconds of each callable in ``fns`` (a dict), timed round-robin.

    Every callable runs ``warmup`` times first; then each round times every
    callable once, so that machine noise and warm caches hit all of them alike.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def module_predictor(module):
    """A callable running ``module`` on a float32 numpy batch (cast to the module's dtype)."""
    module.eval()
    param = next(iter(module.parameters()), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32

    def run(xb):
        with torch.inference_mode():
            return module(torch.as_tensor(xb).to(dtype))

    return run


def interleaved_latency(fns, X, batch_sizes, repeats=15):
    """Seconds per batch of each predictor in ``fns`` (dict of callables on a batch).

    For each batch size the predictors are timed round-robin (see
    ``interleaved_times``); small batches repeat the call inside one timing so
    that timer resolution does not dominate.
    """
    out = {k: {} for k in fns}
    for b in batch_sizes:
        batch = np.resize(np.asarray(X, dtype=np.float32), (b, X.shape[1]))
        inner = max(1, 1024 // b)
        timed = {k: (lambda fn=fn: [fn(batch) for _ in range(inner)]) for k, fn in fns.items()}
        for k, t in interleaved_times(timed, repeats=repeats, warmup=2).items():
            out[k][b] = t / inner
    return out
