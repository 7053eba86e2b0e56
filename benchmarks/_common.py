"""Helpers shared by the benchmark scripts: timing, tables, environment line."""

import statistics
import time
from pathlib import Path

import numpy as np
import torch

from skensemble.report._metrics import interleaved_latency as _interleaved_latency

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
    """The versions and the machine (``skensemble.show_versions``), for every results file's header."""
    from skensemble._show_versions import versions
    from skensemble.utils import machine_summary

    v = versions()
    packages = ", ".join(f"{name} {v[name]}" for name in ("skensemble", "torch", "skorch", "scikit-learn",
                                                          "numpy", "onnxruntime") if v.get(name))
    return f"Python {v['python']}, {packages}; {machine_summary()}"


def markdown_table(rows, columns):
    """Render a list of dicts as a markdown table with the given columns."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _show_versions_text():
    import contextlib
    import io

    from skensemble import show_versions

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        show_versions()
    return out.getvalue().rstrip()


def write_result(name, title, sections, command):
    """Write ``benchmarks/results/<name>.md`` from (heading, text) sections."""
    RESULTS.mkdir(exist_ok=True)
    parts = [f"# {title}", "", f"Command: `{command}`", "", f"Environment: {environment()}", "",
             "<details><summary><code>skensemble.show_versions()</code></summary>", "", "```",
             _show_versions_text(), "```", "", "</details>", ""]
    for heading, text in sections:
        parts += [f"## {heading}", "", text, ""]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(parts))
    print(path.read_text())
    return path


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
    """Seconds per batch of each predictor, timed round-robin (float32 batches)."""
    return _interleaved_latency(fns, np.asarray(X, dtype=np.float32), batch_sizes, repeats=repeats)
