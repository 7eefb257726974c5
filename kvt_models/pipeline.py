"""tf.data input pipelines over uint8 arrays.

Images stay uint8 in memory (150 MB for CIFAR-10's training set); each batch
is cast to float32 and scaled to [0, 1] as it is drawn. The 2018 script's
``astype("float")`` made a 1.2 GB float64 copy instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tfenv import import_tf


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
    """A batched ``tf.data.Dataset`` of (float images, one-hot labels), or images alone."""
    tf, _ = import_tf()
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
