"""The runtime axis: Keras 3 on TensorFlow, JAX or PyTorch, and Keras 2 (tf_keras), each run in a child of its own.

A process holds one Keras backend, so every real run here goes through the
child process path (``kvt_models.train.isolated``), as the app and ``kvt-train
compare`` train. The runs share one runs dir, so the comparison at the end
finds them finished and reuses them instead of training again. Tests that
need a runtime that is not installed are skipped, saying how to install it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from kvt_models.backend import runtime
from kvt_models.cli.main import main
from kvt_models.compare.plan import plan
from kvt_models.events import EpochEnded, TrainStarted
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import RunStore, read_run
from kvt_models.train.isolated import resume_isolated, train_isolated
from kvt_models.variants import Variant

# Tiny, and the fast recipe: its augmentation and schedule run on every runtime too.
TINY = dict(data="sample", recipe="fast", epochs=1, batch_size=16, train_limit=96, test_limit=30, seed=1)
TINY_FLAGS = ["--data", "sample", "--recipe", "fast", "--epochs", "1", "--batch-size", "16",
              "--train-limit", "96", "--test-limit", "30"]


def needs(backend: str) -> Any:
    return pytest.mark.skipif(not runtime.available(backend),
                              reason=f"{backend} is not installed: {runtime.install_hint(backend)}")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One runs dir for the module: the comparison reuses the runs trained before it."""
    return tmp_path_factory.mktemp("runtimes")


def _config_json(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "config.json").read_text())


# -- refusals: one line, exit 2, before anything is imported or trained ------------------
def test_the_tensorflow_framework_on_jax_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--backend", "jax", "--framework", "tensorflow", *TINY_FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("kvt-train: error: the tensorflow framework cannot run on jax: its layers call raw tf.nn ops")
    assert main(["compare", "tensorflow:crelu@torch", *TINY_FLAGS]) == 2
    assert "the tensorflow framework cannot run on torch" in capsys.readouterr().err


