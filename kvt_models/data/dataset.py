"""What a load produces, and what every step of loading shares.

:class:`Dataset` (uint8 images, int64 labels), the CIFAR-10 class names, the
32x32 size every source is brought to, and the progress callback type. It
imports no other module of the package, so every one of them can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Progress = Callable[[str], None]

CIFAR10_CLASSES: list[str] = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip

IMAGE_SIZE = 32


def quiet(_message: str) -> None:
    """The progress sink used when the caller gives none."""


@dataclass
class Dataset:
    """Images and labels for one dataset, kept as uint8 to spare memory."""

    x_train: np.ndarray  # uint8, (N, 32, 32, 3), C-contiguous
    y_train: np.ndarray  # int64, (N,), values 0..C-1
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str  # human description: "CIFAR-10 (Keras download)" or the path

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
