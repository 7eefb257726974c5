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
