"""Transfer-set augmentation for distillation: new unlabeled samples near the data.

Each augmenter is a small object (or any callable) ``f(X, random_state) -> X_new``
returning new rows with the same columns; the teacher labels them.
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from ...persistence import register


def _feature_scale(X):
    std = X.std(axis=0)
    return np.where(std > 0, std, 1.0)


@register
class NoiseAugmenter:
    """Copies of X with Gaussian noise of ``scale`` times each feature's std."""

    def __init__(self, scale=0.2):
        self.scale = scale

    def __call__(self, X, random_state=None):
        rng = check_random_state(random_state)
        return X + rng.normal(size=X.shape) * (self.scale * _feature_scale(X))


@register
class MixupAugmenter:
    """Convex combinations ``lam * x_i + (1 - lam) * x_j``, ``lam ~ Beta(alpha, alpha)``."""

    def __init__(self, alpha=0.4):
        self.alpha = alpha

    def __call__(self, X, random_state=None):
        rng = check_random_state(random_state)
        j = rng.permutation(len(X))
        lam = rng.beta(self.alpha, self.alpha, size=(len(X), 1))
        return lam * X + (1 - lam) * X[j]


@register
class MungeAugmenter:
    """MUNGE (Bucilua, Caruana & Niculescu-Mizil, 2006).

    For each sample, take its nearest neighbour (in standardised space); each
    feature is, with probability ``p``, replaced by a draw from a normal
    centred on the neighbour's value with standard deviation
    ``|x - x_neighbour| / s``.
    """

    def __init__(self, p=0.5, s=1.0):
        self.p = p
        self.s = s

    def __call__(self, X, random_state=None):
        rng = check_random_state(random_state)
        Z = (X - X.mean(axis=0)) / _feature_scale(X)
        nn = NearestNeighbors(n_neighbors=2).fit(Z)
        neighbour = nn.kneighbors(Z, return_distance=False)[:, 1]
        Xn = X[neighbour]
        swap = rng.random_sample(X.shape) < self.p
        draws = rng.normal(Xn, np.abs(X - Xn) / self.s)
        return np.where(swap, draws, X)


AUGMENTERS = {"noise": NoiseAugmenter, "mixup": MixupAugmenter, "munge": MungeAugmenter}


def get_augmenter(augmentation):
    if augmentation is None:
        return None
    if isinstance(augmentation, str):
        if augmentation not in AUGMENTERS:
            raise ValueError(
                f"augmentation={augmentation!r} does not exist; use None, one of "
                f"{sorted(AUGMENTERS)} or a callable f(X, random_state) -> X_new."
            )
        return AUGMENTERS[augmentation]()
    if callable(augmentation):
        return augmentation
    raise TypeError(f"augmentation must be None, a name or a callable; got {augmentation!r}.")


def make_transfer_set(X, augmenter, factor, max_rows, random_state):
    """``X`` followed by ``factor`` augmented copies (at most ``max_rows`` rows in all)."""
    rng = check_random_state(random_state)
    parts, n_rows = [X], len(X)
    if augmenter is not None:
        for _ in range(int(factor)):
            if n_rows >= max_rows:
                break
            new = np.asarray(augmenter(X, rng))
            if new.ndim != 2 or new.shape[1] != X.shape[1]:
                raise ValueError(
                    f"The augmentation returned an array of shape {new.shape}; expected "
                    f"(n_samples, {X.shape[1]})."
                )
            if not np.all(np.isfinite(new)):
                raise ValueError("The augmentation returned NaN or infinite values.")
            new = new[: max_rows - n_rows]
            parts.append(new.astype(X.dtype, copy=False))
            n_rows += len(new)
    return np.concatenate(parts)
