"""Hostile and mistaken input, end to end through `kvt-train` in a real process.

For each case: exit code 2, one line on stderr naming the problem, no
traceback, no code executed, nothing written outside the runs and cache
folders, and an earlier run in the same runs dir left byte-for-byte intact.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from datafactory import make_cifar_folder, make_tar
from PIL import Image

from kvt_models.errors import RunStoreError
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import RunStore, read_run


def _png(path: Path, color=(200, 10, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), color).save(path)


def _image_folder(root: Path, classes: dict[str, list[str]] | None = None) -> Path:
    classes = classes or {"train": ["a", "b"], "test": ["a", "b"]}
    for split, names in classes.items():
        for i, name in enumerate(names):
            for j in range(2):
                _png(root / split / name / f"{j}.png", (40 * i, 100, 10 * j))
    return root


class Evil:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _case(name: str, tmp: Path) -> tuple[list[str], str]:
    """Build one hostile input; return (extra CLI args, a fragment the error must contain)."""
    if name == "missing path":
        return ["--data", str(tmp / "nowhere")], "does not exist"
    if name == "file where a folder is expected":
        (tmp / "notes.txt").write_text("hello")
        return ["--data", str(tmp / "notes.txt")], "is a file"
    if name == "empty folder":
        (tmp / "empty").mkdir()
        return ["--data", str(tmp / "empty")], "empty"
    if name == "single class":
        return ["--data", str(_image_folder(tmp / "one", {"train": ["a"], "test": ["a"]}))], "only one class"
    if name == "train/test class names differ":
        return ["--data", str(_image_folder(tmp / "mix", {"train": ["a", "b"], "test": ["a", "c"]}))], "same class folders"
    if name == "only unreadable images in a class":
        root = _image_folder(tmp / "junk")
        for p in (root / "train" / "b").iterdir():
            p.write_bytes(b"not an image at all")
        return ["--data", str(root)], "no readable images"
    if name == "truncated archive":
        folder = make_cifar_folder(tmp / "cifar-10-batches-py")
        data = make_tar(tmp / "c.tar.gz", folder, "cifar-10-batches-py").read_bytes()
        (tmp / "cut.tar.gz").write_bytes(data[: len(data) // 2])
        return ["--data", str(tmp / "cut.tar.gz")], "cut.tar.gz"
    if name == "random bytes named .tar.gz":
        (tmp / "rand.tar.gz").write_bytes(np.random.default_rng(0).bytes(4096))
        return ["--data", str(tmp / "rand.tar.gz")], "rand.tar.gz"
    if name == "archive member pointing outside":
        buf = io.BytesIO(b"gotcha")
        with tarfile.open(tmp / "evil.tar.gz", "w:gz") as tar:
            info = tarfile.TarInfo("train/../../escaped.txt")
            info.size = len(buf.getvalue())
            tar.addfile(info, buf)
        return ["--data", str(tmp / "evil.tar.gz")], "refusing to read"
    if name == "pickle that runs code":
        folder = make_cifar_folder(tmp / "cifar-10-batches-py")
        (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(tmp / "PWNED"), b"labels": [0]}, protocol=2))
        return ["--data", str(folder)], "refusing to unpickle"
    raise AssertionError(name)


# Each case starts a kvt-train process (~8 s each on 2 cores): the two that guard against code or
# files getting out run in the default step, the rest in the long step (the default run stays under 4 min).
_LONG = pytest.mark.long
CASES = [
    "missing path", "archive member pointing outside", "pickle that runs code",
    *(pytest.param(name, marks=_LONG) for name in (
        "file where a folder is expected", "empty folder", "single class", "train/test class names differ",
        "only unreadable images in a class", "truncated archive", "random bytes named .tar.gz")),
]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    """A finished-looking run that every hostile case must leave untouched."""
    runs = tmp_path_factory.mktemp("shared-runs")
    writer = RunStore(runs).create({"config": {"epochs": 1}}, "keras-relu")
    writer.append_history({"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4, "lr": 0.01, "seconds": 2.0})
    writer.set_status("finished")
    return runs


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_gets_one_line_exit_2_and_harms_nothing(tmp_path, case, earlier_run):
    work = tmp_path / "work"
    work.mkdir()
    args, fragment = _case(case, work)
    before_runs = _snapshot(earlier_run)
    before_work = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    cache = tmp_path / "cache"
    out = subprocess.run(
        [sys.executable, "-m", "kvt_models.cli", *args, "--epochs", "1", "--runs-dir", str(earlier_run)],
        capture_output=True, text=True, timeout=120, cwd=work,
        env={**os.environ, "KVT_CACHE_DIR": str(cache)},
    )
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("kvt-train: error:") and fragment in lines[0], lines[0]
    assert not (work / "PWNED").exists()  # the pickle's payload never ran
    # Nothing written beside the inputs: this is what catches an archive member that got out
    # ("train/../../escaped.txt" from the work folder or the cache lands in tmp_path), since kvt
    # reads archives in memory and never extracts them.
    after_work = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if not p.is_relative_to(cache))
    assert after_work == before_work
    assert _snapshot(earlier_run) == before_runs  # no new run folder, the old one intact


def test_nan_loss_stops_the_run_marks_it_failed_and_says_why(tmp_path, monkeypatch, capsys):
    """A loss that turns NaN (here by a poisoned loss function) ends the run as failed.

    Not a mistake in the input: the app says "Training failed" (not "Cannot
    train") and the CLI exits 1 (not 2), both from the same classification.
    """
    import kvt_models.train.training as training
    from kvt_models.backend.runtime import keras as runtime_keras
    from kvt_models.cli.main import main
    from kvt_models.errors import TrainingDiverged, is_user_error

    keras = runtime_keras()
    real = training.build_compiled_model

    def poisoned(cfg, num_classes, steps):
        model = real(cfg, num_classes, steps)
        def nan_loss(y, p):
            return keras.ops.log(keras.ops.mean(p) - 1.0)  # log of a negative number

        model.compile(optimizer=model.optimizer, loss=nan_loss, metrics=["accuracy"])
        return model

    monkeypatch.setattr(training, "build_compiled_model", poisoned)
    events = []
    with pytest.raises(TrainingDiverged, match="training diverged: loss became nan .*lower the learning rate") as exc:
        training.train(RunConfig(data="sample", train_limit=64, test_limit=20, epochs=3, seed=1), events.append, runs_dir=tmp_path)
    assert not is_user_error(exc.value)
    (run_dir,) = tmp_path.iterdir()
    run = read_run(run_dir)
    assert run.status == "failed" and "diverged" in run.message and run.epochs_done == 0
    assert type(events[-1]).__name__ == "TrainFailed" and not events[-1].user_error

    capsys.readouterr()
    cli_runs = tmp_path / "cli"
    args = ["--data", "sample", "--train-limit", "64", "--test-limit", "20", "--epochs", "3", "--seed", "1"]
    assert main([*args, "--runs-dir", str(cli_runs)]) == 1  # a failed run, not bad input (2)
    err = capsys.readouterr().err
    assert err.startswith("kvt-train: error: training diverged") and err.count("\n") == 1


def test_a_full_disk_while_saving_fails_in_one_line_and_keeps_what_was_written(tmp_path, monkeypatch):
    """ENOSPC on the second epoch's checkpoint: epoch 1 stays intact on disk, no temp files remain."""
    import kvt_models.store.runs as runs
    import kvt_models.train.training as training

    real_save = runs.atomic_save
    calls = {"n": 0}

    def full_disk(path, save):
        calls["n"] += 1
        if calls["n"] >= 2:
            def failing(tmp):
                save(tmp)  # the temp file is written (partly), then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_save(path, failing)
        return real_save(path, save)

    monkeypatch.setattr(runs, "atomic_save", full_disk)  # what the run store saves checkpoints with
    with pytest.raises(RunStoreError, match="no space left on the device of .*free some space there, then resume the run"):
        training.train(RunConfig(data="sample", train_limit=64, test_limit=20, epochs=3, seed=1), runs_dir=tmp_path)
    (run_dir,) = tmp_path.iterdir()
    run = read_run(run_dir)
    assert run.status == "failed" and [int(r["epoch"]) for r in run.history] == [1]
    assert not [p for p in run_dir.iterdir() if ".tmp" in p.name]  # no temp files left behind
    from kvt_models.backend.runtime import keras as runtime_keras

    keras = runtime_keras()
    import kvt_models.model.layers  # noqa: F401
    keras.saving.load_model(run_dir / "model.keras")  # the epoch-1 checkpoint is whole
