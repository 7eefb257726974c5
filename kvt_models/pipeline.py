"""Input pipelines over uint8 arrays, in the form each runtime feeds fastest.

Images stay uint8 in memory (150 MB for CIFAR-10's training set); each batch
is cast to float32 and scaled to [0, 1] as it is drawn. The 2018 script's
``astype("float")`` made a 1.2 GB float64 copy instead.

- Where TensorFlow runs the model (the tensorflow and keras2 runtimes): a
  ``tf.data`` pipeline, batched, mapped and prefetched in TensorFlow's own
  threads.
- On JAX and PyTorch: a ``keras.utils.PyDataset`` that slices, scales and
  (for the fast recipe) flips and shifts each batch in NumPy, the form Keras
  feeds every backend from. Measured on 2,000 images on this 2-core box, JAX
  trained as fast from it as from tf.data or from whole float arrays in
  memory (within the noise; see the README), and it needs neither a float
  copy of the data nor tf.data's conversion of every batch to NumPy.

Both shuffle the whole split every epoch from the run's seed, so a seeded
run draws the same batches on every runtime's repeat.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import runtime


def make_dataset(
    x: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    *,
    num_classes: int | None = None,
    shuffle: bool = False,
    augment: bool = False,
    seed: int | None = None,
) -> Any:
    """Batches of (float images, one-hot labels), or images alone, for this process's runtime."""
    if runtime.tf_engine():
        return _tf_dataset(x, y, batch_size, num_classes=num_classes, shuffle=shuffle, augment=augment, seed=seed)
    return _py_dataset_class()(x, y, batch_size, num_classes=num_classes, shuffle=shuffle, augment=augment, seed=seed)


def _tf_dataset(x: np.ndarray, y: np.ndarray | None, batch_size: int, *, num_classes: int | None, shuffle: bool,
                augment: bool, seed: int | None) -> Any:
    from .tfenv import import_tf

    tf = import_tf()
    AUTOTUNE = tf.data.AUTOTUNE
    if y is None:
        ds = tf.data.Dataset.from_tensor_slices(x)
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    if shuffle:
        # A full shuffle of the whole split, reshuffled each epoch, seeded.
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if augment and y is not None:
        # Light augmentation, per image: a random horizontal flip and a shift of
        # up to 4 pixels (reflect-pad to 40x40, then random-crop back to 32x32).
        def augment_one(image, label):
            image = tf.image.random_flip_left_right(image, seed=seed)
            padded = tf.pad(image, [[4, 4], [4, 4], [0, 0]], mode="REFLECT")
            return tf.image.random_crop(padded, size=tf.shape(image), seed=seed), label

        ds = ds.map(augment_one, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size)

    def scale(images):
        return tf.cast(images, tf.float32) / 255.0

    if y is None:
        return ds.map(scale, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)

    def to_xy(images, labels):
        return scale(images), tf.one_hot(labels, num_classes)

    return ds.map(to_xy, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def augment_batch(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the tf.data path does per image, for a uint8 batch: a random flip, then a shift of up to 4 pixels."""
    flipped = np.where(rng.random(len(images))[:, None, None, None] < 0.5, images[:, :, ::-1], images)
    padded = np.pad(flipped, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
    h, w = images.shape[1:3]
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(0, 9, size=(len(images), 2))):
        out[i] = padded[i, dy:dy + h, dx:dx + w]
    return out


_PY_DATASET: Any = None


def _py_dataset_class() -> Any:
    """The PyDataset class, made once per process: it subclasses the runtime's Keras."""
    global _PY_DATASET
    if _PY_DATASET is not None:
        return _PY_DATASET
    keras = runtime.keras()

    class ArrayBatches(keras.utils.PyDataset):
        """Shuffled, scaled (and optionally augmented) batches of uint8 arrays, in NumPy."""

        def __init__(self, x, y, batch_size, *, num_classes=None, shuffle=False, augment=False, seed=None):
            super().__init__()  # one worker, no multiprocessing: batches are cheap next to a train step
            self.x, self.y, self.batch_size = x, y, batch_size
            self.num_classes = num_classes
            self.shuffle, self.augment = shuffle, augment and y is not None
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, index):
            take = self.order[index * self.batch_size:(index + 1) * self.batch_size]
            images = self.x[take]
            if self.augment:
                images = augment_batch(images, self.rng)
            images = images.astype(np.float32) / 255.0
            if self.y is None:
                return images
            return images, np.eye(self.num_classes, dtype=np.float32)[self.y[take]]

        def on_epoch_end(self):
            if self.shuffle:
                self.order = self.rng.permutation(len(self.x))

    _PY_DATASET = ArrayBatches
    return ArrayBatches
