"""The tf.data pipeline: each image of a batch gets its own flip and shift, and labels stay with their images."""

from __future__ import annotations

import numpy as np
import pytest

from kvt_models.backend import runtime


@pytest.mark.parametrize("shift", [0, 3])
def test_augmented_batches_are_flips_and_shifts_of_their_own_images(shift):
    runtime.activate("tensorflow")
    from kvt_models.train.pipeline import make_dataset

    rng = np.random.default_rng(0)
    n = 40
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = np.arange(n) % 10
    ds = make_dataset(x, y, 16, num_classes=10, shuffle=True, augment=True, shift=shift, seed=3)
    seen = 0
    flipped_any = shifted_any = False
    for images, labels in ds:
        images = np.rint(images.numpy() * 255).astype(np.uint8)
        for image, label in zip(images, labels.numpy()):
            # Which source image: the one whose (flipped) reflect-padded version contains this window.
            matches = []
            for i in np.flatnonzero(y == label.argmax()):
                for flip in (False, True):
                    source = x[i][:, ::-1] if flip else x[i]
                    padded = np.pad(source, ((shift, shift), (shift, shift), (0, 0)), mode="reflect")
                    for dy in range(2 * shift + 1):
                        for dx in range(2 * shift + 1):
                            if np.array_equal(padded[dy:dy + 32, dx:dx + 32], image):
                                matches.append((i, flip, (dy, dx) != (shift, shift)))
            assert matches, "an augmented image is not a flip and shift of an image of its class"
            flipped_any |= any(flip for _, flip, _ in matches)
            shifted_any |= all(moved for _, _, moved in matches)
            seen += 1
    assert seen == n
    assert flipped_any
    assert shifted_any == (shift > 0)


def _flips_per_image(batches, x, epochs, per_epoch):
    """image index -> whether it came mirrored, epoch by epoch, from (float images, one-hot labels) batches."""
    seen: dict[int, list[bool]] = {}
    for k, (images, labels) in enumerate(batches):
        if k == epochs * per_epoch:
            break
        images = np.rint(np.asarray(images) * 255).astype(np.uint8)
        for image, label in zip(images, np.asarray(labels).argmax(axis=1)):
            mirrored = np.array_equal(image, x[label][:, ::-1])
            assert mirrored or np.array_equal(image, x[label]), "an image is neither itself nor its mirror"
            seen.setdefault(int(label), []).append(mirrored)
    return seen


def _assert_alternating(seen, n, epochs):
    assert sorted(seen) == list(range(n)), "an epoch missed images, or showed one twice"
    for flips in seen.values():
        assert len(flips) == epochs
        assert all(a != b for a, b in zip(flips, flips[1:])), f"flips do not alternate: {flips}"
    firsts = [flips[0] for flips in seen.values()]
    assert 0 < sum(firsts) < n, "the first epoch's flips are not a mix"


def test_alternating_flips_show_each_image_the_other_way_every_epoch_on_tf_data():
    runtime.activate("tensorflow")
    from kvt_models.train.pipeline import make_dataset

    n, batch, epochs = 40, 16, 4  # a partial last batch: the epoch count must survive it
    x = np.random.default_rng(1).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    ds = make_dataset(x, np.arange(n), batch, num_classes=n, shuffle=True, augment=True, shift=0, seed=5,
                      repeat=True, alternate=True)
    seen = _flips_per_image(((i.numpy(), lab.numpy()) for i, lab in ds), x, epochs, per_epoch=3)
    _assert_alternating(seen, n, epochs)


def test_alternating_flips_show_each_image_the_other_way_every_epoch_from_numpy():
    runtime.activate("tensorflow")
    from kvt_models.train.pipeline import _py_dataset_class

    n, batch, epochs = 40, 16, 4
    x = np.random.default_rng(1).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    ds = _py_dataset_class()(x, np.arange(n), batch, num_classes=n, shuffle=True, augment=True, shift=0, seed=5,
                             alternate=True)

    def batches():
        while True:
            for index in range(len(ds)):
                yield ds[index]
            ds.on_epoch_end()  # what Keras calls between epochs

    _assert_alternating(_flips_per_image(batches(), x, epochs, per_epoch=len(ds)), n, epochs)


def test_alternating_flips_on_tf_data_need_the_one_endless_iterator():
    runtime.activate("tensorflow")
    from kvt_models.train.pipeline import make_dataset

    x = np.zeros((4, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="repeat=True"):
        make_dataset(x, np.arange(4), 2, num_classes=4, augment=True, alternate=True)


@pytest.mark.parametrize("source", ["tf.data", "numpy"])
def test_a_resumed_run_goes_on_alternating_where_it_left_off(source):
    # A resumed run's pipeline: reshuffled from a new seed (seed + epochs done), the same flip plan (the run's seed).
    runtime.activate("tensorflow")
    from kvt_models.train.pipeline import _py_dataset_class, make_dataset

    n, batch = 40, 16
    x = np.random.default_rng(1).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)

    def flips(seed, first_epoch, epochs):
        kwargs = dict(num_classes=n, shuffle=True, augment=True, shift=0, seed=seed, alternate=True, plan_seed=5,
                      first_epoch=first_epoch)
        if source == "tf.data":
            ds = make_dataset(x, np.arange(n), batch, repeat=True, **kwargs)
            return _flips_per_image(((i.numpy(), lab.numpy()) for i, lab in ds), x, epochs, per_epoch=3)
        py = _py_dataset_class()(x, np.arange(n), batch, **kwargs)

        def batches():
            while True:
                for index in range(len(py)):
                    yield py[index]
                py.on_epoch_end()

        return _flips_per_image(batches(), x, epochs, per_epoch=len(py))

    whole = flips(5, 0, 4)
    resumed = flips(5 + 2, 2, 2)  # after 2 epochs done
    assert {i: f[2:] for i, f in whole.items()} == resumed
    assert flips(5 + 1, 1, 1) == {i: f[1:2] for i, f in whole.items()}  # an odd number done: the other way again
