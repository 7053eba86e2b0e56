# %% [markdown]
# # The model-optimisation chain: pretrained -> fine-tuned -> distilled -> pruned -> int8
#
# The classic workflow, inside scikit-learn: take a base model pretrained on a
# source task, adapt it to a small target task (transfer learning), distil it
# into a smaller student, prune neurons and whole residual blocks, then
# quantize to int8. Nothing is downloaded: the "pretrained" base is trained
# here on a source task (digits 0-4), and the target task is digits 5-9 with
# 40 labelled rows per class. A `compression_report` after each stage
# measures score, parameters, bytes and latency side by side.

# %%
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

import skensemble
from skensemble.compression import DistilledClassifier, PrunedClassifier, QuantizedClassifier
from skensemble.nets import ResNetClassifier
from skensemble.report import compression_report
from skensemble.transfer import FineTunedClassifier

X, y = load_digits(return_X_y=True)
X_source, y_source = X[y < 5], y[y < 5]
X_pool, X_test, y_pool, y_test = train_test_split(X[y >= 5], y[y >= 5], test_size=0.5,
                                                  stratify=y[y >= 5], random_state=0)
rng = np.random.RandomState(0)
few = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), 40, replace=False) for c in range(5, 10)])
X_train, y_train = X_pool[few], y_pool[few]
print(f"source: {len(X_source)} rows; target: {len(X_train)} labelled rows, {len(X_test)} test rows")

# %% [markdown]
# ## 1. The base net, pretrained on the source task
# A residual net for tables (Gorishniy et al., 2021): 3 blocks on a stream of
# 128 units.

# %%
base = ResNetClassifier(width=128, n_blocks=3, max_epochs=40, random_state=0).fit(X_source, y_source)

# %% [markdown]
# ## 2. Fine-tuned on the target task
# A new head for the new classes; the pretrained layers train at a tenth of
# the head's learning rate. Beside it, the same net trained from scratch on
# the 200 target rows: the benchmark (`benchmarks/results/transfer.md`) shows
# when transfer pays, and here the report says whether it did.

# %%
fine_tuned = FineTunedClassifier(FrozenEstimator(base), freeze="none", max_epochs=60,
                                 random_state=0).fit(X_train, y_train)
scratch = clone(base).set_params(max_epochs=60).fit(X_train, y_train)
print(compression_report({"fine-tuned": fine_tuned, "from scratch": scratch}, X_test, y_test))

# %% [markdown]
# ## 3. Distilled into a smaller student
# The fine-tuned net labels an augmented transfer set (the 200 rows plus
# noisy and mixed-up copies) with its probabilities; a residual net a quarter
# of the width learns them.

# %%
student = DistilledClassifier(FrozenEstimator(fine_tuned),
                              ResNetClassifier(width=32, n_blocks=3, max_epochs=60, random_state=0),
                              augment_factor=10, random_state=0).fit(X_train, y_train)

# %% [markdown]
# ## 4. Pruned: half the neurons, then one whole block
# Neuron pruning cuts the residual stream and the blocks' hidden units
# together; layer trimming replaces the least important block by its skip path.

# %%
neurons = PrunedClassifier(FrozenEstimator(student), sparsity=0.5, granularity="neuron",
                           fine_tune_epochs=20, random_state=0).fit(X_train, y_train)
trimmed = PrunedClassifier(FrozenEstimator(neurons), granularity="layer", n_layers=1,
                           fine_tune_epochs=20, random_state=0).fit(X_train, y_train)
print("removed blocks:", trimmed.removed_layers_)

# %% [markdown]
# ## 5. Quantized to int8

# %%
quantized = QuantizedClassifier(FrozenEstimator(trimmed), random_state=0).fit(X_train, y_train)

# %% [markdown]
# ## Every stage, measured side by side

# %%
stages = {"fine-tuned base": fine_tuned, "distilled": student, "pruned (neurons)": neurons,
          "pruned (+ 1 block)": trimmed, "int8": quantized}
report = compression_report(stages, X_test, y_test, batch_sizes=(1, 1024))
print(report)
report.plot("chain_report.png")

# %% [markdown]
# The final model saves without pickle and loads back with the same predictions.

# %%
skensemble.save(quantized, "chain_model.zip")
loaded = skensemble.load("chain_model.zip")
assert np.array_equal(loaded.predict(X_test), quantized.predict(X_test))
