"""kvt on Ray, the parts that need no cluster: its options, its error lines, and how local data is shipped.

Fast on purpose (no Ray start-up): these run in the default suite. The
cluster itself is tested in tests/test_cluster.py (``-m ray``).
"""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
import time

import numpy as np
import pytest
from datafactory import make_cifar_folder, make_image_folder

from kvt_models.cli.main import main
from kvt_models.cluster.shipping import Shipment, file_sha256, local_copy, tar_folder
from kvt_models.cluster.worker import version_mismatch
from kvt_models.data.loader import load_dataset
from kvt_models.errors import ConfigError
from kvt_models.settings import options


# -- the options ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("auto", "auto"), ("AUTO", "auto"), ("local", "local"), ("127.0.0.1:6380", "127.0.0.1:6380"),
    ("head-node:6379", "head-node:6379"), ("[::1]:6379", "[::1]:6379"), (" 10.0.0.5:06379 ", "10.0.0.5:6379"),
])
def test_ray_address_reads_host_port_auto_and_local(text, value):
    assert options.RAY.parse(text) == value


@pytest.mark.parametrize("text", ["foo", "host:", ":6379", "host:0", "host:70000", "ray://head:10001", "a b:1"])
def test_a_bad_ray_address_is_one_line_naming_what_to_type(text):
    with pytest.raises(ConfigError) as info:
        options.RAY.parse(text, "--ray")
    message = str(info.value)
    assert "\n" not in message and message.startswith("--ray") and "HOST:PORT" in message


