"""The fused batch norm (kvt_models.backend.kernels) computes exactly what Keras 3's own layer does."""

from __future__ import annotations

import numpy as np
import pytest

from kvt_models.backend import kernels, runtime


@pytest.fixture()
def keras():
    keras = runtime.activate("tensorflow")
    keras.mixed_precision.set_global_policy("float32")  # an earlier test in this process may have trained in bf16
    yield keras
    kernels.install(keras)  # the process default, whatever a test did


def _pair(keras, shape, seed):
    """Two identical BatchNormalization layers, built, with non-trivial weights."""
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(2):
        layer = keras.layers.BatchNormalization(momentum=0.9)
        layer.build(shape)
        layers.append(layer)
    channels = shape[-1]
    weights = [rng.normal(1, 0.2, channels), rng.normal(0, 0.2, channels),
               rng.normal(0, 0.5, channels), rng.uniform(0.5, 2.0, channels)]
    for layer in layers:
        layer.set_weights([w.astype("float32") for w in weights])
    return layers


def _step(keras, layer, x, training):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        # Weights per element, not per channel: a per-channel weight makes d/dgamma
        # a sum of normalized values, which is 0 up to round-off on both sides.
        weights = tf.constant(np.random.default_rng(4).normal(size=y.shape).astype("float32"))
        loss = tf.reduce_sum(y * weights)
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return y.numpy(), [g.numpy() for g in grads], [w.numpy() for w in (layer.moving_mean, layer.moving_variance)]


@pytest.mark.parametrize("shape", [(32, 8, 8, 16), (32, 64), (3, 5, 5, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_the_fused_kernel_matches_keras_own_batch_norm(keras, shape, training, monkeypatch):
    import tensorflow as tf

    fused_calls = []
    real = kernels._fused_call
    monkeypatch.setattr(kernels, "_fused_call", lambda *a: fused_calls.append(a) or real(*a))

    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype("float32"))
    own, fused = _pair(keras, shape, seed=2)
    kernels.uninstall(keras)
    expected = _step(keras, own, x, training)
    assert kernels.install(keras)
    got = _step(keras, fused, x, training)
    assert fused_calls, "the fused kernel did not run"
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-4)  # outputs
    for g, e in zip(got[1], expected[1]):  # d/dx, d/dgamma, d/dbeta
        np.testing.assert_allclose(g, e, rtol=1e-3, atol=1e-3)
    for g, e in zip(got[2], expected[2]):  # moving mean and (biased) moving variance
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["masked", "channels first"])
def test_a_masked_or_channels_first_call_falls_back_to_keras(keras, case, monkeypatch):
    """Cases the fused kernel does not cover run Keras's own code: the kernel is never called, the math is Keras's."""
    import tensorflow as tf

    fused_calls = []
    real = kernels._fused_call
    monkeypatch.setattr(kernels, "_fused_call", lambda *a: fused_calls.append(a) or real(*a))
    rng = np.random.default_rng(3)
    if case == "masked":
        shape, axis = (4, 5, 5, 3), -1
        # Keras's mask covers every axis but the channels one; a masked-out position is left out of the statistics.
        kwargs = {"mask": tf.constant(rng.uniform(size=(4, 5, 5)) > 0.3)}
    else:
        shape, axis = (4, 3, 5, 5), 1
        kwargs = {}
    x = tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))
    own, patched = (keras.layers.BatchNormalization(axis=axis, momentum=0.9) for _ in range(2))
    kernels.uninstall(keras)
    expected = own(x, training=True, **kwargs).numpy()
    assert kernels.install(keras)
    got = patched(x, training=True, **kwargs).numpy()
    assert fused_calls == [], "the fused kernel ran on a case it does not cover"
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(patched.moving_mean.numpy(), own.moving_mean.numpy(), rtol=1e-6, atol=1e-6)
    # And the fused path would have given another answer for the masked case: the mask really counts.
    if case == "masked":
        unmasked = keras.layers.BatchNormalization(axis=axis, momentum=0.9)
        assert not np.allclose(unmasked(x, training=True).numpy(), got, atol=1e-3)
