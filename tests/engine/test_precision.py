"""The precision setting: auto resolves once, where the run trains; config.json records it; old runs read as float32."""

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
    assert precision.resolve("auto", backend) == expected
    # A config is resolved where the run is queued, which may not be where it trains: auto stays auto.
    assert RunConfig(backend=backend, seed=1).resolved().precision == "auto"
    assert RunConfig(backend=backend, seed=1, precision="float32").resolved().precision == "float32"
    assert RunConfig(backend=backend, seed=1, precision="BFloat16").resolved().precision == "bfloat16"


@pytest.mark.skipif(not precision.cpu_has_bf16(), reason="this CPU has no native bf16: auto is float32 everywhere here")
def test_auto_is_resolved_by_the_process_that_trains_and_recorded_there(tmp_path, monkeypatch):
    """This process plays a driver on a CPU without bf16; the run's child, on this bf16 CPU, decides."""
    import json

    from kvt_models.train.isolated import train_isolated

    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    config = RunConfig(data="sample", train_limit=64, test_limit=20, batch_size=16, epochs=1, seed=1)
    assert config.resolved().precision == "auto"
    result = train_isolated(config, runs_dir=tmp_path)
    saved = json.loads((result.run_dir / "config.json").read_text())["config"]
    assert saved["precision"] == "bfloat16" and saved["precision_asked"] == "auto"


@pytest.mark.parametrize(("recorded", "asked", "here_bf16", "reused"), [
    ("bfloat16", "auto", False, True),  # auto met by auto, whatever it became where that run trained
    ("float32", "auto", True, True),
    ("bfloat16", "bfloat16", True, True),  # what auto gives here
    ("float32", "float32", True, False),  # asked for float32 explicitly: not what auto gives here
    ("float32", None, False, True),  # a run from before precision_asked: by what auto gives here
])
def test_a_queue_asking_auto_reuses_runs_by_what_they_asked_or_what_auto_gives_here(
        tmp_path, monkeypatch, recorded, asked, here_bf16, reused):
    from runfactory import history_rows, write_run

    from kvt_models.compare.plan import plan
    from kvt_models.store.runs import RunStore

    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: here_bf16)
    base = RunConfig(data="sample", epochs=1, batch_size=16, train_limit=64, test_limit=20)
    settings = {**RunConfig(**{**vars(base), "seed": 1}).resolved().to_dict(), "precision": recorded}
    if asked is not None:
        settings["precision_asked"] = asked
    run = write_run(tmp_path, settings, history_rows([0.3]))
    [planned] = plan([("keras", "relu")], [1], base, RunStore(tmp_path))
    assert (planned.existing == run) is reused


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
