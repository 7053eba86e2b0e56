"""Shared code of skensemble's ensembles: devices, member checks, parallel fits.

Threads: joblib's loky backend (the default for ``n_jobs > 1``) starts each
worker with ``OMP_NUM_THREADS = cpu_count // n_jobs``, which torch honours, so
parallel member fits do not oversubscribe the cores (checked in the tests and
measured in ``benchmarks/bench_ensembles.py``).  The jobs that skensemble runs
itself (cascade and ensemble-selection fits) also set torch's thread count
inside the job, so other joblib backends get the same limit.
"""

import os
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from joblib import effective_n_jobs
from sklearn.base import clone, is_classifier
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import has_fit_parameter
from skorch import NeuralNet

from .._compat.sklearn import (check_sample_weight, next_validate_estimators, print_elapsed_time, validate_data,
                               validate_estimators)
from ..utils._device import resolve_device
from ..utils._config import get_config
from ._fused import fused_fit, fusion_groups, warn_if_optimizer_prevents_fusion


class WorkerDiedError(RuntimeError):
    """A parallel worker died while fitting ensemble members."""


@contextmanager
def worker_errors(owner):
    """Turn a dead joblib worker into a clear error; the ensemble stays unfitted."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    try:
        yield
    except TerminatedWorkerError as exc:
        raise WorkerDiedError(
            f"A worker process died while {type(owner).__name__} was fitting its members "
            "(killed, out of memory, or a crash in native code); no member was kept and the "
            f"ensemble is not fitted. Details: {exc}"
        ) from exc


def resolve_devices(devices):
    """Validate ``devices`` (None, "auto" or a list of device strings) up front.

    ``None`` leaves every member's own device setting alone. ``"auto"`` uses
    every visible CUDA device, or the CPU when there is none.  A CUDA device on
    a machine without one raises a ``ValueError`` before any member is trained
    (no silent fallback: ask for "auto" to fall back).
    """
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices != "auto":
            raise ValueError(f"devices must be None, 'auto' or a list of devices; got {devices!r}.")
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return [f"cuda:{i}" for i in range(n)] or ["cpu"]
    devices = list(devices)
    if not devices:
        raise ValueError("devices is an empty list; use None to keep the members' devices.")
    return [resolve_device(d) for d in devices]


def _device_params(estimator):
    params = estimator.get_params(deep=True)
    return [k for k in params if k == "device" or k.endswith("__device")]


def place(estimator, device):
    """A clone of ``estimator`` whose nets (at any depth) use ``device``."""
    estimator = clone(estimator)
    if device is None or estimator == "drop":
        return estimator
    keys = _device_params(estimator)
    if keys:
        estimator.set_params(**{k: device for k in keys})
    return estimator


def place_all(estimators, devices):
    """Place the i-th non-dropped estimator on ``devices[i % len(devices)]``."""
    if devices is None:
        return list(estimators)
    placed, i = [], 0
    for est in estimators:
        if est == "drop":
            placed.append(est)
            continue
        placed.append(place(est, devices[i % len(devices)]))
        i += 1
    return placed


def check_proba(names, estimators, owner):
    """Refuse, before any training, members that cannot give ``predict_proba``.

    scikit-learn's soft voting fails only at ``predict_proba`` time, after
    every member was trained; for nets that can be minutes, so skensemble's
    ensembles check at ``fit``.
    """
    missing = [n for n, e in zip(names, estimators) if e != "drop" and not hasattr(e, "predict_proba")]
    if missing:
        others = f" (nor do {missing[1:]})" if len(missing) > 1 else ""
        raise ValueError(
            f"{owner} needs predict_proba from every member, but member {missing[0]!r} does not "
            f"implement the method predict_proba{others}. E.g. SVC needs probability estimates: "
            "wrap it in CalibratedClassifierCV."
        )


def needs_float32(estimators):
    """Whether a member is a raw skorch net, which expects float32 X."""
    return any(isinstance(e, NeuralNet) for e in estimators)


def as_float32_if(X, flag):
    if not flag:
        return X
    return np.asarray(X, dtype=np.float32)


def member_input(X, X_checked, members):
    """X as the members get it, after the ensemble validated it as ``X_checked``.

    A DataFrame stays a DataFrame (members may use its column names);
    anything else is the validated array; float32 when a raw skorch net is
    among the members.
    """
    return as_float32_if(X if hasattr(X, "iloc") else X_checked, needs_float32(members))


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch threads, then restore the old count."""
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n_threads)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def threads_per_job(n_jobs):
    """Cores per parallel job: ``cpu_count // n_jobs``, at least 1."""
    return max(1, (os.cpu_count() or 1) // max(1, effective_n_jobs(n_jobs)))


def weight_params(sample_weight):
    """``fit`` keyword arguments carrying ``sample_weight`` when there is one."""
    return {} if sample_weight is None else {"sample_weight": sample_weight}


def fit_member(estimator, X, y, n_threads, fit_params=None, message=None):
    """The job that fits one member: a fixed torch thread count, then ``fit``.

    ``message``: ``(source, text)`` printed with the fit's time, as scikit-learn's
    ``verbose`` ensembles do (``[Voting] ... (1 of 2) Processing lr, total=0.1s``).
    """
    with torch_threads(n_threads), (print_elapsed_time(*message) if message else nullcontext()):
        return estimator.fit(X, y, **(fit_params or {}))


def parallel_fit(estimators, X, y, n_jobs, devices, owner=None, sample_weight=None, fused=False,
                 fit_params=None, messages=None):
    """Fit clones of ``estimators``, the i-th on ``devices[i % len]``; same-shape nets fused with ``fused``.

    With ``fused``, groups of two or more MLP nets that differ only in their
    seeds are trained together as one batched module (see
    ``skensemble.ensemble._fused``; not with sample weights or other fit
    parameters).  The others are fitted in parallel: each job sets torch's
    thread count to ``cpu_count // n_jobs`` (loky, Dask or any joblib
    backend), so parallel net fits do not oversubscribe the cores.
    ``fit_params`` (one dict per estimator) replaces ``sample_weight`` where
    members get their own parameters (metadata routing); ``messages`` (one
    per estimator, ``(source, text)`` or ``None``) are printed with each
    member's fit time.
    """
    from sklearn.utils.parallel import Parallel, delayed

    placed = place_all([clone(e) for e in estimators], resolve_devices(devices))
    if fit_params is None:
        fit_params = [weight_params(sample_weight)] * len(placed)
    messages = messages or [None] * len(placed)
    fitted = [None] * len(placed)
    if fused and not any(fit_params) and get_config()["fused_training"]:
        warn_if_optimizer_prevents_fusion(placed)
        for group in fusion_groups(placed):
            for i, est in zip(group, fused_fit([placed[i] for i in group], X, y)):
                fitted[i] = est
    rest = [i for i, est in enumerate(fitted) if est is None]
    n_threads = threads_per_job(n_jobs)
    with worker_errors(owner):
        done = Parallel(n_jobs=n_jobs)(
            delayed(fit_member)(placed[i], X, y, n_threads, fit_params[i], messages[i]) for i in rest
        )
    for i, est in zip(rest, done):
        fitted[i] = est
    return fitted


def check_estimator_list(estimators):
    """Refuse an ``estimators`` that is not a non-empty list of ``(name, estimator)`` pairs.

    scikit-learn 1.7 and later say this in these words; 1.6 failed on it with
    a ``TypeError`` from ``zip``.  Checked before scikit-learn's validation,
    so every supported version gives the same clear error.
    """
    if len(estimators) == 0 or not all(isinstance(item, (tuple, list)) and len(item) == 2
                                       and isinstance(item[0], str) for item in estimators):
        raise ValueError("Invalid 'estimators' attribute, 'estimators' should be a non-empty list "
                         "of (string, estimator) tuples.")


def check_fit_input(owner, X, y, sample_weight=None):
    """Shared start of the cascade's and ensemble selection's ``fit``.

    Validates the members (scikit-learn's checks of names, types and
    ``"drop"``; a classifier's members need ``predict_proba``, and every
    member a ``sample_weight`` argument to ``fit`` when weights are given), X,
    the targets (class labels, or numbers for regressors) and the weights;
    sets ``n_features_in_``, ``feature_names_in_`` and, for classifiers,
    ``classes_``.  Returns the names and members
    that are not dropped, X as the members get it (DataFrames stay DataFrames
    for their feature names; float32 when a raw skorch net is among the
    members), y and the weights.
    """
    check_estimator_list(owner.estimators)
    names, members = validate_estimators(owner)
    kept = [(n, e) for n, e in zip(names, members) if e != "drop"]
    names, members = [n for n, _ in kept], [e for _, e in kept]
    if is_classifier(owner):
        check_proba(names, members, type(owner).__name__)
        # missing values are the members' to refuse or take (tabular nets encode raw tables)
        X_checked, y = validate_data(owner, X, y, reset=True, dtype=None, ensure_all_finite=False)
        check_classification_targets(y)
        owner.classes_ = np.unique(y)
    else:
        X_checked, y = validate_data(owner, X, y, reset=True, dtype=None, ensure_all_finite=False,
                                     y_numeric=True, multi_output=True)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X_checked)
        for name, est in kept:
            if not has_fit_parameter(est, "sample_weight"):
                raise ValueError(
                    f"Member {name!r} ({type(est).__name__}) does not take sample_weight in fit; "
                    "drop the weights or that member."
                )
    return names, members, member_input(X, X_checked, members), y, sample_weight


