# %% [markdown]
# # Pruning that makes nets smaller and faster
#
# `granularity="neuron"` physically removes hidden units (and conv channels),
# so the pruned module has fewer parameters and runs faster;
# `granularity="weight"` zeroes individual weights (same size and speed).

# %%
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from skensemble.compression import PrunedClassifier
from skensemble.nets import MLPNetClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
dense = MLPNetClassifier((256, 256), max_epochs=60, random_state=0).fit(X_train, y_train)
print(f"dense: {dense.score(X_test, y_test):.3f}")

# %% Prune a copy of the fitted net (FrozenEstimator: the dense net is not refitted or changed)
for granularity, sparsity, steps in [("neuron", 0.5, 1), ("neuron", 0.75, 3), ("weight", 0.9, 3)]:
    pruned = PrunedClassifier(FrozenEstimator(dense), sparsity=sparsity, granularity=granularity,
                              n_steps=steps, random_state=0, verbose=1).fit(X_train, y_train)
    print(f"{granularity} {sparsity}: accuracy {pruned.score(X_test, y_test):.3f}, "
          f"{pruned.n_params_:,} of {pruned.n_params_dense_:,} parameters, "
          f"{pruned.n_nonzero_params_:,} non-zero")
print(pruned.estimator_.module_)
