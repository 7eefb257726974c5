"""Loading by spec (kvt_models/data/loader.py, keras_cifar10.py): the bundled sample, describe_spec,
missing paths, the Keras download offline, a light import, and (slow) the full shared archive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from datafactory import Recorder, check_dataset, make_cifar_folder, make_image_folder, make_tar, one_line

from kvt_models.data.dataset import CIFAR10_CLASSES
from kvt_models.data.loader import SAMPLE_PATH, describe_spec, load_dataset
from kvt_models.errors import DataError

FULL_ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"


def test_missing_path(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "nope"), cache_dir=cache)
    assert "does not exist" in one_line(exc)
    with pytest.raises(DataError, match="does not exist"):
        describe_spec(str(tmp_path / "nope"))


def test_empty_spec() -> None:
    with pytest.raises(DataError, match="no dataset given"):
        load_dataset("  ")


def test_bundled_sample(cache: Path) -> None:
    assert SAMPLE_PATH.is_file() and SAMPLE_PATH.stat().st_size <= 6 * 1024 * 1024
    ds = load_dataset("sample", cache_dir=cache)
    check_dataset(ds, 5000, 1000, 10)
    assert ds.class_names == CIFAR10_CLASSES
    assert np.bincount(ds.y_train).tolist() == [500] * 10
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    assert describe_spec("sample") == "bundled sample (6,000 images)"


def test_describe_spec(tmp_path: Path) -> None:
    assert describe_spec("cifar10") == "CIFAR-10 (Keras download and cache)"
    folder = make_cifar_folder(tmp_path / "c" / "cifar-10-batches-py")
    assert describe_spec(str(folder)).startswith("CIFAR-10 batches folder")
    assert describe_spec(str(tmp_path / "c")).startswith("CIFAR-10 batches folder")
    assert describe_spec(str(make_image_folder(tmp_path / "i"))).startswith("image folder")
    archive = make_tar(tmp_path / "c.tar.gz", folder, "cifar-10-batches-py")
    assert describe_spec(str(archive)).startswith("archive ")
    with pytest.raises(DataError):
        describe_spec("")


def test_import_is_light() -> None:
    code = (
        "import sys, kvt_models.data; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'PIL', 'textual', 'rich', 'plotext') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.long  # 10-15 s: in the long step, to keep the default run under 4 minutes
def test_cifar10_offline_gives_one_line_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    dead = "http://127.0.0.1:9"  # the discard port: connection refused at once
    env.update(
        KERAS_HOME=str(tmp_path / "keras"),
        KVT_CACHE_DIR=str(tmp_path / "kvt"),
        https_proxy=dead, http_proxy=dead, HTTPS_PROXY=dead, HTTP_PROXY=dead,
    )  # fmt: skip
    code = (
        "import sys\n"
        "from kvt_models.data.loader import load_dataset\n"
        "from kvt_models.errors import DataError\n"
        "try:\n"
        "    load_dataset('cifar10')\n"
        "except DataError as exc:\n"
        "    print('DATAERROR:' + str(exc))\n"
        "    sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 3, out.stdout + out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("DATAERROR:")]
    assert len(lines) == 1
    message = lines[0]
    assert "could not download CIFAR-10" in message and "'sample'" in message


@pytest.mark.slow
def test_full_shared_archive_twice(tmp_path: Path) -> None:
    if not FULL_ARCHIVE.is_file():
        pytest.skip(f"{FULL_ARCHIVE} not present")
    start = time.perf_counter()
    ds = load_dataset(str(FULL_ARCHIVE), cache_dir=tmp_path)
    first = time.perf_counter() - start
    check_dataset(ds, 50_000, 10_000, 10)
    assert ds.class_names == CIFAR10_CLASSES
    start = time.perf_counter()
    progress = Recorder()
    again = load_dataset(str(FULL_ARCHIVE), cache_dir=tmp_path, progress=progress)
    second = time.perf_counter() - start
    print(f"full archive: first load {first:.1f} s, second load {second:.2f} s")
    assert progress.messages == ["loaded from cache"]
    assert second < 10
    assert np.array_equal(ds.y_test, again.y_test)
