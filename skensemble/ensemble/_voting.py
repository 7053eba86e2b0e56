"""Voting ensemble of nets and any scikit-learn classifiers."""

from sklearn.ensemble import VotingClassifier as _SkVotingClassifier

from ..persistence import register
from ..utils._compat import StrOptions
from ._base import SklearnEnsembleMixin


@register
class VotingClassifier(SklearnEnsembleMixin, _SkVotingClassifier):
    """scikit-learn's ``VotingClassifier`` with device placement for nets.

    Everything of :class:`sklearn.ensemble.VotingClassifier` holds; in addition:

    * ``devices`` places the i-th member fitted in parallel on
      ``devices[i % len(devices)]`` (the member's ``device`` parameters, at any
      depth, are set on a clone; the user's estimators are not changed);
    * with ``n_jobs > 1`` each loky worker runs torch with
      ``cpu_count // n_jobs`` threads, so parallel net fits do not
      oversubscribe the cores;
    * raw skorch nets among the members get float32 X, and the members' soft
      probabilities are checked before any member is trained.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members; ``"drop"`` drops one.
    voting : {"hard", "soft"}, default="hard"
        Majority vote of labels, or argmax of the (weighted) mean probability.
    weights : array-like of shape (n_estimators,), default=None
        Member weights.
    n_jobs : int, default=None
        Members fitted in parallel (joblib; any backend, e.g. Dask).
    flatten_transform : bool, default=True
        As in scikit-learn.
    verbose : bool, default=False
        Print the time of each member's fit.
    devices : list of str, "auto" or None, default=None
        Devices for the members' nets; ``None`` keeps each member's own.

    Attributes
    ----------
    estimators_ : list of classifiers
        The fitted members (not ``"drop"``).
    named_estimators_ : Bunch
        Fitted members by name.
    le_ : LabelEncoder
        Encoder of the labels.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when the members record them.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skensemble.ensemble import VotingClassifier
    >>> from skensemble.nets import MLPNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> vote = VotingClassifier(
    ...     [("lr", LogisticRegression(max_iter=500)),
    ...      ("net", MLPNetClassifier((16,), max_epochs=50, lr=0.01, random_state=0))],
    ...     voting="soft", devices=["cpu"]).fit(X, y)
    >>> vote.score(X, y) > 0.9
    True
    """

    _parameter_constraints = {
        **_SkVotingClassifier._parameter_constraints,
        "devices": [list, StrOptions({"auto"}), None],
    }

    def __init__(
        self,
        estimators,
        *,
        voting="hard",
        weights=None,
        n_jobs=None,
        flatten_transform=True,
        verbose=False,
        devices=None,
    ):
        super().__init__(
            estimators,
            voting=voting,
            weights=weights,
            n_jobs=n_jobs,
            flatten_transform=flatten_transform,
            verbose=verbose,
        )
        self.devices = devices

    def _members_need_proba(self):
        return self.voting == "soft"
