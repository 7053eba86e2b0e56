"""The one module that reads scikit-learn's private names.

Tested with scikit-learn 1.6 to 1.9 (the minimum-dependencies run,
``build_tools/min_dependencies.py``, and CI); importing skensemble with another
minor release fails with :class:`~skensemble._compat.UntestedVersionError`.

What is read, and why:

* ``sklearn.base._fit_context`` and ``sklearn.utils._param_validation``
  (``Interval``, ``StrOptions``, ``HasMethods``): scikit-learn's developer API
  for parameter validation, which third-party estimators are told to use but
  which lives in private names;
* ``_BaseHeterogeneousEnsemble`` and ``_BaseVoting``: the bases of
  scikit-learn's voting and stacking, which skensemble's ensembles extend;
  ``BaseSearchCV`` from the private ``model_selection._search``;
* ``BaseEstimator._validate_params`` (a ``partial_fit`` validates as ``fit`` does),
  ``_check_sample_weight``, ``_print_elapsed_time`` (the ``verbose`` lines of
  scikit-learn's ensembles) and the routing check ``_raise_for_params``;
* ``_BaseVoting._weights_not_none`` (the weights of the members not dropped);
* the tree classes ``sklearn.tree._tree.Tree`` and
  ``sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor``, which
  ``skensemble.load`` bounds-checks before it trusts them.
"""

import numpy as np
import sklearn
from sklearn.base import _fit_context
from sklearn.ensemble._base import _BaseHeterogeneousEnsemble as BaseHeterogeneousEnsemble
from sklearn.ensemble._voting import _BaseVoting as BaseVoting
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._user_interface import _print_elapsed_time
from sklearn.utils.metadata_routing import _raise_for_params
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import check_version

TESTED = ("1.6", "1.9")
check_version("scikit-learn", sklearn.__version__, *TESTED)

# every private name of sklearn this adapter reads (imports, attributes, getattr), checked against its
# source by tests/test_architecture.py: what to re-check when a new sklearn release is tested
READS = (
    "_parameter_constraints",
    "_run_search",
    "_validate_estimators",
    "_validate_params",
    "_weights_not_none",
    "sklearn.base._fit_context",
    "sklearn.ensemble._base",
    "sklearn.ensemble._base._BaseHeterogeneousEnsemble",
    "sklearn.ensemble._hist_gradient_boosting.predictor",
    "sklearn.ensemble._voting",
    "sklearn.ensemble._voting._BaseVoting",
    "sklearn.model_selection._search",
    "sklearn.tree._tree",
    "sklearn.utils._param_validation",
    "sklearn.utils._user_interface",
    "sklearn.utils._user_interface._print_elapsed_time",
    "sklearn.utils.metadata_routing._raise_for_params",
    "sklearn.utils.validation._check_sample_weight",
)

# scikit-learn's private methods that skensemble's classes override, and why.
OVERRIDDEN = {
    "_parameter_constraints": "scikit-learn's developer API for parameter validation (its developer guide)",
    "_validate_estimators": "voting and stacking: members need predict_proba for soft voting and are "
                            "placed on devices when validated",
    "_run_search": "CompressionSearchCV: BaseSearchCV's documented extension point (the candidates to evaluate)",
}


def parameter_constraints(cls):
    """``cls._parameter_constraints`` (scikit-learn's parameter validation API) as a new dict to extend."""
    return dict(cls._parameter_constraints)


def validate_estimators(ensemble):
    """A voting or stacking ensemble's ``_validate_estimators()``: ``(names, estimators)``."""
    return ensemble._validate_estimators()


def next_validate_estimators(cls, ensemble):
    """The ``_validate_estimators`` that ``cls`` overrides: the next one in ``ensemble``'s MRO."""
    return super(cls, ensemble)._validate_estimators()


def is_search(estimator):
    """Whether ``estimator`` is a scikit-learn search (``BaseSearchCV``'s ``_run_search`` extension point)."""
    return hasattr(estimator, "_run_search")


def fit_context(*, prefer_skip_nested_validation):
    """scikit-learn's ``_fit_context``: validate the parameters, then run ``fit``."""
    return _fit_context(prefer_skip_nested_validation=prefer_skip_nested_validation)


def validate_params(estimator):
    """Check ``estimator``'s parameters against its ``_parameter_constraints`` (what ``fit_context`` runs)."""
    estimator._validate_params()


def raise_for_params(params, owner, method):
    """Refuse extra ``method`` keyword arguments unless metadata routing is enabled (scikit-learn's check)."""
    _raise_for_params(params, owner, method)


def print_elapsed_time(source, message=None):
    """The context manager behind scikit-learn's ``verbose`` lines (``[Voting] ... total=0.1s``)."""
    return _print_elapsed_time(source, message)


def weights_not_none(voting):
    """A voting ensemble's weights of the members that are not ``"drop"`` (``None`` without weights)."""
    return voting._weights_not_none


def tree_types():
    """scikit-learn's compiled tree classes: ``(Tree, TreePredictor)``."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    return Tree, TreePredictor


def check_sample_weight(sample_weight, X):
    """Validated float64 ``sample_weight`` (one non-negative weight per row, some positive).

    scikit-learn's check refuses a wrong shape, NaN and all-zero weights;
    negative weights are refused here with a message that names them.
    """
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if np.any(sample_weight < 0):
        raise ValueError("Negative values in sample_weight are not allowed.")
    if not np.any(sample_weight > 0):  # scikit-learn checks this itself from 1.7 on
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


__all__ = [
    "BaseHeterogeneousEnsemble",
    "BaseSearchCV",
    "BaseVoting",
    "HasMethods",
    "Interval",
    "OVERRIDDEN",
    "READS",
    "StrOptions",
    "TESTED",
    "check_is_fitted",
    "check_sample_weight",
    "fit_context",
    "is_search",
    "next_validate_estimators",
    "parameter_constraints",
    "print_elapsed_time",
    "raise_for_params",
    "tree_types",
    "validate_data",
    "validate_estimators",
    "validate_params",
    "weights_not_none",
]
