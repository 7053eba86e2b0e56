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

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from skorch import NeuralNet


def _unwrap(estimator):
    """Yield ``(layer, preprocessing)`` from ``estimator`` down to its net, in the protocol's order.

    ``preprocessing`` is the fitted pipeline head applied before ``layer``
    (``None`` when there is none).  The walk stops at a skorch net, at an
    object that follows no step of the protocol, and at a meta-estimator
    whose fitted attribute is missing (that object is yielded last).
    """
    seen = estimator
    while True:
        yield seen, None
        if isinstance(seen, NeuralNet):
            return
        if isinstance(seen, FrozenEstimator):
            seen = seen.estimator
        elif isinstance(seen, Pipeline):
            if len(seen.steps) > 1:
                yield seen, seen[:-1]
            seen = seen.steps[-1][1]
        else:
            attr = getattr(type(seen), "_skensemble_net_attr", None)
            if attr is None or not hasattr(seen, attr):
                return
            encoder = getattr(seen, "table_encoder_", None)
            if encoder is not None:  # a net that takes raw tables encodes them before its net sees them
                yield seen, encoder
            seen = getattr(seen, attr)


def get_net(estimator):
    """Return the fitted skorch net inside ``estimator``.

    Raises
    ------
    TypeError
        If ``estimator`` holds no torch net.
    NotFittedError
        If the net inside is not fitted yet.
    """
    *_, (last, _) = _unwrap(estimator)
    if isinstance(last, NeuralNet):
        if not getattr(last, "initialized_", False):
            raise NotFittedError(f"The skorch net inside {type(estimator).__name__} is not fitted.")
        return last
    if getattr(type(last), "_skensemble_net_attr", None) is not None:
        raise NotFittedError(f"This {type(last).__name__} instance is not fitted yet; call 'fit' first.")
    raise TypeError(
        f"{type(estimator).__name__} holds no torch net: expected a skorch "
        "NeuralNet, a skensemble net or a skensemble meta-estimator wrapping one."
    )


def get_module(estimator):
    """Return the fitted :class:`torch.nn.Module` inside ``estimator``."""
    return get_net(estimator).module_


def get_net_estimator(estimator):
    """The innermost skensemble net estimator in ``estimator`` (what encodes its targets), or None.

    Found by the access protocol; a user's skorch net has none.
    """
    found = None
    for layer, _ in _unwrap(estimator):
        if hasattr(layer, "encode_targets"):
            found = layer
    return found


def is_net(estimator):
    """Whether ``estimator`` is, or wraps, a torch net (fitted or not)."""
    *_, (last, _) = _unwrap(estimator)
    return isinstance(last, NeuralNet) or getattr(type(last), "_skensemble_net_attr", None) is not None


def net_input(estimator, X):
    """Transform ``X`` the way ``estimator`` does before its net sees it.

    Steps of a ``Pipeline`` before the net and a net's table encoder
    (``table_encoder_``, for raw tables) are applied; the result is a float32
    array, what skensemble's nets and skorch modules are trained on.
    """
    for _, preprocessing in _unwrap(estimator):
        if preprocessing is not None:
            X = preprocessing.transform(X)
    return np.asarray(X, dtype=np.float32)


def sole_table_encoder(estimator):
    """The table encoder of the net in ``estimator`` when it is the only step before the net, else None.

    So a wrapper may hand a checked table to that net's encoding (through
    wrappers such as a pruned net) without a pipeline step in between.
    """
    steps = [(layer, pre) for layer, pre in _unwrap(estimator) if pre is not None]
    if len(steps) == 1 and steps[0][1] is getattr(steps[0][0], "table_encoder_", None) \
            and hasattr(steps[0][0], "_encode_checked"):
        return steps[0][1]
    return None


def checked_net_input(estimator, X):
    """:func:`net_input` of a table whose columns the caller has checked against the fit's.

    When the only step before the net is a skensemble net's table encoder
    (through wrappers such as a pruned net), the net encodes ``X`` without
    checking it again (``_encode_checked``: its ``transform`` would check
    the columns and the fitted state a second time, most of a batch-1
    prediction's cost); otherwise as :func:`net_input`.
    """
    encoder = sole_table_encoder(estimator)
    if encoder is not None:
        return np.asarray(encoder.encode(X), dtype=np.float32)
    return net_input(estimator, X)


def encodes_every_table(estimator):
    """Whether the net in ``estimator`` (fitted or not) encodes numeric tables too (``preprocessing="always"``).

    Followed through ``FrozenEstimator``, a ``Pipeline``'s last step and the
    ``estimator``/``student`` parameters of meta-estimators; such a net's
    module never sees the rows as given, so wrappers hand it the table.
    """
    seen = estimator
    for _ in range(32):  # nesting depth; a cycle is no estimator
        if getattr(type(seen), "_takes_tables", False):
            return getattr(seen, "preprocessing", None) == "always"
        if isinstance(seen, FrozenEstimator):
            seen = seen.estimator
        elif isinstance(seen, Pipeline):
            seen = seen.steps[-1][1]
        elif getattr(seen, "student", None) is not None:
            seen = seen.student
        elif getattr(seen, "estimator", None) is not None:
            seen = seen.estimator
        else:
            return False
    return False


def takes_raw_tables(estimator):
    """Whether ``estimator`` (fitted or not) takes raw tables: text columns and missing values.

    Read from its tags (``input_tags.string``), which skensemble's tabular
    nets set and its wrappers pass on from what they wrap.
    """
    from sklearn.utils import get_tags

    while isinstance(estimator, FrozenEstimator):  # its tags are a deep copy of the inner ones (0.1 ms a call)
        estimator = estimator.estimator
    try:
        return bool(get_tags(estimator).input_tags.string)
    except (AttributeError, TypeError):
        return False
