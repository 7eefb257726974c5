"""Reading archives (kvt_models/data/archive.py): unsafe members refuse the whole archive and nothing
lands outside; random, truncated or corrupt archives fail in one line.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from datafactory import make_cifar_folder, make_tar, one_line

from kvt_models.data.loader import load_dataset
from kvt_models.errors import DataError


def _outside_is_clean(tmp_path: Path) -> None:
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path.parent / "evil").exists()
    assert not Path("/tmp/kvt-evil-absolute").exists()


def _tar_with(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        ok = b"x" * 10
        info = tarfile.TarInfo("train/a/ok.png")
        info.size = len(ok)
        tar.addfile(info, io.BytesIO(ok))
        for member in members:
            tar.addfile(member, io.BytesIO(b"evil" * (member.size // 4)) if member.isfile() else None)
    return path


def _file_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 4
    return info


def _link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "member",
    [
        _file_member("../evil"),
        _file_member("train/../../evil"),
        _file_member("/tmp/kvt-evil-absolute"),
        _link_member("train/a/link.png", "/etc/passwd"),
        _link_member("train/a/up.png", "../../../evil"),
        _link_member("train/a/hard.png", "../../evil", tarfile.LNKTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-absolute", "symlink-out", "hardlink-out"],
)
def test_unsafe_archive_members_are_refused(tmp_path: Path, cache: Path, member: tarfile.TarInfo) -> None:
    archive = _tar_with(tmp_path / "bad.tar.gz", member)
    with pytest.raises(DataError) as exc:
        load_dataset(str(archive), cache_dir=cache)
    assert "refusing to read" in one_line(exc)
    _outside_is_clean(tmp_path)


def test_device_member_is_refused(tmp_path: Path, cache: Path) -> None:
    dev = tarfile.TarInfo("train/a/null")
    dev.type = tarfile.CHRTYPE
    archive = _tar_with(tmp_path / "dev.tar.gz", dev)
    with pytest.raises(DataError, match="refusing to read"):
        load_dataset(str(archive), cache_dir=cache)


def test_random_bytes_named_tar_gz(tmp_path: Path, cache: Path) -> None:
    bogus = tmp_path / "x.tar.gz"
    bogus.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataError) as exc:
        load_dataset(str(bogus), cache_dir=cache)
    assert "could not read archive" in one_line(exc)


def test_truncated_archive(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "cifar-10-batches-py")
    archive = make_tar(tmp_path / "cifar.tar.gz", folder, "cifar-10-batches-py")
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError) as exc:
        load_dataset(str(archive), cache_dir=cache)
    assert "could not read archive" in one_line(exc)


def test_corrupt_gzip_body(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "cifar-10-batches-py")
    archive = make_tar(tmp_path / "cifar.tar.gz", folder, "cifar-10-batches-py")
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 3 : len(raw) // 3 + 64] = bytes(64)
    archive.write_bytes(bytes(raw))
    with pytest.raises(DataError) as exc:
        load_dataset(str(archive), cache_dir=cache)
    assert "could not read" in one_line(exc)
