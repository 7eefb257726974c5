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
  memory (within the noise; docs/runtimes.md), and it needs neither a float
  copy of the data nor tf.data's conversion of every batch to NumPy.

Both shuffle the whole split every epoch from the run's seed, so a seeded
run draws the same batches on every runtime's repeat.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kvt_models.backend import runtime

PARALLEL = 2  # tf.data map calls at once, fixed (no autotuning: see _options)
PREFETCH = 2  # batches made ahead of the train step


def make_dataset(
    x: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    *,
    num_classes: int | None = None,
    shuffle: bool = False,
    augment: bool = False,
    shift: int = 4,
    seed: int | None = None,
    repeat: bool = False,
    alternate: bool = False,
    plan_seed: int | None = None,
    first_epoch: int = 0,
) -> Any:
    """Batches of (float images, one-hot labels), or images alone, for this process's runtime.

    ``repeat``: on TensorFlow, the epochs follow one another without end (each
    reshuffled), for ``fit(steps_per_epoch=...)`` to keep one iterator for the
    whole run; the PyDataset is endless already (Keras calls its ``on_epoch_end``).

    ``alternate`` (with ``augment``): airbench's alternating flips. Each image
    is mirrored or not at random in the first epoch, then the other way round
    in each epoch after, so that every two epochs show each image both ways
    (random flips show some images the same way in all four of a short run).
    On TensorFlow it needs ``repeat``: the epoch is counted along the one iterator.
    A resumed run goes on with the same plan: ``plan_seed`` is the run's seed (the
    default, ``seed``, is the shuffle's, which a resumed run changes) and
    ``first_epoch`` the number of epochs the run has already done.
    A lever that ``fast`` does not use: it lost on each seed tried (docs/recipes.md).
    """
    plan_seed = seed if plan_seed is None else plan_seed
    if alternate and not augment:
        raise ValueError(f"alternate flips are an augmentation: they need augment=True. Received: augment={augment}")
    if runtime.tf_engine():
        if alternate and not repeat:
            raise ValueError("alternate flips on TensorFlow count the epochs along one endless iterator: "
                             f"they need repeat=True. Received: repeat={repeat}")
        return _tf_dataset(x, y, batch_size, num_classes=num_classes, shuffle=shuffle, augment=augment, shift=shift,
                           seed=seed, repeat=repeat, alternate=alternate, plan_seed=plan_seed, first_epoch=first_epoch)
    return _py_dataset_class()(x, y, batch_size, num_classes=num_classes, shuffle=shuffle, augment=augment,
                               shift=shift, seed=seed, alternate=alternate, plan_seed=plan_seed, first_epoch=first_epoch)


def flip_plan(n: int, seed: int | None) -> np.ndarray:
    """Whether each of ``n`` images is mirrored in a run's first epoch under alternating flips (then each epoch after, the other way)."""
    return np.random.default_rng(seed).integers(0, 2, size=n).astype(bool)


def alternate_flips(images: np.ndarray, first: np.ndarray, epoch: int) -> np.ndarray:
    """``images`` mirrored where ``first`` (their entries of :func:`flip_plan`) says so, the other way in odd epochs."""
    flip = first ^ bool(epoch % 2)
    return np.where(flip[:, None, None, None], images[:, :, ::-1], images)


def _tf_dataset(x: np.ndarray, y: np.ndarray | None, batch_size: int, *, num_classes: int | None, shuffle: bool,
                augment: bool, shift: int, seed: int | None, repeat: bool = False, alternate: bool = False,
                plan_seed: int | None = None, first_epoch: int = 0) -> Any:
    from kvt_models.backend.tfenv import import_tf

    tf = import_tf()
    # What is shuffled and batched is the indices; each batch is then gathered
    # from the NumPy arrays (tf.numpy_function), so TensorFlow never holds a copy
    # of the images. Measured on CIFAR-10's 50,000 training images (150 MB):
    # from_tensor_slices, convert_to_tensor or a tf.Variable each added 300-340 MB
    # to the peak RSS of the process; this adds nothing. A batch's gather holds
    # the GIL for microseconds, next to a train step's tens of milliseconds.
    labels = None if y is None else y.astype(np.int32)
    ds = tf.data.Dataset.range(len(x))
    if shuffle:
        # A full shuffle of the whole split, reshuffled each epoch, seeded.
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if repeat:
        # One endless iterator for the whole fit: Keras otherwise drops the epoch's
        # iterator and builds a new one, and dropping one whose threads run
        # tf.numpy_function stalled the process for ~30 s in about one epoch in
        # three (issue 19; docs/performance.md).
        ds = ds.repeat()
    if alternate and labels is not None:
        # Numbered batches: the number tells the epoch (a partial last batch ends each one).
        gather = _alternating_gatherer(tf, x, labels, batch_size, plan_seed, first_epoch)
        ds = ds.enumerate().map(gather, num_parallel_calls=PARALLEL)
    else:
        ds = ds.map(_gatherer(tf, x, labels), num_parallel_calls=PARALLEL)
    if augment and y is not None and (shift or not alternate):
        ds = ds.map(_tf_augment_batch(tf, shift, seed, flip=not alternate), num_parallel_calls=PARALLEL)

    def scale(images):
        return tf.cast(images, tf.float32) / 255.0

    if y is None:
        return ds.map(scale, num_parallel_calls=PARALLEL).prefetch(PREFETCH).with_options(_options(tf))

    def to_xy(images, labels):
        return scale(images), tf.one_hot(labels, num_classes)

    return ds.map(to_xy, num_parallel_calls=PARALLEL).prefetch(PREFETCH).with_options(_options(tf))


