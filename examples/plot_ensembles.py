# %% [markdown]
# # Ensembles of nets and scikit-learn models
#
# Voting and stacking fit members in parallel (`n_jobs`) without
# oversubscribing the cores; a cascade serves easy samples with a cheap model;
# ensemble selection learns member weights on out-of-fold probabilities.

# %%
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skensemble.ensemble import (
    CascadeClassifier,
    EnsembleSelectionClassifier,
    StackingClassifier,
    VotingClassifier,
)
from skensemble.nets import MLPNetClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
nets = [(f"net{s}", MLPNetClassifier((128,), random_state=s)) for s in range(3)]

# %% Parallel fits; devices="auto" would put the i-th member on the i-th GPU
vote = VotingClassifier(nets, voting="soft", n_jobs=2).fit(X_train, y_train)
stack = StackingClassifier(nets + [("lr", lr)], cv=3, n_jobs=2).fit(X_train, y_train)
print(f"voting {vote.score(X_test, y_test):.3f}  stacking {stack.score(X_test, y_test):.3f}")

# %% Cascade: the logistic regression decides when it is confident
cascade = CascadeClassifier([("lr", lr), ("net", nets[0][1])], threshold=0.99).fit(X_train, y_train)
stages = cascade.predict_stage(X_test)
print(f"cascade {cascade.score(X_test, y_test):.3f}; first stage decided {(stages == 0).mean():.0%}")

# %% Ensemble selection over a library
library = nets + [("lr", lr), ("forest", RandomForestClassifier(200, random_state=0))]
selection = EnsembleSelectionClassifier(library, ensemble_size=25, n_jobs=2).fit(X_train, y_train)
print(f"selection {selection.score(X_test, y_test):.3f}; weights",
      dict(zip([n for n, _ in library], selection.weights_.round(2))))
