"""Process-wide settings of skensemble, in scikit-learn's style: ``set_config``, ``get_config``, ``config_context``.

The settings are process-wide on purpose: torch's thread pool is one per
process, so the rule that sizes it cannot be a per-estimator parameter.
A setting changed here is seen by every thread of this process; worker
processes (joblib's loky backend, Dask, Ray) start from their defaults,
which the environment variables below set.
"""

import os
import threading
from contextlib import contextmanager

_FIT_THREADS_CHOICES = ("auto", "adaptive", "keep")

_lock = threading.Lock()
_explicit = {}  # the settings set_config was given; the others follow their defaults (read at each call)


def _defaults():
    return {
        # SKENSEMBLE_FIT_THREADS: the default of fit_threads (kept from before set_config existed)
        "fit_threads": _check_fit_threads(os.environ.get("SKENSEMBLE_FIT_THREADS", "auto")),
        "fused_training": True,
    }


def _check_fit_threads(value):
    if isinstance(value, str):
        value = value.strip().lower()
        if value.isdigit():
            value = int(value)
    if isinstance(value, bool) or not (value in _FIT_THREADS_CHOICES or (isinstance(value, int) and value > 0)):
        raise ValueError(f"fit_threads must be 'auto', 'adaptive', 'keep' or a positive int; got {value!r}.")
    return value


def _check_fused(value):
    if not isinstance(value, bool):
        raise ValueError(f"fused_training must be True or False; got {value!r}.")
    return value


_CHECKS = {"fit_threads": _check_fit_threads, "fused_training": _check_fused}


def get_config():
    """The current values of skensemble's settings.

    Returns
    -------
    config : dict
        ``fit_threads`` and ``fused_training`` (see :func:`set_config`).

    Examples
    --------
    >>> import skensemble
    >>> sorted(skensemble.get_config())
    ['fit_threads', 'fused_training']
    """
    with _lock:
        return {**_defaults(), **_explicit}


def set_config(fit_threads=None, fused_training=None):
    """Set skensemble's process-wide settings; ``None`` leaves a setting as it is.

    Parameters
    ----------
    fit_threads : {"auto", "adaptive", "keep"} or int, default=None
        torch threads each fit uses: ``"auto"`` (one thread for small nets,
        the cores this process may use for larger ones, whatever else is
        running: a seeded fit gives the same result on a busy machine),
        ``"adaptive"`` (the cores other processes leave free at the moment
        the fit starts: faster beside other work, but conv and norm layers
        then round as the load decides; see ``skensemble/utils/_threads.py``),
        ``"keep"`` (never change torch's setting) or that many threads.  Its default is read from the
        environment variable ``SKENSEMBLE_FIT_THREADS``, else ``"auto"``.
    fused_training : bool, default=None
        Whether ensembles may train same-shape MLP members fused as one
        batched module (default True).  ``False`` trains every member on its
        own, whatever the ensembles' ``fused`` parameters say (their
        ``fused=True`` then means "when allowed").

    Examples
    --------
    >>> import skensemble
    >>> with skensemble.config_context():  # restores the settings after the example
    ...     skensemble.set_config(fit_threads=1)
    ...     skensemble.get_config()["fit_threads"]
    1
    """
    new = {k: v for k, v in {"fit_threads": fit_threads, "fused_training": fused_training}.items()
           if v is not None}
    checked = {k: _CHECKS[k](v) for k, v in new.items()}
    with _lock:
        _explicit.update(checked)


@contextmanager
def config_context(**settings):
    """Run the block with skensemble's settings changed, then restore them (process-wide, see ``set_config``).

    Parameters
    ----------
    **settings
        ``fit_threads``, ``fused_training``: as in :func:`set_config`.

    Examples
    --------
    >>> import skensemble
    >>> with skensemble.config_context(fused_training=False):
    ...     skensemble.get_config()["fused_training"]
    False
    >>> skensemble.get_config()["fused_training"]
    True
    """
    unknown = set(settings) - set(_CHECKS)
    if unknown:
        raise TypeError(f"config_context got unknown settings {sorted(unknown)}; known: {sorted(_CHECKS)}.")
    with _lock:
        before = dict(_explicit)
    set_config(**settings)
    try:
        yield
    finally:
        with _lock:
            _explicit.clear()
            _explicit.update(before)
