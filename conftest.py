"""Shared data and fitted models for the whole test suite (session-scoped), and its thread policy."""

import os

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def pytest_configure(config):
    """Every fit of the suite trains on one torch thread (``SKENSEMBLE_FIT_THREADS=1``), unless the caller set it.

    The default policy (``fit_threads="auto"``) gives large nets the cores
    the process may use: results that are the same on a busy machine, but
    that differ between a 2-core and an 8-core machine at the last bit for
    conv and norm layers, and fits that crawl when two spinning threads
    share their cores with other work (30-70x beside two CPU-bound
    processes).  One thread keeps the suite's accuracy floors and equal
    predictions the same on every machine, idle or busy; the thread
    tests set their policy themselves.  The variable reaches worker
    processes and the command-line tests' subprocesses too.
    """
    os.environ.setdefault("SKENSEMBLE_FIT_THREADS", "1")


@pytest.fixture(scope="session")
def digits_split():
    """Stratified 75/25 split of sklearn's digits with ``random_state=0``."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def digits_mlp(digits_split):
    """``MLPNetClassifier`` with default settings fitted on the digits split."""
    from skensemble.nets import MLPNetClassifier

    X_train, _, y_train, _ = digits_split
    return MLPNetClassifier(random_state=0).fit(X_train, y_train)


@pytest.fixture(scope="session")
def digits_mlp_256(digits_split):
    """A (256, 256) MLP on digits: the base of the compression tests."""
    from skensemble.nets import MLPNetClassifier

    X_train, _, y_train, _ = digits_split
    return MLPNetClassifier((256, 256), max_epochs=60, random_state=0).fit(
        X_train, y_train
    )


@pytest.fixture(scope="session")
def small_data():
    """A tiny 3-class problem for cheap behavioural tests."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y
