"""Activation layers for MiniVGGNet, registered so saved models reload safely.

Two families, one per side of the "Keras vs. TensorFlow" question:

* :class:`CReLU` is written with ``keras.ops`` only, so it runs on any Keras
  backend. (Other activations on the Keras side are Keras's own
  ``Activation`` layers.)
* :class:`TFActivation` calls a raw TensorFlow op (``tf.nn.crelu``,
  ``tf.nn.relu``, ...) inside a Keras layer: the 2018 post's point that you
  can drop TensorFlow into a Keras model.

Both are registered Layer subclasses with ``get_config``. The 2018 code used
``Lambda`` layers, which Keras 3 will only reload with ``safe_mode=False``
(arbitrary code execution) or not at all; a registered class reloads with
the default ``safe_mode=True`` once this module is imported.
"""

from __future__ import annotations

from .tfenv import import_tf

tf, keras = import_tf()

PACKAGE = "kvt"

# The TensorFlow ops behind each activation name on the TensorFlow side.
TF_OPS = {
    "relu": tf.nn.relu,
    "crelu": tf.nn.crelu,
    "elu": tf.nn.elu,
    "gelu": tf.nn.gelu,
    "swish": tf.nn.silu,  # tf.nn.swish is an alias of tf.nn.silu
}


def _channel_axis(axis: int) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ValueError(f"`axis` must be an integer. Received: axis={axis!r}")
    return axis


@keras.saving.register_keras_serializable(package=PACKAGE)
class CReLU(keras.layers.Layer):
    """Concatenated ReLU in portable Keras ops: ``concat([relu(x), relu(-x)])``.

    It doubles the size of ``axis`` (the channels, last by default), exactly
    like ``tf.nn.crelu``.
    """

    uses_tensorflow_ops = False

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _channel_axis(axis)

    def call(self, inputs):
        return keras.ops.concatenate(
            [keras.ops.relu(inputs), keras.ops.relu(-inputs)], axis=self.axis
        )

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if shape[self.axis] is not None:
            shape[self.axis] *= 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TFActivation(keras.layers.Layer):
    """An activation computed by a raw TensorFlow op (``tf.nn.<op>``) inside Keras."""

    uses_tensorflow_ops = True

    def __init__(self, op: str = "relu", axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if op not in TF_OPS:
            raise ValueError(
                f"`op` must be one of {sorted(TF_OPS)}. Received: op={op!r}"
            )
        self.op = op
        self.axis = _channel_axis(axis)

    def call(self, inputs):
        if self.op == "crelu":
            return tf.nn.crelu(inputs, axis=self.axis)
        return TF_OPS[self.op](inputs)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if self.op == "crelu" and shape[self.axis] is not None:
            shape[self.axis] *= 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "op": self.op, "axis": self.axis}


def uses_tensorflow_ops(layer) -> bool:
    """True for layers that run raw TensorFlow ops (shown marked in the model view)."""
    return bool(getattr(layer, "uses_tensorflow_ops", False))