def _options(tf: Any) -> Any:
    """No tf.data autotuning: its model thread is what an iterator's destructor waited on for up to ~60 s.

    py-spy during such a stall (issue 19) had the main thread in
    ``IteratorResource::~IteratorResource`` -> ``~LogicalThreadWrapper`` ->
    ``WaitForNotification``: the root iterator joining a thread of its own,
    the autotuner's, which sleeps between optimization rounds (periods that
    grow to 60 s). With autotuning off there is no such thread; the fixed
    parallelism below keeps two batches in flight, enough for a gather that
    takes microseconds next to a train step's tens of milliseconds.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def _gatherer(tf: Any, x: np.ndarray, y: np.ndarray | None) -> Any:
    """A tf.data map function: a batch of indices -> the images (and labels) at them, from NumPy."""
    image_shape = [None, *x.shape[1:]]

    if y is None:
        def gather_images(idx):
            images = tf.numpy_function(lambda i: x[i], [idx], tf.uint8, stateful=False)
            images.set_shape(image_shape)
            return images

        return gather_images

    def gather(idx):
        images, labels = tf.numpy_function(lambda i: (x[i], y[i]), [idx], (tf.uint8, tf.int32), stateful=False)
        images.set_shape(image_shape)
        labels.set_shape([None])
        return images, labels

    return gather


def _alternating_gatherer(tf: Any, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None,
                          first_epoch: int = 0) -> Any:
    """A tf.data map function: (batch number, indices) -> :func:`_gatherer`'s batch, flipped as :func:`alternate_flips` says.

    Batch 0 is the first of epoch ``first_epoch`` (0: the run's first).
    """
    gather = _gatherer(tf, x, y)
    first = tf.constant(flip_plan(len(x), seed))
    per_epoch = math.ceil(len(x) / batch_size)

    def gather_flipped(k, idx):
        images, labels = gather(idx)
        odd_epoch = (k // per_epoch + first_epoch) % 2 == 1
        flip = tf.math.logical_xor(tf.gather(first, idx), odd_epoch)
        return tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images), labels

    return gather_flipped


def _tf_augment_batch(tf: Any, shift: int, seed: int | None, *, flip: bool = True) -> Any:
    """Light augmentation of a uint8 batch, vectorized: a random horizontal flip and a shift of up to ``shift`` pixels.

    ``flip=False``: the shift alone (the flips were alternated as the batch was gathered).

    Each image gets its own flip and shift (reflect-pad by ``shift``, then its own
    window of the original size, cut with two batched gathers). Per batch rather than per
    image, to keep it off the two cores that train: measured here, 0.066 s of
    CPU per 1,000 images (0.07-0.09 per image; plain batches 0.015), about 4%
    of what training those images costs.
    """

    def augment(images, labels):
        shape = tf.shape(images)
        n, h, w = shape[0], shape[1], shape[2]
        if flip:
            mirrored = tf.random.uniform([n], seed=seed) < 0.5
            images = tf.where(mirrored[:, None, None, None], tf.reverse(images, axis=[2]), images)
        if shift == 0:
            return images, labels
        padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift], [0, 0]], mode="REFLECT")
        offsets = tf.random.uniform([n, 2], 0, 2 * shift + 1, dtype=tf.int32, seed=seed)
        rows = offsets[:, :1] + tf.range(h)[None, :]  # [n, h]: each image's own window
        cols = offsets[:, 1:] + tf.range(w)[None, :]  # [n, w]
        shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(shifted, cols, axis=2, batch_dims=1), labels

    return augment


def augment_batch(images: np.ndarray, rng: np.random.Generator, shift: int = 4, *, flip: bool = True) -> np.ndarray:
    """What the tf.data path does, for a uint8 batch: a random flip (unless ``flip=False``), then a shift of up to ``shift`` pixels."""
    flipped = np.where(rng.random(len(images))[:, None, None, None] < 0.5, images[:, :, ::-1], images) if flip else images
    padded = np.pad(flipped, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="reflect")
    h, w = images.shape[1:3]
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(0, 2 * shift + 1, size=(len(images), 2))):
        out[i] = padded[i, dy:dy + h, dx:dx + w]
    return out


_PY_DATASET: Any = None


def _py_dataset_class() -> Any:
    """The PyDataset class, made once per process: it subclasses the runtime's Keras."""
    global _PY_DATASET
    if _PY_DATASET is not None:
        return _PY_DATASET
    keras: Any = runtime.keras()

    class ArrayBatches(keras.utils.PyDataset):
        """Shuffled, scaled (and optionally augmented) batches of uint8 arrays, in NumPy."""

        def __init__(self, x, y, batch_size, *, num_classes=None, shuffle=False, augment=False, shift=4, seed=None,
                     alternate=False, plan_seed=None, first_epoch=0):
            super().__init__()  # one worker, no multiprocessing: batches are cheap next to a train step
            self.x, self.y, self.batch_size = x, y, batch_size
            self.num_classes = num_classes
            self.shuffle, self.augment, self.shift = shuffle, augment and y is not None, shift
            self.first = flip_plan(len(x), seed if plan_seed is None else plan_seed) if alternate and self.augment else None
            self.epoch = first_epoch
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, index):
            take = self.order[index * self.batch_size:(index + 1) * self.batch_size]
            images = self.x[take]
            if self.first is not None:
                images = alternate_flips(images, self.first[take], self.epoch)
            if self.augment:
                images = augment_batch(images, self.rng, self.shift, flip=self.first is None)
            images = images.astype(np.float32) / 255.0
            if self.y is None:
                return images
            return images, np.eye(self.num_classes, dtype=np.float32)[self.y[take]]

        def on_epoch_end(self):
            self.epoch += 1
            if self.shuffle:
                self.order = self.rng.permutation(len(self.x))

    _PY_DATASET = ArrayBatches
    return ArrayBatches
