# %% [markdown]
# # Distil a gradient-boosting + net ensemble into a small net
#
# The teacher labels a transfer set (the training data plus augmented copies)
# once; the student learns from the softened probabilities.

# %%
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from skensemble.compression import DistilledClassifier
from skensemble.ensemble import VotingClassifier
from skensemble.nets import MLPNetClassifier
from skensemble.report import compression_report

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
teacher = VotingClassifier(
    [("boosting", HistGradientBoostingClassifier(random_state=0)),
     ("net", MLPNetClassifier((256, 256), max_epochs=60, random_state=0))],
    voting="soft", n_jobs=2,
).fit(X_train, y_train)

# %% The same small student, trained on hard labels and distilled
hard = MLPNetClassifier((32,), random_state=0).fit(X_train, y_train)
students = {
    aug: DistilledClassifier(FrozenEstimator(teacher), MLPNetClassifier((32,), random_state=0),
                             augmentation=aug, random_state=0).fit(X_train, y_train)
    for aug in (None, "noise", "mixup", "munge")
}
models = {"teacher": teacher, "student, hard labels": hard}
models.update({f"distilled, {aug}": s for aug, s in students.items()})
print(compression_report(models, X_test, y_test, n_repeats=3))
print("fidelity to the teacher:", {aug: round(s.fidelity_, 3) for aug, s in students.items()})
