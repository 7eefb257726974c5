"""The CIFAR-10 python batches (kvt_models/data/cifar_pickle.py, decode.py): read in the real layout,
and the restricted unpickler refusing, without running it, whatever a batch never holds.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from datafactory import check_dataset, make_cifar_folder, make_tar, one_line

from kvt_models.data.loader import load_dataset
from kvt_models.errors import DataError


@pytest.mark.parametrize("old_names", [False, True])
def test_cifar_folder_loads_in_real_layout(tmp_path: Path, cache: Path, old_names: bool) -> None:
    folder = make_cifar_folder(tmp_path / "cifar-10-batches-py", old_numpy_names=old_names)
    ds = load_dataset(str(folder), cache_dir=cache)
    check_dataset(ds, 60, 9, 3)
    assert ds.class_names == ["alpha", "beta", "gamma"]
    assert np.bincount(ds.y_train).tolist() == [30, 20, 10]
    # Channel-first rows became HWC: channel 0 carries the label, channel 1 the image id.
    assert (ds.x_train[:, 5, 7, 0] == ds.y_train * 80).all()
    assert ds.x_train[:, 0, 0, 1].tolist() == list(range(60))
    assert ds.source == str(folder)


def test_malicious_pickle_is_refused_and_never_run(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "cifar")
    pwned = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {pwned}",))

    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2))
    with pytest.raises(DataError) as exc:
        load_dataset(str(folder), cache_dir=cache)
    message = one_line(exc)
    assert "refusing to unpickle" in message and "system" in message and "data_batch_1" in message
    assert not pwned.exists()


def test_malicious_meta_inside_archive_is_refused(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "cifar-10-batches-py")
    pwned = tmp_path / "pwned-meta"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {pwned}",))

    (folder / "batches.meta").write_bytes(pickle.dumps(Evil(), protocol=4))
    archive = make_tar(tmp_path / "evil.tar.gz", folder, "cifar-10-batches-py")
    with pytest.raises(DataError, match="refusing to unpickle"):
        load_dataset(str(archive), cache_dir=cache)
    assert not pwned.exists()


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        ("data_batch_2", {b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "uint8"),
        ("data_batch_2", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 7]}, "labels must be in 0..2"),
        ("data_batch_2", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "one per image"),
        ("data_batch_2", [1, 2, 3], "not a CIFAR batch"),
        ("test_batch", b"garbage that is not a pickle", "could not read CIFAR batch"),
    ],
)
def test_malformed_batches(tmp_path: Path, cache: Path, name: str, payload: object, expected: str) -> None:
    folder = make_cifar_folder(tmp_path / "cifar")
    raw = payload if isinstance(payload, bytes) else pickle.dumps(payload, protocol=2)
    (folder / name).write_bytes(raw)
    with pytest.raises(DataError) as exc:
        load_dataset(str(folder), cache_dir=cache)
    assert expected in one_line(exc)