def test_cpus_per_run_is_refused_without_ray(capsys):
    assert main(["compare", "keras:relu", "--seeds", "1", "--data", "sample", "--cpus-per-run", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("kvt-train: error: --cpus-per-run applies only to runs on Ray: add --ray [ADDRESS], "
                   "or leave --cpus-per-run out")


def test_cpus_per_run_must_be_a_whole_number(capsys):
    assert main(["compare", "keras:relu", "--ray", "--cpus-per-run", "0"]) == 2
    assert "--cpus-per-run must be a whole number from 1 to 1024, got 0" in capsys.readouterr().err


# -- the error lines -------------------------------------------------------------------------
def test_without_ray_installed_compare_says_which_pip_command_to_run(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    code = main(["compare", "keras:relu", "--seeds", "1", "--data", "sample", "--ray", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "kvt-train: error: --ray needs Ray, which is not installed here: pip install 'kvt[ray]'\n"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once it is closed


def test_an_unreachable_cluster_is_exit_2_with_one_line_at_once(capsys, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    port = _closed_port()
    started = time.monotonic()
    code = main(["compare", "keras:relu", "--seeds", "1", "--data", "sample", "--ray", f"127.0.0.1:{port}",
                 "--runs-dir", str(tmp_path)])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2 and elapsed < 30
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"kvt-train: error: cannot reach a Ray cluster at 127.0.0.1:{port} (connection refused)")
    assert f"ray start --head --port {port}" in err
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written


def test_a_server_that_is_not_a_ray_head_is_refused_in_one_line(capsys, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_like_a_web_server() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer_like_a_web_server, daemon=True).start()
    port = server.getsockname()[1]
    try:
        code = main(["compare", "keras:relu", "--seeds", "1", "--data", "sample", "--ray", f"127.0.0.1:{port}",
                     "--runs-dir", str(tmp_path)])
    finally:
        server.close()
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"kvt-train: error: 127.0.0.1:{port} answers, but not as a Ray cluster's head (its GCS port "
                   "speaks gRPC); pass the port given to ray start --head --port (default 6379)\n")


def test_a_worker_with_another_kvt_version_is_named_with_the_fix():
    assert version_mismatch(("0.1.0", "abc"), ("0.1.0", "abc"), "node-a") is None
    message = version_mismatch(("0.2.0", "abc"), ("0.1.0", "def"), "node-a")
    assert message == ("the Ray worker on node node-a has kvt 0.1.0 but this machine has kvt 0.2.0: install kvt "
                       "0.2.0 with its ray extra on every node (pip install 'kvt[ray]==0.2.0'), then run again")


def test_two_checkouts_of_one_version_with_different_code_are_told_apart(tmp_path):
    import shutil
    from pathlib import Path

    import kvt_models
    from kvt_models.cluster.worker import code_fingerprint, identity

    installed = Path(kvt_models.__file__).parent
    copy = tmp_path / "kvt_models"
    shutil.copytree(installed, copy, ignore=shutil.ignore_patterns("__pycache__", "*.tar.gz"))
    assert code_fingerprint(copy) == identity()[1]  # the same code, wherever it is installed
    (copy / "train" / "training.py").write_text((copy / "train" / "training.py").read_text() + "\n# one line more\n")
    other = code_fingerprint(copy)
    assert other != identity()[1]
    message = version_mismatch(identity(), (kvt_models.__version__, other), "node-b")
    assert message is not None and f"code {other} there, {identity()[1]} here" in message
    assert f"has kvt {kvt_models.__version__} with other code" in message


# -- shipping local data ---------------------------------------------------------------------
def test_a_folder_is_packed_the_same_way_every_time(tmp_path):
    folder = make_image_folder(tmp_path / "imgs")
    first = tar_folder(folder)
    (folder / "train").touch()  # a newer mtime on a folder: the content is what counts
    assert tar_folder(folder) == first
    next(p for p in (folder / "train").rglob("*") if p.is_file()).write_bytes(b"changed")
    assert tar_folder(folder) != first


@pytest.mark.parametrize("make", [make_image_folder, make_cifar_folder])
def test_a_shipped_folder_loads_as_the_folder_itself(tmp_path, make, cache):
    folder = make(tmp_path / "data")
    packed = tmp_path / "shipped.tar"
    packed.write_bytes(tar_folder(folder))
    here = load_dataset(str(folder), seed=3, cache_dir=cache)
    there = load_dataset(str(packed), seed=3, cache_dir=cache)
    assert here.class_names == there.class_names
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(here, name), getattr(there, name)), name


class ObjectStore:
    """Stands in for Ray's object store in the hashing tests: ``get`` returns the bytes and counts the fetches."""

    def __init__(self, data: bytes):
        self.data = data
        self.fetches = 0

    def get(self, ref: object) -> bytes:
        self.fetches += 1
        return self.data


def test_a_worker_fetches_shipped_data_once_and_then_uses_its_cache(tmp_path):
    data = b"archive bytes"
    store = ObjectStore(data)
    shipment = Shipment("/driver/data.tar.gz", hashlib.sha256(data).hexdigest(), ".tar.gz", len(data), ("ref",))
    first = local_copy(store, shipment, tmp_path)
    second = local_copy(store, shipment, tmp_path)
    assert first == second == tmp_path / "ray-data" / f"{shipment.sha256}.tar.gz"
    assert first.read_bytes() == data and store.fetches == 1


def test_a_different_file_under_the_cached_name_is_never_used(tmp_path):
    data = b"the driver's archive"
    store = ObjectStore(data)
    shipment = Shipment("/driver/data.tar", hashlib.sha256(data).hexdigest(), ".tar", len(data), ("ref",))
    cached = local_copy(store, shipment, tmp_path)
    cached.write_bytes(b"another file of the same name")  # replaced, truncated, or left by someone else
    assert local_copy(store, shipment, tmp_path).read_bytes() == data
    assert store.fetches == 2 and file_sha256(cached) == shipment.sha256


# -- several runs at once (what a cluster's train_fn asks for) ---------------------------------
class TwoAtOnce:
    """Stands in for a cluster's train_fn that takes two runs at once: each run waits until another is in flight."""

    concurrency = 2

    def __init__(self) -> None:
        from runfactory import InstantEngine

        self.engine = InstantEngine()
        self.both_in_flight = threading.Barrier(2, timeout=60)

    def __call__(self, config, listener, **kwargs):
        self.both_in_flight.wait()  # a BrokenBarrierError if the queue ran them one by one
        return self.engine(config, listener, **kwargs)


def test_a_queue_keeps_as_many_runs_going_as_its_train_fn_takes_and_the_cli_names_each_run_s_lines(tmp_path, capsys):
    from kvt_models.cli.printers import ComparePrinter
    from kvt_models.compare.queue import run_comparison
    from kvt_models.settings.config import RunConfig

    result = run_comparison([("keras", "relu"), ("tensorflow", "crelu")], [1, 2], RunConfig(data="sample", epochs=2),
                            ComparePrinter(sys.stdout, sys.stderr), runs_dir=tmp_path, train_fn=TwoAtOnce())
    assert result.trained == 4 and result.comparison is not None
    # Results in queue order, whatever order the runs ended in.
    assert [v.seeds for v in result.comparison.variants] == [[1, 2], [1, 2]]
    lines = capsys.readouterr().out.splitlines()
    for label in ("keras:relu seed 1", "keras:relu seed 2", "tensorflow:crelu seed 1", "tensorflow:crelu seed 2"):
        assert sum(line.startswith(f"[{label}] Epoch ") for line in lines) == 2
    assert [line for line in lines if line.startswith("[INFO] run ")][0] == "[INFO] run 1/4: keras:relu seed 1: training"
