"""Calibration of predicted probabilities: a compressed model can keep its accuracy and lose this."""

import numpy as np


def expected_calibration_error(y_true, proba, classes, n_bins=15):
    """Expected calibration error of the top-class probability (Guo et al., 2017).

    Rows are put in ``n_bins`` equal-width bins of their highest probability;
    the error is the mean over rows of ``|accuracy - confidence|`` of their
    bin.  0 is perfect calibration.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, columns ordered as ``classes``.
    classes : array-like of shape (n_classes,)
        The labels of the columns.
    n_bins : int, default=15
        Number of confidence bins.

    Returns
    -------
    ece : float

    Examples
    --------
    >>> import numpy as np
    >>> from skensemble.report import expected_calibration_error
    >>> expected_calibration_error([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]), [0, 1])
    0.15
    """
    proba = np.asarray(proba, dtype=float)
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y_true)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        rows = bins == b
        error += rows.sum() * abs(correct[rows].mean() - confidence[rows].mean())
    return round(float(error / len(proba)), 12)
