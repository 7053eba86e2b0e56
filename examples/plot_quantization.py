# %% [markdown]
# # Quantization: int8 and half precision
#
# Predictions of a `QuantizedClassifier` come from the quantized module.

# %%
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from skensemble.compression import QuantizedClassifier
from skensemble.nets import MLPNetClassifier
from skensemble.report import compression_report

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
net = MLPNetClassifier((512, 512), max_epochs=40, random_state=0).fit(X_train, y_train)

# %%
models = {"float32": net}
for name, kw in [("int8 dynamic", {}), ("int8 static", {"method": "static"}),
                 ("float16", {"dtype": "float16"})]:
    q = QuantizedClassifier(FrozenEstimator(net), random_state=0, **kw).fit(X_train, y_train)
    print(f"{name}: backend {q.backend_}, {q.compression_ratio_:.2f}x smaller")
    models[name] = q
print(compression_report(models, X_test, y_test, batch_sizes=(1, 1024), n_repeats=5))
