"""MiniVGGNet and its layers: parameter counts, CReLU values, saving and safe reloading."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kvt_models.model.architectures import build_minivggnet
from kvt_models.model.layers import CReLU, TFActivation, keras, tf
from kvt_models.variants import ACTIVATIONS


@pytest.mark.parametrize(
    "framework, activation, params",
    [("keras", "relu", 2_171_178), ("tensorflow", "crelu", 4_331_434)],
)
def test_the_posts_two_programs_have_the_measured_parameter_counts(framework, activation, params):
    assert build_minivggnet(framework, activation, num_classes=10).count_params() == params


@pytest.mark.parametrize("framework", ["keras", "tensorflow"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_variant_builds_and_only_crelu_doubles_the_channels(framework, activation):
    model = build_minivggnet(framework, activation, num_classes=7)
    assert model.output_shape == (None, 7)
    doubled = activation == "crelu"
    assert model.get_layer("act1_1").output.shape[-1] == 32  # the first activation stays ReLU
    assert model.get_layer("act1_2").output.shape[-1] == (64 if doubled else 32)
    assert model.get_layer("act_fc1").output.shape[-1] == (1024 if doubled else 512)


def test_tensorflow_variant_runs_tf_ops_and_keras_variant_does_not():
    tf_model = build_minivggnet("tensorflow", "crelu")
    k_model = build_minivggnet("keras", "crelu")
    assert {type(layer).__name__ for layer in tf_model.layers} >= {"TFActivation"}
    assert "TFActivation" not in {type(layer).__name__ for layer in k_model.layers}
    assert "CReLU" in {type(layer).__name__ for layer in k_model.layers}
    assert not any(type(layer).__name__ == "Lambda" for m in (tf_model, k_model) for layer in m.layers)


def test_crelu_values_equal_tf_nn_crelu():
    x = np.random.default_rng(0).normal(size=(4, 5, 5, 3)).astype("float32")
    expected = tf.nn.crelu(x).numpy()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(CReLU()(x)), expected)
    np.testing.assert_array_equal(TFActivation("crelu")(x).numpy(), expected)
    assert expected.shape == (4, 5, 5, 6)


@pytest.mark.parametrize("op, fn", [("relu", tf.nn.relu), ("elu", tf.nn.elu), ("gelu", tf.nn.gelu), ("swish", tf.nn.silu)])
def test_tf_activation_calls_the_tf_op(op, fn):
    x = np.linspace(-3, 3, 24, dtype="float32").reshape(2, 12)
    np.testing.assert_allclose(TFActivation(op)(x).numpy(), fn(x).numpy(), rtol=1e-6)


def test_layers_reject_bad_config_with_received_message():
    with pytest.raises(ValueError, match="Received: op='tanhh'"):
        TFActivation("tanhh")


def test_layer_configs_round_trip():
    for layer in (CReLU(axis=-1, name="c"), TFActivation("elu", name="t")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


RELOADED = [("keras", "crelu"), ("tensorflow", "crelu"), ("tensorflow", "gelu")]


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
def test_saved_models_reload_in_a_fresh_process_with_safe_mode(tmp_path):
    """Each saved model reloads, with safe_mode=True, in one fresh process that imports only kvt's layers."""
    x = np.random.default_rng(1).random((3, 32, 32, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    models = {}
    for framework, activation in RELOADED:
        model = build_minivggnet(framework, activation, num_classes=10)
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
        name = f"{framework}-{activation}"
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", np.asarray(model(x, training=False)))
        models[name] = model
    script = textwrap.dedent(
        f"""
        import json, numpy as np
        import kvt_models.model.layers  # registers CReLU and TFActivation; nothing else of kvt
        import keras
        x = np.load({str(tmp_path / 'x.npy')!r})
        results = {{}}
        for name in {list(models)!r}:
            m = keras.saving.load_model({str(tmp_path)!r} + f"/{{name}}.keras")  # safe_mode=True is the default
            y = np.asarray(m(x, training=False))
            ok = bool(np.allclose(y, np.load({str(tmp_path)!r} + f"/{{name}}.npy"), atol=1e-6))
            results[name] = {{"ok": ok, "params": int(m.count_params()),
                             "types": sorted({{type(layer).__name__ for layer in m.layers}})}}
        print(json.dumps(results))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for name, model in models.items():
        assert results[name]["ok"] is True, name
        assert results[name]["params"] == model.count_params(), name
        assert ("TFActivation" in results[name]["types"]) == name.startswith("tensorflow"), name