def _inherited(method):
    """``available_if`` check: the wrapped scikit-learn class offers ``method``.

    scikit-learn's own explanation (e.g. "predict_proba is not available when
    voting='hard'") is re-raised, so it becomes the ``__cause__`` users see.
    """

    def check(self):
        try:
            getattr(super(SklearnEnsembleMixin, self), method)
        except AttributeError as exc:
            raise (exc.__cause__ or exc) from None
        return True

    return check


class SklearnEnsembleMixin:
    """What nets need on top of scikit-learn's voting and stacking classes.

    Placed before the scikit-learn class in the bases: after scikit-learn's
    own validation of ``estimators``, members are checked for
    ``predict_proba`` when the ensemble will need it and placed on
    ``devices``; the parallel fit turns a dead worker into
    :class:`WorkerDiedError`, and X becomes float32 when a raw skorch net is
    among the members.  Subclasses say, in ``_members_need_proba``, whether
    every member must have ``predict_proba``.
    """

    def _validate_estimators(self):
        check_estimator_list(self.estimators)
        names, estimators = next_validate_estimators(SklearnEnsembleMixin, self)
        if self._members_need_proba():
            check_proba(names, estimators, type(self).__name__)
        return names, place_all(estimators, resolve_devices(self.devices))

    def _X(self, X):
        # read leniently: a malformed ``estimators`` gets scikit-learn's error in fit
        members = [e[1] for e in self.estimators if isinstance(e, (tuple, list)) and len(e) == 2]
        return as_float32_if(X, needs_float32(members))

    def fit(self, X, y, **fit_params):
        """Fit the members (in parallel with ``n_jobs``) on (X, y), as in scikit-learn."""
        with worker_errors(self):
            return super().fit(self._X(X), y, **fit_params)

    @available_if(_inherited("predict"))
    def predict(self, X, **predict_params):
        """Predicted class labels, as in scikit-learn."""
        return super().predict(self._X(X), **predict_params)

    @available_if(_inherited("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, as in scikit-learn."""
        return super().predict_proba(self._X(X))

    @available_if(_inherited("transform"))
    def transform(self, X):
        """The members' predictions or probabilities, as in scikit-learn."""
        return super().transform(self._X(X))
