# %% [markdown]
# # Nets as scikit-learn estimators
#
# `MLPNetClassifier` and `ConvNetClassifier` infer their input and output sizes
# at `fit`, accept any numeric X (or a DataFrame) and any labels, and work with
# `Pipeline`, `GridSearchCV` and `cross_validate`.

# %%
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skensemble.nets import ConvNetClassifier, MLPNetClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)

# %% An MLP with defaults, and a conv net that reshapes rows to 8x8 images
mlp = MLPNetClassifier(random_state=0).fit(X_train, y_train)
conv = ConvNetClassifier(input_shape=(1, 8, 8), random_state=0).fit(X_train, y_train)
print(f"MLP  test accuracy: {mlp.score(X_test, y_test):.3f}")
print(f"Conv test accuracy: {conv.score(X_test, y_test):.3f}")
print(conv.module_)

# %% Grid search inside a pipeline, in parallel
pipe = make_pipeline(StandardScaler(), MLPNetClassifier(max_epochs=30, random_state=0))
grid = {"mlpnetclassifier__hidden_layer_sizes": [(32,), (128,)], "mlpnetclassifier__lr": [1e-3, 3e-3]}
search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X_train, y_train)
print("best:", search.best_params_, f"{search.best_score_:.3f}")