def test_a_runtime_that_is_not_installed_is_one_line_naming_its_pip_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(runtime, "available", lambda backend: backend == "tensorflow")
    for argv, command in (
        (["--backend", "jax"], "pip install -e '.[jax]'"),
        (["--backend", "torch"], "pip install torch --index-url https://download.pytorch.org/whl/cpu"),
        (["compare", "keras:relu", "keras:relu@keras2"], "pip install --no-deps 'tf-keras~="),
    ):
        assert main([*argv, *TINY_FLAGS, "--runs-dir", str(tmp_path)]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and command in err and "is not installed" in err, err
    assert [p.name for p in tmp_path.iterdir()] == []  # refused before any run folder


def test_finished_runs_are_reused_only_on_the_same_backend(tmp_path: Path) -> None:
    from runfactory import write_run

    cfg = RunConfig(**TINY).resolved()
    # resolved on jax: its own precision too ("auto" is bf16 only on TensorFlow with native bf16)
    jax_run = write_run(tmp_path, RunConfig(**{**TINY, "backend": "jax"}).resolved().to_dict(), _rows(1))
    old = {k: v for k, v in cfg.to_dict().items() if k != "backend"}  # a run from before the backend axis
    old_run = write_run(tmp_path, old, _rows(1))
    store = RunStore(tmp_path)
    # The base as the front ends pass it: unresolved, so each variant resolves "auto" on its own backend.
    on_tf, on_jax = plan([Variant("keras", "relu"), Variant("keras", "relu", "jax")], [1], RunConfig(**TINY), store)
    assert (on_tf.variant, on_tf.existing) == ("keras:relu", old_run)  # it trained on TensorFlow
    assert (on_jax.variant, on_jax.existing) == ("keras:relu@jax", jax_run)
    [on_jax_by_flag] = plan([("keras", "relu")], [1], RunConfig(**{**TINY, "backend": "jax"}), store)
    assert on_jax_by_flag.existing == jax_run and on_jax_by_flag.variant == "keras:relu@jax"


def _rows(n: int) -> list[dict[str, float]]:
    return [{"epoch": e, "loss": 2.0, "accuracy": 0.2, "val_loss": 2.0, "val_accuracy": 0.2, "lr": 0.01,
             "seconds": 2.0, "train_seconds": 1.5} for e in range(1, n + 1)]


# -- real runs, each in its own child process ----------------------------------------------
@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
@needs("keras2")
def test_keras2_trains_the_tensorflow_framework(runs_dir: Path) -> None:
    """tf.keras of 2018: tf_keras layers with tf.nn.crelu inside, Keras 2's optimizer and schedule."""
    events: list[Any] = []
    config = RunConfig(framework="tensorflow", activation="crelu", backend="keras2", **TINY)
    result = train_isolated(config, events.append, runs_dir=runs_dir)
    assert result.status == "finished" and len(result.history) == 1
    [started] = [e for e in events if isinstance(e, TrainStarted)]
    assert started.runtime.startswith("Keras 2 / tf_keras 2.") and started.params == 4_331_434
    saved = _config_json(result.run_dir)
    assert saved["config"]["backend"] == "keras2"
    assert saved["versions"]["backend"] == "keras2" and saved["versions"]["keras"].startswith("2.")


@needs("keras2")
@pytest.mark.slow
def test_a_keras2_run_resumes_on_its_own_runtime(tmp_path: Path) -> None:
    """Its checkpoint is Keras 2's own .keras file: the resuming child must start tf_keras, from config.json."""
    stop = threading.Event()

    def stop_after_the_first_epoch(event: Any) -> None:
        if isinstance(event, EpochEnded):
            stop.set()

    config = RunConfig(activation="crelu", backend="keras2", **{**TINY, "epochs": 2})
    stopped = train_isolated(config, stop_after_the_first_epoch, stop=stop, runs_dir=tmp_path)
    assert stopped.status == "stopped" and len(stopped.history) == 1
    # This process never chose a runtime: the resume's child reads keras2 from config.json.
    resumed = resume_isolated(stopped.run_dir)
    assert resumed.status == "finished" and [r["epoch"] for r in read_run(stopped.run_dir).history] == [1, 2]


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
@needs("jax")
def test_jax_trains_the_keras_framework(runs_dir: Path) -> None:
    events: list[Any] = []
    result = train_isolated(RunConfig(activation="crelu", backend="jax", **TINY), events.append, runs_dir=runs_dir)
    assert result.status == "finished" and len(result.history) == 1
    [started] = [e for e in events if isinstance(e, TrainStarted)]
    assert started.runtime.startswith("Keras 3.") and " on JAX " in started.runtime
    versions = _config_json(result.run_dir)["versions"]
    assert versions["backend"] == "jax" and versions["jax"] and versions["keras"].startswith("3.")
    assert "-keras-crelu-jax-" in result.run_dir.name
    assert all(row["train_seconds"] > 0 for row in result.history)


@needs("torch")
def test_torch_trains_the_keras_framework(runs_dir: Path) -> None:
    result = train_isolated(RunConfig(activation="crelu", backend="torch", **TINY), runs_dir=runs_dir)
    assert result.status == "finished" and len(result.history) == 1
    assert _config_json(result.run_dir)["versions"]["backend"] == "torch"


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
@needs("jax")
@needs("keras2")
def test_a_comparison_across_runtimes_shows_accuracy_and_img_per_s(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runs above, compared: reused (their settings and backend match), nothing trains again."""
    finished = [i for i in RunStore(runs_dir).list_runs() if i.status == "finished"]
    before = len({(i.config["framework"], i.backend) for i in finished} & {("keras", "jax"), ("tensorflow", "keras2")})
    code = main(["compare", "keras:crelu@jax", "tensorflow:crelu@keras2", "--seeds", "1", *TINY_FLAGS,
                 "--runs-dir", str(runs_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    table = out[out.index("variant"):]
    header, _, jax_row, keras2_row = table.splitlines()[:4]
    assert header.split() == ["variant", "n", "final", "acc", "%", "best", "acc", "%", "img/s", "s/epoch", "params"]
    assert jax_row.startswith("keras:crelu@jax ") and keras2_row.startswith("tensorflow:crelu@keras2 ")
    for row in (jax_row, keras2_row):
        img_per_s = row.split()[-3]
        assert float(img_per_s.replace(",", "")) > 0, row
    # After the two runs above, both are reused; alone (pytest -k), it trains what it lacks.
    assert f"{2 - before} run(s) trained, {before} reused" in out
