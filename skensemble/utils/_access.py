"""The module-access protocol: reach the fitted torch net inside any estimator.

Every compression meta-estimator works on a fitted skorch net.  The helpers in
this module find that net whatever wraps it, so compression steps nest::

    QuantizedClassifier(PrunedClassifier(MLPNetClassifier()))

The protocol, in the order it is tried:

1. a fitted :class:`skorch.NeuralNet` is the net itself;
2. a :class:`sklearn.frozen.FrozenEstimator` or :class:`sklearn.pipeline.Pipeline`
   is searched through its wrapped estimator or its last step;
3. any other object names the attribute that holds what it wraps in the class
   attribute ``_skensemble_net_attr`` (skensemble's nets use ``"net_"``, the
   pruning meta-estimator ``"estimator_"``, distillation ``"student_"``), and
   the search goes on inside that attribute.

To make an estimator of your own reachable, set ``_skensemble_net_attr`` to the
name of the fitted attribute holding the net or the estimator wrapping it.
"""

from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from skorch import NeuralNet


def get_net(estimator):
    """Return the fitted skorch net inside ``estimator``.

    Raises
    ------
    TypeError
        If ``estimator`` holds no torch net.
    NotFittedError
        If the net inside is not fitted yet.
    """
    seen = estimator
    while True:
        if isinstance(seen, NeuralNet):
            if not getattr(seen, "initialized_", False):
                raise NotFittedError(
                    f"The skorch net inside {type(estimator).__name__} is not fitted."
                )
            return seen
        if isinstance(seen, FrozenEstimator):
            seen = seen.estimator
            continue
        if isinstance(seen, Pipeline):
            seen = seen.steps[-1][1]
            continue
        attr = getattr(type(seen), "_skensemble_net_attr", None)
        if attr is None:
            raise TypeError(
                f"{type(estimator).__name__} holds no torch net: expected a skorch "
                "NeuralNet, a skensemble net or a skensemble meta-estimator wrapping one."
            )
        if not hasattr(seen, attr):
            raise NotFittedError(
                f"This {type(seen).__name__} instance is not fitted yet; "
                "call 'fit' first."
            )
        seen = getattr(seen, attr)


def get_module(estimator):
    """Return the fitted :class:`torch.nn.Module` inside ``estimator``."""
    return get_net(estimator).module_


def is_net(estimator):
    """Whether ``estimator`` is, or wraps, a torch net (fitted or not)."""
    seen = estimator
    while True:
        if isinstance(seen, NeuralNet):
            return True
        if isinstance(seen, FrozenEstimator):
            seen = seen.estimator
        elif isinstance(seen, Pipeline):
            seen = seen.steps[-1][1]
        elif getattr(type(seen), "_skensemble_net_attr", None) is not None:
            return True
        else:
            return False


def net_input(estimator, X):
    """Transform ``X`` the way ``estimator`` does before its net sees it.

    Steps of a ``Pipeline`` before the net are applied; the result is a float32
    array, what skensemble's nets and skorch modules are trained on.
    """
    import numpy as np

    seen = estimator
    while True:
        if isinstance(seen, NeuralNet):
            break
        if isinstance(seen, FrozenEstimator):
            seen = seen.estimator
        elif isinstance(seen, Pipeline):
            if len(seen.steps) > 1:
                X = seen[:-1].transform(X)
            seen = seen.steps[-1][1]
        else:
            attr = getattr(type(seen), "_skensemble_net_attr", None)
            if attr is None:
                break
            seen = getattr(seen, attr)
    return np.asarray(X, dtype=np.float32)
