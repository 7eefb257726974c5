"""CIFAR-10 through Keras's own download (``keras.datasets.cifar10``), cached in ``~/.keras/datasets``.

The only part of the package that needs Keras, and it imports Keras inside
the function, so that ``import kvt_models.data`` never loads TensorFlow.
"""

from __future__ import annotations

import numpy as np

from kvt_models.data.dataset import CIFAR10_CLASSES, Dataset, Progress
from kvt_models.errors import DataError, one_line


def load_keras_cifar10(say: Progress) -> Dataset:
    say("loading CIFAR-10 through Keras (a 170 MB download the first time)")
    # Keras (and its backend behind it) is imported here only: seconds and hundreds
    # of MB that the sample and local paths never need. The run's runtime: Keras 3 or tf_keras.
    from kvt_models.backend.runtime import keras as runtime_keras

    try:
        keras = runtime_keras()
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
        channels_first = keras.backend.image_data_format() == "channels_first"
    except Exception as exc:
        raise DataError(
            f"could not download CIFAR-10 (offline? {one_line(exc)}): choose the dataset 'sample' (the bundled "
            "subset, works offline) or the path of a local cifar-10-python.tar.gz or image folder"
        ) from exc
    if channels_first:
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return Dataset(
        x_train=np.ascontiguousarray(x_train, dtype=np.uint8),
        y_train=np.asarray(y_train).reshape(-1).astype(np.int64),
        x_test=np.ascontiguousarray(x_test, dtype=np.uint8),
        y_test=np.asarray(y_test).reshape(-1).astype(np.int64),
        class_names=list(CIFAR10_CLASSES),
        source="CIFAR-10 (Keras download)",
    )
