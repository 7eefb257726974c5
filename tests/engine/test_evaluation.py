"""The test-split scorer: val_accuracy from the plain image, the report from the recipe's test-time views."""

from __future__ import annotations

import numpy as np
import pytest

from kvt_models.backend import runtime
from kvt_models.train.evaluation import SOFTMAX_LAYER, EpochScorer, log_softmax


def _tiny_model():
    """A real Keras model that sees where each pixel is (a dense layer on the flat image), ending in a softmax."""
    keras = runtime.keras()
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(4)(x)
    outputs = keras.layers.Activation("softmax", name=SOFTMAX_LAYER)(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("images", [300, 128, 7])  # more than a predicted batch, exactly one, fewer (padded)
def test_the_report_averages_the_image_and_its_mirror_and_val_accuracy_is_the_plain_images(images):
    model = _tiny_model()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(images, 6, 6, 3)).astype(np.uint8)
    y = rng.integers(0, 4, size=images)
    head = EpochScorer(x, y, list("abcd"))._head(model)  # the model up to its softmax's input

    def softmax(view):
        return np.exp(log_softmax(np.asarray(head.predict_on_batch(view.astype(np.float32) / 255.0))))

    plain, mirrored = softmax(x), softmax(x[:, :, ::-1])
    if images == 300:  # on this model the mirror changes some predictions: the two reports below differ
        assert ((plain + mirrored).argmax(axis=1) != plain.argmax(axis=1)).any()
    for flip, expected, views in ((False, plain, 1), (True, plain + mirrored, 2)):
        scorer = EpochScorer(x, y, list("abcd"), flip=flip)
        val_loss, val_accuracy = scorer.score(model)
        assert val_accuracy == pytest.approx(np.mean(plain.argmax(axis=1) == y))
        assert val_loss == pytest.approx(float(np.mean(-np.log(plain[np.arange(images), y]))), rel=1e-4)
        assert scorer.latest.report["accuracy"] == pytest.approx(np.mean(expected.argmax(axis=1) == y))
        assert scorer.report()["views"] == views
