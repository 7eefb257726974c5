"""MiniVGGNet, as in the 2018 post, built two ways.

``keras``: ``import keras``, Keras layers and ops only.
``tensorflow``: ``tf.keras`` layers with raw TensorFlow activations inside.

In TensorFlow 2.16 and later (2.21 here) ``tf.keras`` *is* Keras 3: both
builders produce the same kind of ``keras.Model``. What differs is the
activation code: portable ``keras.ops`` on one side, ``tf.nn.*`` on the other.

The same code builds on every runtime (:mod:`kvt_models.backend.runtime`): ``keras``
is the runtime's Keras module (Keras 3 on any backend, or ``tf_keras``), and
on the keras2 runtime ``tf.keras`` is ``tf_keras`` too. The ``tensorflow``
framework needs TensorFlow to run its ops (the tensorflow or keras2 runtime).

Layout (channels last, 32x32x3 in)::

    [CONV 32 3x3 => ACT => BN] x2 => POOL 2x2 => DROPOUT 0.25
    [CONV 64 3x3 => ACT => BN] x2 => POOL 2x2 => DROPOUT 0.25
    FLATTEN => FC 512 => ACT => BN => DROPOUT 0.5 => FC classes => SOFTMAX

As in the post, the very first activation stays ReLU; the other four take
the chosen one. CReLU doubles the channels it sees.
"""

from __future__ import annotations

from typing import Any, Callable

from kvt_models.variants import ACTIVATIONS, FRAMEWORKS


def _keras_activation(keras: Any, name: str, layer_name: str) -> Any:
    from kvt_models.model.layers import CReLU

    if name == "crelu":
        return CReLU(name=layer_name)
    # keras's "swish" and "gelu" are keras.ops under the hood.
    return keras.layers.Activation(name, name=layer_name)


def build_minivggnet(
    framework: str,
    activation: str,
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (32, 32, 3),
) -> Any:
    """Build (not compile) MiniVGGNet for ``framework`` with ``activation``."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"Unknown framework. Received: framework={framework!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation. Received: activation={activation!r}")
    if num_classes < 2:
        raise ValueError(f"Need at least 2 classes. Received: num_classes={num_classes}")

    from kvt_models.backend import runtime
    keras_module = runtime.keras()
    if framework == "tensorflow":
        from kvt_models.variants import check_runs_on

        check_runs_on(framework, runtime.backend())
        from kvt_models.backend.tfenv import import_tf
        from kvt_models.model.layers import TFActivation

        tf = import_tf()
        L = tf.keras.layers  # the post's point: tf.keras, with TF ops inside

        def act(name: str, layer_name: str) -> Any:
            return TFActivation(op=name, name=layer_name)

        Model: Callable = tf.keras.Model
        Input: Callable = tf.keras.Input
    else:
        L = keras_module.layers

        def act(name: str, layer_name: str) -> Any:
            return _keras_activation(keras_module, name, layer_name)

        Model = keras_module.Model
        Input = keras_module.Input

    inputs = Input(shape=input_shape, name="image")
    x = inputs
    for block, filters in ((1, 32), (2, 64)):
        for i in (1, 2):
            x = L.Conv2D(filters, (3, 3), padding="same", name=f"conv{block}_{i}")(x)
            first = block == 1 and i == 1
            x = act("relu" if first else activation, f"act{block}_{i}")(x)
            x = L.BatchNormalization(axis=-1, name=f"bn{block}_{i}")(x)
        x = L.MaxPooling2D(pool_size=(2, 2), name=f"pool{block}")(x)
        x = L.Dropout(0.25, name=f"drop{block}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(512, name="fc1")(x)
    x = act(activation, "act_fc1")(x)
    x = L.BatchNormalization(name="bn_fc1")(x)
    x = L.Dropout(0.5, name="drop_fc1")(x)
    x = L.Dense(num_classes, name="fc2")(x)
    outputs = L.Activation("softmax", name="softmax", dtype="float32")(x)
    return Model(inputs, outputs, name=f"minivggnet_{framework}_{activation}")
