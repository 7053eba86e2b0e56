"""pytest plugin: scikit-learn's ensemble tests with skensemble's classes.

Loaded with ``-p skensemble_swap`` in a separate pytest process (see
``tests/test_sklearn_suite.py``): before scikit-learn's test modules are
imported, ``sklearn.ensemble.VotingClassifier`` and ``StackingClassifier``
are pointed at skensemble's, so every test of those modules (their names
are imported from ``sklearn.ensemble``) runs against skensemble's classes.
"""

import sklearn.ensemble

import skensemble.ensemble

sklearn.ensemble.VotingClassifier = skensemble.ensemble.VotingClassifier
sklearn.ensemble.StackingClassifier = skensemble.ensemble.StackingClassifier
