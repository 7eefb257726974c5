"""A run on JAX or PyTorch never loads TensorFlow: not where TensorFlow is installed, and not needed where it is not.

Keras 3 would import TensorFlow wherever it is installed; kvt keeps it out of
such a run (kvt_models.backend.tfenv.keep_tensorflow_out). Each run here is
a process of its own, as kvt-train's is: a fresh interpreter, checked at its
end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kvt_models.backend import runtime

ROOT = Path(__file__).resolve().parents[2]
# Not tensorboard: its event-file writer runs without TensorFlow (kvt_models.train.tensorboard), and each run
# uses it; the run folder's event files are checked instead.
TF_MODULES = ("tensorflow", "tf_keras")

# Train (and, with a 4th argument, stop after the first of 2 epochs and resume): building, fitting,
# scoring, saving (and reloading).
TRAIN = """
import json, sys, threading
from kvt_models.events import EpochEnded
from kvt_models.settings.config import RunConfig
from kvt_models.train.training import resume, train

again = len(sys.argv) > 4
stop = threading.Event()
config = RunConfig(backend=sys.argv[1], data="sample", recipe="fast", train_limit=96, test_limit=30, batch_size=16,
                   epochs=2 if again else 1, seed=1)
done = train(config, lambda e: again and stop.set() if isinstance(e, EpochEnded) else None, stop=stop,
             runs_dir=sys.argv[2])
if again:
    done = resume(done.run_dir)
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[3])))
print(json.dumps({"status": done.status, "epochs": len(done.history), "loaded": loaded}))
"""


def needs(backend: str):
    return pytest.mark.skipif(not runtime.available(backend),
                              reason=f"{backend} is not installed: {runtime.install_hint(backend)}")


def _train_in_a_process_of_its_own(backend: str, runs_dir: Path, *again: str) -> dict:
    done = subprocess.run([sys.executable, "-c", TRAIN, backend, str(runs_dir), json.dumps(TF_MODULES), *again],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    [run_dir] = runs_dir.iterdir()
    assert "tensorflow" not in json.loads((run_dir / "config.json").read_text())["versions"]
    assert any(p.name.startswith("events.out.tfevents.") for p in run_dir.iterdir())  # TensorBoard's, without TF
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
@pytest.mark.parametrize("backend", [pytest.param("jax", marks=needs("jax")), pytest.param("torch", marks=needs("torch"))])
def test_a_run_on_jax_or_torch_has_no_tensorflow_in_its_process(tmp_path: Path, backend: str) -> None:
    facts = _train_in_a_process_of_its_own(backend, tmp_path)
    assert facts == {"status": "finished", "epochs": 1, "loaded": []}


@pytest.mark.slow
@pytest.mark.parametrize("backend", [pytest.param("jax", marks=needs("jax")), pytest.param("torch", marks=needs("torch"))])
def test_a_run_on_jax_or_torch_resumes_from_its_checkpoint_without_tensorflow(tmp_path: Path, backend: str) -> None:
    """Keras 3's own format, written and read back with no TensorFlow in the process."""
    facts = _train_in_a_process_of_its_own(backend, tmp_path, "resume")
    assert facts == {"status": "finished", "epochs": 2, "loaded": []}


def _site_without_tensorflow(folder: Path) -> Path:
    """This environment's packages, less TensorFlow and what needs it: links in a folder of their own."""
    spec = importlib.util.find_spec("keras")
    assert spec is not None and spec.origin is not None
    site = Path(spec.origin).parents[1]
    folder.mkdir()
    for entry in site.iterdir():
        # tensorboard stays: kvt writes its event files with it, and it needs no TensorFlow.
        if not entry.name.startswith(("tensorflow", "tf_keras")) and entry.suffix != ".pth":
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
@needs("jax")
def test_a_machine_without_tensorflow_trains_with_backend_jax(tmp_path: Path) -> None:
    """python -S: no site-packages but these (and kvt's own checkout): TensorFlow is not there at all."""
    site = _site_without_tensorflow(tmp_path / "site")
    env = {"PYTHONPATH": f"{ROOT}:{site}", "HOME": str(Path.home()), "PATH": "/usr/bin:/bin"}

    def kvt_train(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-S", "-m", "kvt_models.cli", "--data", "sample", "--train-limit", "96",
                               "--test-limit", "30", "--batch-size", "16", "--epochs", "1", "--seed", "1",
                               "--runs-dir", str(tmp_path / "runs"), *args],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)

    done = kvt_train("--backend", "jax")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Epoch 1/1 - " in done.stdout and "on JAX" in done.stdout
    refused = kvt_train()  # the default backend, Keras 3 on TensorFlow: one line, and what is installed
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr[-2000:]
    assert "backend tensorflow is not installed" in refused.stderr and "installed here: --backend jax" in refused.stderr


def test_a_runtime_that_is_installed_but_cannot_load_is_one_line_naming_the_build_that_works(tmp_path: Path) -> None:
    """A broken PyTorch (here: one whose native library is missing) is refused in one line, never a crash."""
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("libtorch_cpu.so: cannot open shared object file")\n')
    done = subprocess.run([sys.executable, "-m", "kvt_models.cli", "--backend", "torch", "--data", "sample", "--epochs",
                           "1", "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT}:{tmp_path / 'site'}"})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "backend torch is installed but cannot be imported (libtorch_cpu.so" in done.stderr
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in done.stderr
