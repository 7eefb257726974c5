"""Train and test limits: class-balanced subsets of a loaded dataset, the same for the same seed.

The full dataset is what gets decoded and cached; ``train_limit`` and
``test_limit`` only pick from it, so trying a smaller run never decodes again.
(The fixed test set of a folder with no train/test split is chosen in
``layouts.py``, not here: it must not change with the run's seed.)
"""

from __future__ import annotations

import numpy as np

from kvt_models.data.dataset import Dataset
from kvt_models.errors import ConfigError


def check_limit(name: str, value: int | None) -> None:
    # bool is an int subclass; True as a limit is a caller's mistake, not 1 image.
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(
            f"{name} must be a whole number of images >= 1, or left out for all. Received: {name}={value!r}"
        )


def apply_limits(ds: Dataset, train_limit: int | None, test_limit: int | None, seed: int) -> Dataset:
    if train_limit is None and test_limit is None:
        return ds
    # Separate streams per split, so changing one limit does not reshuffle the other.
    train_idx = _stratified_indices(ds.y_train, train_limit, np.random.default_rng([seed, 0]))
    test_idx = _stratified_indices(ds.y_test, test_limit, np.random.default_rng([seed, 1]))
    x_train, y_train = _take(ds.x_train, ds.y_train, train_idx)
    x_test, y_test = _take(ds.x_test, ds.y_test, test_idx)
    return Dataset(x_train, y_train, x_test, y_test, list(ds.class_names), ds.source)


def _take(x: np.ndarray, y: np.ndarray, idx: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if idx is None:
        return x, y
    return np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])


def _stratified_indices(y: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """Indices of a class-balanced subset of ``limit`` items, in dataset order.

    Each class gets an equal share; a class with fewer items than its share
    gives the rest to the others (water filling), and the leftover units go to
    classes picked at random with ``rng``. Returns None for "take everything".
    """
    if limit is None or limit >= len(y):
        return None
    classes, counts = np.unique(y, return_counts=True)
    quota = np.zeros(len(classes), dtype=np.int64)
    remaining = int(limit)
    while remaining > 0:
        open_classes = np.flatnonzero(quota < counts)
        share = remaining // len(open_classes)
        if share == 0:
            lucky = rng.choice(open_classes, size=remaining, replace=False)
            quota[lucky] += 1
            break
        grant = np.minimum(share, counts[open_classes] - quota[open_classes])
        quota[open_classes] += grant
        remaining -= int(grant.sum())
    picked = [
        rng.choice(np.flatnonzero(y == cls), size=int(q), replace=False)
        for cls, q in zip(classes, quota)
        if q > 0
    ]
    return np.sort(np.concatenate(picked))
