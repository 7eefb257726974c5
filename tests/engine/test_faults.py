"""Faults made for real: a full disk (a small tmpfs), a read-only runs dir (a read-only mount), damaged files.

Each ends in one line that says what happened and what to do, with no
traceback, and nothing that was on disk before is lost or changed. The
mounts need root (as the test box runs); elsewhere those tests are skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from kvt_models.cli.main import main
from kvt_models.events import EpochEnded
from kvt_models.settings.config import RunConfig
from kvt_models.store.damage import problem
from kvt_models.store.runs import read_run
from kvt_models.train.training import train

QUICK = ["--data", "sample", "--train-limit", "96", "--test-limit", "30", "--batch-size", "16", "--seed", "1"]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("kvt-train: error: ")
    return lines[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# -- a full disk ---------------------------------------------------------------------------
@needs_root
def test_a_full_disk_fails_in_one_line_keeps_the_last_epoch_and_resumes_once_there_is_room(tmp_path, capsys):
    """14 MB: room for one checkpoint (8.8 MB) but not for its replacement beside it."""
    with tmpfs(tmp_path / "disk", "size=14m") as disk:
        runs = disk / "runs"
        assert main([*QUICK, "--epochs", "3", "--runs-dir", str(runs)]) == 1  # a run that failed, not a mistake
        [run_dir] = runs.iterdir()
        line = _one_error_line(capsys.readouterr().err)
        assert "no space left on the device of" in line and str(run_dir) in line
        assert f"kvt-train --resume {run_dir}" in line
        run = read_run(run_dir)
        assert run.status == "failed" and [int(r["epoch"]) for r in run.history] == [1]
        assert run.report_epoch == 1
        with zipfile.ZipFile(run_dir / "model.keras") as checkpoint:
            assert checkpoint.testzip() is None  # epoch 1's checkpoint, whole
        assert not [p.name for p in run_dir.iterdir() if ".tmp" in p.name]  # the failed write's temporary is gone
        assert run.resumable

        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)  # room again
        assert main(["--resume", str(run_dir)]) == 0
        assert [int(r["epoch"]) for r in read_run(run_dir).history] == [1, 2, 3]
        assert read_run(run_dir).status == "finished"


# -- a runs dir that cannot be written -------------------------------------------------------
@needs_root
@pytest.mark.parametrize("inside", [False, True], ids=["the runs dir", "a folder to make in it"])
def test_a_read_only_runs_dir_is_refused_in_one_line_before_any_data_loads(tmp_path, capsys, inside):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as read_only:
        runs = read_only / "runs" if inside else read_only
        # The full CIFAR-10 would take seconds to load: the refusal comes first.
        archive = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"
        data = str(archive) if archive.is_file() else "sample"
        for argv in (["--data", data, "--runs-dir", str(runs)],
                     ["compare", "keras:relu", "--seeds", "1", "--data", data, "--runs-dir", str(runs)]):
            assert main(argv) == 2
            captured = capsys.readouterr()
            line = _one_error_line(captured.err)
            assert str(runs) in line and ("not writable" in line or "Read-only file system" in line)
            assert "loading data" not in captured.out
        assert list(read_only.iterdir()) == []


# -- damaged files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A real run of 3 epochs, stopped after its first: resumable, with a checkpoint, a history and a report."""
    stop = threading.Event()
    config = RunConfig(data="sample", train_limit=96, test_limit=30, batch_size=16, epochs=3, seed=1)
    result = train(config, lambda e: stop.set() if isinstance(e, EpochEnded) else None, stop=stop,
                   runs_dir=tmp_path_factory.mktemp("runs"))
    assert result.status == "stopped" and problem(result.run_dir, thorough=True) is None
    return result.run_dir


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the weights: the zip's directory stays whole, a checksum does not
    path.write_bytes(bytes(data))


DAMAGES = {
    "model.keras truncated": ("model.keras", _truncate, "model.keras is damaged (truncated"),
    "model.keras corrupt": ("model.keras", _flip_a_byte, "fails its checksum"),
    "history.csv garbage": ("history.csv", lambda p: p.write_bytes(b"\x00\xff\x00 not a history\n"), "history.csv is damaged"),
    "history.csv a bad row": ("history.csv", lambda p: p.write_text(p.read_text() + "2,x,y\n3,1,1,1,1,1,1,1\n"),
                              "history.csv is damaged (line 3 is not an epoch's row)"),
    "status.json truncated": ("status.json", _truncate, "status.json is damaged (not JSON)"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_file_is_named_on_resume_in_one_line_and_nothing_changes(stopped_run, tmp_path, capsys, damage):
    name, spoil, expected = DAMAGES[damage]
    run_dir = tmp_path / stopped_run.name
    shutil.copytree(stopped_run, run_dir)
    spoil(run_dir / name)
    before = _files(run_dir)

    assert main(["--resume", str(run_dir)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line and str(run_dir) in line
    assert ("delete it" in line) if name == "status.json" else ("start a new run" in line)
    assert _files(run_dir) == before  # nothing written, nothing removed
