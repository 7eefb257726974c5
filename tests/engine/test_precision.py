"""The precision setting: auto resolves once, config.json records it, old runs read as float32."""

from __future__ import annotations

import pytest

from kvt_models.backend import runtime
from kvt_models.errors import ConfigError
from kvt_models.settings import precision
from kvt_models.settings.config import RunConfig


@pytest.mark.parametrize(("has_bf16", "backend", "expected"), [
    (True, "tensorflow", "bfloat16"),
    (False, "tensorflow", "float32"),
    (True, "jax", "float32"),  # not measured there: auto stays float32
    (True, "keras2", "float32"),
])
def test_auto_is_bfloat16_only_on_tensorflow_with_native_bf16(monkeypatch, has_bf16, backend, expected):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: has_bf16)
    assert RunConfig(backend=backend, seed=1).resolved().precision == expected
    assert RunConfig(backend=backend, seed=1, precision="float32").resolved().precision == "float32"
    assert RunConfig(backend=backend, seed=1, precision="BFloat16").resolved().precision == "bfloat16"


def test_a_bad_precision_gets_one_line():
    with pytest.raises(ConfigError, match="precision must be one of auto, float32, bfloat16, got 'fp8'"):
        RunConfig(precision="fp8").resolved()


def test_a_config_json_from_before_the_setting_reads_as_float32():
    old = RunConfig(seed=1).to_dict()
    del old["precision"]
    assert RunConfig.from_dict(old).precision == "float32"
    assert RunConfig.from_dict({**old, "precision": "bfloat16"}).precision == "bfloat16"


def test_a_bfloat16_model_keeps_its_policy_and_leaves_the_global_one_alone():
    from kvt_models.train.training import build_compiled_model

    keras = runtime.activate("tensorflow")
    before = keras.mixed_precision.global_policy().name
    model = build_compiled_model(RunConfig(precision="bfloat16", seed=1, epochs=1).resolved(), 10, 5)
    conv = model.get_layer("conv1_1")
    assert conv.dtype_policy.name == "mixed_bfloat16"
    assert conv.kernel.dtype == "float32"  # weights stay float32
    assert model.get_layer("softmax").dtype_policy.name == "float32"  # so do the probabilities
    assert keras.mixed_precision.global_policy().name == before
