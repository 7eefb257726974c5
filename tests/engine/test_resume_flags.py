"""``kvt-train --resume DIR`` beside other flags: those that agree are named and left out, those that contradict refused."""

from __future__ import annotations

import threading

from kvt_models.cli.main import main
from kvt_models.events import EpochEnded
from kvt_models.settings.config import RunConfig
from kvt_models.train.training import train

QUICK = dict(data="sample", train_limit=64, test_limit=20, batch_size=16, seed=2)


def _stopped_run(runs_dir):
    """A real run of 2 epochs, stopped after its first."""
    stop = threading.Event()
    result = train(RunConfig(epochs=2, **QUICK), lambda e: stop.set() if isinstance(e, EpochEnded) else None,
                   stop=stop, runs_dir=runs_dir)
    assert result.status == "stopped"
    return result.run_dir


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_flags_that_contradict_the_run_are_refused_in_one_line_and_nothing_changes(tmp_path, capsys):
    run_dir = _stopped_run(tmp_path)
    before = _snapshot(run_dir)
    # The example: refused before for the pair (tensorflow cannot run on jax), now for what the run is.
    code = main(["--resume", str(run_dir), "--framework", "tensorflow", "--backend", "jax"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "--framework tensorflow (the run has keras)" in err and "--backend jax (the run has tensorflow)" in err
    assert "drop them to resume it" in err
    assert main(["--resume", str(run_dir), "--epochs", "5"]) == 2
    assert "--epochs 5 (the run has 2)" in capsys.readouterr().err
    assert _snapshot(run_dir) == before


def test_flags_that_agree_or_do_not_apply_are_named_once_and_the_run_resumes(tmp_path, capsys):
    run_dir = _stopped_run(tmp_path)
    code = main(["--resume", str(run_dir), "--epochs", "2", "--backend", "TensorFlow", "--precision", "auto",
                 "--runs-dir", str(tmp_path / "elsewhere")])
    out = capsys.readouterr().out
    assert code == 0, out
    [line] = [line for line in out.splitlines() if "ignoring" in line]
    assert line.startswith("[INFO] --resume goes on with the run's own settings")
    assert "--epochs 2" in line and "--backend tensorflow" in line and "--runs-dir" in line
    assert "Epoch 2/2" in out and not (tmp_path / "elsewhere").exists()
