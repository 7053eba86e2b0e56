"""pytest plugin: scikit-learn's ensemble tests with skensemble's classes.

Loaded with ``-p skensemble_swap`` in a separate pytest process (see
``tests/test_sklearn_suite.py``): before scikit-learn's test modules are
imported, ``sklearn.ensemble``'s voting and stacking classifiers and
regressors are pointed at skensemble's, so every test of those modules
(their names are imported from ``sklearn.ensemble``) runs against
skensemble's classes.
"""

import sklearn.ensemble

import skensemble.ensemble

for _name in ("VotingClassifier", "StackingClassifier", "VotingRegressor", "StackingRegressor"):
    setattr(sklearn.ensemble, _name, getattr(skensemble.ensemble, _name))
