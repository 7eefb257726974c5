"""Activation layers for MiniVGGNet, registered so saved models reload safely.

Two families, one per side of the "Keras vs. TensorFlow" question:

* :class:`CReLU` is written with ``keras.ops`` only, so it runs on any Keras
  3 backend; on Keras 2 (``tf_keras``, which has no ``keras.ops``) the same
  two ops come from its backend functions (:func:`kvt_models.backend.runtime.ops`).
  (Other activations on the Keras side are Keras's own ``Activation`` layers.)
* :class:`TFActivation` calls a raw TensorFlow op (``tf.nn.crelu``,
  ``tf.nn.relu``, ...) inside a Keras layer: the 2018 post's point that you
  can drop TensorFlow into a Keras model.

Both are registered Layer subclasses with ``get_config``. The 2018 code used
``Lambda`` layers, which Keras 3 will only reload with ``safe_mode=False``
(arbitrary code execution) or not at all; a registered class reloads with
the default ``safe_mode=True`` once this module is imported.

The classes subclass the Layer of this process's runtime
(:func:`kvt_models.backend.runtime.keras`), so import this module only after the
runtime is chosen. ``TFActivation`` exists only where TensorFlow runs the ops.
"""

from __future__ import annotations

from typing import Any

from kvt_models.backend import runtime

keras: Any = runtime.keras()
ops = runtime.ops()

PACKAGE = "kvt"

# The TensorFlow ops behind each activation name on the TensorFlow side.
TF_OP_NAMES = {"relu": "relu", "crelu": "crelu", "elu": "elu", "gelu": "gelu", "swish": "silu"}  # swish is silu


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
        return ops.concatenate([ops.relu(inputs), ops.relu(-inputs)], axis=self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if shape[self.axis] is not None:
            shape[self.axis] *= 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


if runtime.tf_engine():
    from kvt_models.backend.tfenv import import_tf

    tf = import_tf()

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class TFActivation(keras.layers.Layer):
        """An activation computed by a raw TensorFlow op (``tf.nn.<op>``) inside Keras."""

        uses_tensorflow_ops = True

        def __init__(self, op: str = "relu", axis: int = -1, **kwargs):
            super().__init__(**kwargs)
            if op not in TF_OP_NAMES:
                raise ValueError(
                    f"`op` must be one of {sorted(TF_OP_NAMES)}. Received: op={op!r}"
                )
            self.op = op
            self.axis = _channel_axis(axis)

        def call(self, inputs):
            if self.op == "crelu":
                return tf.nn.crelu(inputs, axis=self.axis)
            return getattr(tf.nn, TF_OP_NAMES[self.op])(inputs)

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
