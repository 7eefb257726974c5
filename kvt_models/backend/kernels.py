"""The fused batch-norm kernel for Keras 3 on TensorFlow: same math, one op.

Keras 3's ``BatchNormalization`` computes a training step's batch statistics
with ``ops.moments`` and then normalizes with ``ops.batch_normalization``. On
the TensorFlow backend that is about a dozen small ops forward and more
backward (``SquaredDifference``, ``Mean``, ``BroadcastTo``, ``Sum``, ...), each
a pass over the activations. Keras 2 ran TensorFlow's fused kernel
(``FusedBatchNormV3``: one pass forward, one backward); Keras 3 does not
(keras-team/keras-core#225). A TF profile of a MiniVGGNet step on this
project's 2-core box put the unfused ops at about a fifth of the step.

:func:`install` gives the Keras 3 layer the fused kernel back, for the cases
the kernel covers exactly -- TensorFlow backend, channels-last input of rank
2 or 4, no mask, no renormalization, not synchronized -- and leaves every
other case to Keras's own code. It changes no saved file: models stay plain
``keras.layers.BatchNormalization`` and reload anywhere.

The math is Keras 3's, checked by ``tests/test_kernels.py``:

- training normalizes with the biased batch variance (as Keras 3 does);
- the kernel reports the *unbiased* variance, so it is scaled back by
  ``(n - 1) / n`` before the moving average, which Keras 3 keeps of the
  biased one;
- the moving averages use Keras's ``momentum`` the same way;
- inference normalizes with the moving statistics.

``KVT_FUSED_BATCH_NORM=0`` turns it off (for a before/after comparison).
"""

from __future__ import annotations

import os
from typing import Any

_original_call: Any = None


def enabled() -> bool:
    return os.environ.get("KVT_FUSED_BATCH_NORM", "1") != "0"


def install(keras: Any) -> bool:
    """Route Keras 3's BatchNormalization through the fused kernel on TensorFlow; True if it now is."""
    global _original_call
    if _original_call is not None:
        return True
    if not enabled() or keras.backend.backend() != "tensorflow" or not keras.__version__.startswith("3."):
        return False
    from kvt_models.backend.tfenv import import_tf

    tf = import_tf()
    layer_class = keras.layers.BatchNormalization
    original = layer_class.call

    def call(self, inputs, training=None, mask=None):
        if not _fusable(keras, self, inputs, mask):
            return original(self, inputs, training=training, mask=mask)
        return _fused_call(tf, self, inputs, bool(training and self.trainable))

    _original_call = original
    layer_class.call = call
    return True


def uninstall(keras: Any) -> None:
    """Put Keras's own BatchNormalization.call back (for tests and before/after benches)."""
    global _original_call
    if _original_call is not None:
        keras.layers.BatchNormalization.call = _original_call
        _original_call = None


def _fusable(keras: Any, layer: Any, inputs: Any, mask: Any) -> bool:
    rank = len(inputs.shape)
    axis = layer.axis if layer.axis >= 0 else layer.axis + rank
    return (
        mask is None
        and rank in (2, 4)
        and axis == rank - 1
        and not getattr(layer, "renorm", False)
        and not getattr(layer, "synchronized", False)
        # Keras's own reading of a dtype: tf.float32 (a tensor) and "float32" (a symbolic KerasTensor) alike
        and keras.backend.standardize_dtype(inputs.dtype) in ("float32", "bfloat16")
    )


def _fused_call(tf: Any, layer: Any, inputs: Any, training: bool) -> Any:
    x = inputs
    rank = len(x.shape)
    if rank == 2:  # [N, C] -> [N, 1, 1, C]: the kernel wants NHWC
        x = x[:, None, None, :]
    channels = x.shape[-1]
    gamma = layer.gamma if layer.scale else tf.ones([channels], tf.float32)
    beta = layer.beta if layer.center else tf.zeros([channels], tf.float32)
    gamma = tf.cast(gamma, tf.float32)
    beta = tf.cast(beta, tf.float32)
    if training:
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.constant([], tf.float32), variance=tf.constant([], tf.float32),
            epsilon=layer.epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=True,
        )
        n = tf.cast(tf.size(x) // channels, tf.float32)
        variance = variance * ((n - 1.0) / tf.maximum(n, 1.0))  # the kernel's unbiased variance -> Keras's biased one
        momentum = layer.momentum
        layer.moving_mean.assign(layer.moving_mean * momentum + mean * (1.0 - momentum))
        layer.moving_variance.assign(layer.moving_variance * momentum + variance * (1.0 - momentum))
    else:
        y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.cast(layer.moving_mean, tf.float32),
            variance=tf.cast(layer.moving_variance, tf.float32), epsilon=layer.epsilon,
            exponential_avg_factor=1.0, data_format="NHWC", is_training=False,
        )
    if rank == 2:
        y = y[:, 0, 0, :]
    return tf.cast(y, layer.compute_dtype)
