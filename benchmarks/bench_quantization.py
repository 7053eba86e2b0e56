"""Quantization: accuracy, size and predict time of each backend against float32.

For every backend/dtype/method of ``QuantizedClassifier`` on digits and on a
784-input synthetic task, with hidden sizes 256 and 1024.  Predict time is the
module forward (``torch.inference_mode``) at batch 1, 64 and 4096, timed
round-robin over the variants, as a ratio to the float32 module.

Run: ``python benchmarks/bench_quantization.py [--quick]``; writes
``benchmarks/results/quantization.md``.
"""

import argparse
import importlib.util

from sklearn.datasets import load_digits, make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from _common import interleaved_latency, markdown_table, module_predictor, write_result
from skensemble.compression import QuantizedClassifier
from skensemble.export import OnnxRuntimeModel
from skensemble.nets import MLPNetClassifier

BATCHES = (1, 64, 4096)
VARIANTS = [
    ("dtype='auto' (what this machine runs fast)", dict(dtype="auto")),
    ("int8 dynamic, default backend='auto'", dict(dtype="int8", method="dynamic")),
    ("int8 dynamic, torch", dict(dtype="int8", method="dynamic", backend="torch")),
    ("int8 static, default backend='auto'", dict(dtype="int8", method="static")),
    ("int8 static, torch eager", dict(dtype="int8", method="static", backend="torch")),
    ("int8 weight-only", dict(dtype="int8", backend="weight-only")),
    ("float16", dict(dtype="float16")),
    ("bfloat16", dict(dtype="bfloat16")),
    ("float32 served by ONNX Runtime", dict(dtype="float32", backend="onnxruntime")),
]


def run_task(X, y, hidden, epochs, repeats):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    net = MLPNetClassifier(hidden, max_epochs=epochs, random_state=0).fit(X_train, y_train)
    X32 = X_test.astype("float32")
    float_bytes = QuantizedClassifier(FrozenEstimator(net)).fit(X_train, y_train).size_bytes_float_
    models = {"float32": (net.module_, net.score(X_test, y_test), float_bytes)}
    for name, kw in VARIANTS:
        if (kw.get("backend") == "onnxruntime" or kw.get("dtype") == "float32") and \
                importlib.util.find_spec("onnxruntime") is None:
            continue
        q = QuantizedClassifier(FrozenEstimator(net), random_state=0, **kw).fit(X_train, y_train)
        models[f"{name} [{q.backend_}]"] = (q.quantized_module_, q.score(X_test, y_test), q.size_bytes_)
    times = interleaved_latency({k: (m if isinstance(m, OnnxRuntimeModel) else module_predictor(m))
                                 for k, (m, _, _) in models.items()},
                                X32, BATCHES, repeats=repeats)
    rows = []
    for name, (_, acc, size) in models.items():
        rows.append({"model": name, "accuracy": acc, "bytes": size,
                     **{f"ms @{b}": 1000 * times[name][b] for b in BATCHES},
                     **{f"speedup @{b}": times["float32"][b] / times[name][b] for b in BATCHES}})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    cols = ["model", "accuracy", "bytes"] + [f"ms @{b}" for b in BATCHES] + [f"speedup @{b}" for b in BATCHES]
    sections = []
    X, y = load_digits(return_X_y=True)
    n = 4000 if args.quick else 12000
    Xs, ys = make_classification(n, 784, n_informative=40, n_redundant=0, n_classes=10,
                                 class_sep=2.0, random_state=0)
    for hidden in (256, 1024):
        sections.append((f"digits, MLP 64-{hidden}-{hidden}-10",
                         markdown_table(run_task(X, y, (hidden, hidden), 30, repeats), cols)))
        sections.append((f"synthetic {n} x 784, MLP 784-{hidden}-{hidden}-10",
                         markdown_table(run_task(Xs, ys, (hidden, hidden), 5, repeats), cols)))
    write_result("quantization", "Quantization: size, accuracy and speed against float32",
                 sections, "python benchmarks/bench_quantization.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()
