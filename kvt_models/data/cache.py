"""The decoded-array cache: ``<cache_dir>/datasets/<key>.npz``, so a second load takes a second or two.

Keys: an archive's sha256 (a renamed or touched archive still hits), or a
folder's real path plus the names, sizes and mtimes of the files its layout
uses (an edited folder misses). Both start with ``kvt-data-v{_CACHE_VERSION}``:
the key format and the file format are what users' existing caches were
written with, so change them only together with :data:`_CACHE_VERSION`.

Every cache failure (unreadable, malformed, unwritable) degrades to "no
cache" with a progress line: the data then decodes again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from kvt_models.data.dataset import IMAGE_SIZE, Progress
from kvt_models.data.layouts import Layout
from kvt_models.data.tree import Tree
from kvt_models.errors import DataError

_CACHE_VERSION = 1  # bump when decoding changes, so old caches are not reused
# A full CIFAR-10-sized entry is ~184 MB, and every edit of a folder makes a new
# key: keep the most recently used few, not every version ever decoded.
CACHE_ENTRIES_KEPT = 4
_STALE_TMP_SECONDS = 3600  # a .tmp- file this old was left by a killed writer
_FIELDS = ("x_train", "y_train", "x_test", "y_test", "class_names")


def archive_key(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            # sha256 of the content (~40 ms for 19 MB): a renamed or touched archive still hits.
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}; check its permissions") from exc
    return hashlib.sha256(f"kvt-data-v{_CACHE_VERSION}:archive:{digest.hexdigest()}".encode()).hexdigest()


def folder_key(tree: Tree, layout: Layout) -> str:
    where = os.path.realpath(tree.label)  # "./imgs" and "/abs/imgs" share one cache entry
    digest = hashlib.sha256(f"kvt-data-v{_CACHE_VERSION}:folder:{where}:{layout.root}\n".encode("utf-8", "surrogateescape"))
    for rel in sorted(layout.files()):
        item = tree.files[rel]
        assert isinstance(item, str)
        try:
            st = os.stat(item)
        except OSError as exc:
            raise DataError(f"cannot read {item}: {exc.strerror or exc}; check its permissions") from exc
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class Cache:
    """Decoded arrays as ``<cache_dir>/datasets/<key>.npz``; every failure degrades to "no cache"."""

    def __init__(self, root: Path, say: Progress) -> None:
        self.dir = root / "datasets"
        self.say = say

    def _path(self, key: str) -> Path:
        return self.dir / f"{key[:40]}.npz"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in _FIELDS}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            self.say(f"ignoring unreadable cache file {path.name} ({type(exc).__name__}); rebuilding it")
            return None
        if not _valid_arrays(arrays):
            self.say(f"ignoring malformed cache file {path.name}; rebuilding it")
            return None
        self.say("loaded from cache")
        _touch(path)  # most recently used: the last to be evicted
        return arrays

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        path = self._path(key)
        tmp: str | None = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".npz")
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
            # Readers see the old file or the complete new one, never half a file.
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            self.say(f"could not write the cache in {self.dir} ({exc.strerror or exc}); it will decode again next time")
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError as exc:
                    self.say(f"could not remove the partial cache file {tmp} ({exc.strerror or exc})")
        self.evict(keep=path)

    def evict(self, keep: Path) -> None:
        """Remove all but the :data:`CACHE_ENTRIES_KEPT` most recently used entries, and stale temp files.

        Only files this cache writes are touched: ``*.npz`` and old ``.tmp-*.npz``.
        """
        now = time.time()
        entries: list[tuple[float, Path]] = []
        try:
            for path in self.dir.iterdir():
                if not path.is_file() or path.suffix != ".npz":
                    continue
                mtime = path.stat().st_mtime
                if path.name.startswith(".tmp-"):
                    if now - mtime > _STALE_TMP_SECONDS:
                        path.unlink(missing_ok=True)
                elif path != keep:
                    entries.append((mtime, path))
        except OSError:
            return  # an unreadable cache folder only costs disk space
        entries.sort(reverse=True)
        for _, path in entries[CACHE_ENTRIES_KEPT - 1:]:
            try:
                path.unlink()
                self.say(f"removed the least recently used cache file {path.name}")
            except OSError:
                pass


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only cache still serves; it just evicts by write time


def _valid_arrays(arrays: dict[str, np.ndarray]) -> bool:
    shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
    names = arrays["class_names"]
    if names.ndim != 1 or names.dtype.kind != "U" or len(names) < 2:
        return False
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.shape[1:] != shape or x.ndim != 4 or not x.flags.c_contiguous:
            return False
        if y.dtype != np.int64 or y.shape != (x.shape[0],):
            return False
        if y.size and (y.min() < 0 or y.max() >= len(names)):
            return False
    return True
