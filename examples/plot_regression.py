# %% [markdown]
# # Regression: compress a net regressor and distil a boosting model
#
# Every compression meta-estimator and ensemble has a regressor twin. Here, on
# Friedman #1 (a smooth non-linear target): a net, its pruned and int8
# versions, a small student distilled from gradient boosting, and a vote, in
# one compression report (R^2, RMSE, MAE, size, latency).

# %%
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skensemble.compression import DistilledRegressor, PrunedRegressor, QuantizedRegressor
from skensemble.ensemble import VotingRegressor
from skensemble.nets import MLPNetRegressor
from skensemble.report import compression_report

X, y = make_friedman1(3000, noise=1.0, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
net = make_pipeline(StandardScaler(), MLPNetRegressor((256, 256), early_stopping=True, batch_size=64,
                                                      max_epochs=200, random_state=0)).fit(X_train, y_train)
print(f"net: R^2 {net.score(X_test, y_test):.3f}")

# %% Prune half the neurons, quantize to int8, and both (the net is copied, not refitted)
pruned = PrunedRegressor(FrozenEstimator(net), sparsity=0.5, granularity="neuron",
                         random_state=0).fit(X_train, y_train)
int8 = QuantizedRegressor(FrozenEstimator(net)).fit(X_train, y_train)
both = QuantizedRegressor(FrozenEstimator(pruned)).fit(X_train, y_train)
print(f"pruned: {pruned.n_params_:,} of {pruned.n_params_dense_:,} parameters; "
      f"int8: {int8.compression_ratio_:.1f}x smaller ({int8.backend_})")

# %% Distil gradient boosting into a 32-unit net over a mixup transfer set
distilled = make_pipeline(StandardScaler(), DistilledRegressor(
    HistGradientBoostingRegressor(random_state=0),
    MLPNetRegressor((32,), max_epochs=30, lr=3e-3, batch_size=64),
    augmentation="mixup", random_state=0)).fit(X_train, y_train)
print(f"distilled student: fidelity to the teacher (R^2) {distilled[-1].fidelity_:.3f}")

# %% A vote of two nets and the boosting model, fitted in parallel
vote = VotingRegressor([
    ("net0", make_pipeline(StandardScaler(), MLPNetRegressor((64,), max_epochs=60, lr=3e-3, random_state=0))),
    ("net1", make_pipeline(StandardScaler(), MLPNetRegressor((64,), max_epochs=60, lr=3e-3, random_state=1))),
    ("boosting", HistGradientBoostingRegressor(random_state=0)),
], n_jobs=2).fit(X_train, y_train)

# %% One report: R^2 with RMSE and MAE, parameters, bytes and latency, side by side
report = compression_report({"net": net, "pruned 50%": pruned, "int8": int8, "pruned + int8": both,
                             "distilled": distilled, "vote": vote}, X_test, y_test, batch_sizes=(1, 1024))
print(report)
report.plot("regression_report.png")
