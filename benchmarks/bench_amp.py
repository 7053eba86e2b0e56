# %% [markdown]
# # When does mixed precision pay on this CPU?
#
# ``amp="auto"`` picks bfloat16 autocast on a CPU with native bfloat16 only
# where a training batch is large enough to pay for autocast's casts; the
# threshold (``skensemble.nets._amp.BF16_MIN_WORK``) comes from this table:
# float32 against ``amp="bfloat16"``, fit by fit alternating, for MLPs and a
# conv net of growing work per training batch (forward multiply-adds of one
# batch).  The rule is fixed per capability, never timed inside ``fit``, so a
# fit's result does not depend on the machine's load.

# %%
import statistics
import sys
import time

import numpy as np
import torch
from sklearn.datasets import make_classification

from _common import markdown_table, write_result
from skensemble.nets import ConvNetClassifier, MLPNetClassifier
from skensemble.utils._torch import multiply_adds_per_row

QUICK = "--quick" in sys.argv
ROWS = 2048 if QUICK else 8192
EPOCHS = 2 if QUICK else 3


def cases():
    X, y = make_classification(ROWS, 100, n_informative=40, n_classes=10, random_state=0)
    X = X.astype(np.float32)
    for hidden in [(64, 64), (256, 256), (512, 512), (1024, 1024), (2048, 2048)]:
        for batch in (128, 512):
            yield f"MLP {hidden}", batch, X, y, lambda amp, h=hidden, b=batch: MLPNetClassifier(
                h, max_epochs=EPOCHS, batch_size=b, amp=amp, random_state=0)
    Xc = np.random.RandomState(0).rand(ROWS // 2, 32 * 32).astype(np.float32)
    yc = np.random.RandomState(1).randint(0, 10, ROWS // 2)
    for channels in [(16, 32), (64, 128)]:
        yield f"ConvNet {channels} on 32x32", 128, Xc, yc, lambda amp, c=channels: ConvNetClassifier(
            (32, 32), channels=c, max_epochs=EPOCHS, amp=amp, random_state=0)


def main():
    repeats = 1 if QUICK else 3
    rows = []
    for name, batch, X, y, make in cases():
        fitted = make(False).fit(X[:256], y[:256])
        macs = multiply_adds_per_row(fitted.module_, torch.as_tensor(X[:1])) * batch
        times = {False: [], "bfloat16": []}
        for _ in range(repeats + 1):  # the first round warms up
            for amp in times:
                start = time.perf_counter()
                make(amp).fit(X, y)
                times[amp].append(time.perf_counter() - start)
        f32, bf16 = (statistics.median(times[a][1:] or times[a]) for a in (False, "bfloat16"))
        rows.append({"net": name, "batch": batch, "work per batch (MACs)": macs, "float32 s": f32,
                     "bfloat16 s": bf16, "bfloat16 speed-up": f32 / bf16})
        print(rows[-1], flush=True)
    text = (f"{ROWS} rows, {EPOCHS} epochs; float32 and amp='bfloat16' alternate fit by fit, median of "
            f"{repeats} rounds after a warm-up round (float32 small MLPs use the closed-form step, "
            "which autocast turns off).\n\n" + markdown_table(rows, list(rows[0])))
    write_result("amp", "Mixed precision against float32 on the CPU", [("Fit time by work per batch", text)],
                 "python benchmarks/bench_amp.py" + (" --quick" if QUICK else ""))


if __name__ == "__main__":
    main()
