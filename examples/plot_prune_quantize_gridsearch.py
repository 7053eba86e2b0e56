# %% [markdown]
# # Prune, then quantize, inside GridSearchCV
#
# Compression steps are estimators: they nest, and their parameters are
# searched like any other.

# %%
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skensemble
from skensemble.compression import PrunedClassifier, QuantizedClassifier
from skensemble.nets import MLPNetClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
model = Pipeline([
    ("scale", StandardScaler()),
    ("compress", QuantizedClassifier(PrunedClassifier(
        MLPNetClassifier((256,), max_epochs=30, random_state=0),
        granularity="neuron", random_state=0))),
])
grid = {"compress__estimator__sparsity": [0.5, 0.8, 0.9], "compress__dtype": ["int8", "float16"]}
search = GridSearchCV(model, grid, cv=3, n_jobs=2).fit(X_train, y_train)
print(search.best_params_, f"cv {search.best_score_:.3f}, test {search.score(X_test, y_test):.3f}")

# %% Save without pickle, load, predict
path = skensemble.save(search.best_estimator_, "pruned_int8.zip")
loaded = skensemble.load(path)
print("same predictions after loading:", (loaded.predict(X_test) == search.predict(X_test)).all())
