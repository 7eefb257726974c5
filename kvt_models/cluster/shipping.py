"""Local data for remote runs: shipped once through Ray's object store, kept by content hash on each node.

``cifar10`` and ``sample`` need no shipping: each worker resolves them itself
(Keras's download, the sample inside its own kvt). A local folder or archive
exists only where kvt runs, so the driver reads it once per comparison --
an archive as it is, a folder as an uncompressed tar of its files -- puts the
bytes in Ray's object store (``ray.put``) and gives every task the same
reference, nested in a tuple so that Ray does not fetch it before the task
asks. A worker looks first in its node's cache,
``<KVT_CACHE_DIR or ~/.cache/kvt>/ray-data/<sha256><suffix>``, and fetches
the bytes only when the content is not there: once per node, not once per
run.

The cache is keyed by the SHA-256 of the content, and a cached file is hashed
again before each use: a worker never reads a file by the driver's path,
and a cached file that changed (or a half-written one) is fetched anew, so
a different file of the same name is never used silently.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kvt_models.data.archive import ARCHIVE_SUFFIXES
from kvt_models.errors import DataError, RunStoreError
from kvt_models.paths import default_cache_dir
from kvt_models.settings.datasets import read_dataset_spec
from kvt_models.store.atomic import atomic_write_bytes

CACHE_FOLDER = "ray-data"


@dataclass(frozen=True)
class Shipment:
    """A local dataset, in the object store: what a worker needs to get (or find) its bytes."""

    spec: str  # the dataset as the driver's RunConfig names it (an absolute path)
    sha256: str
    suffix: str  # how the archive reader knows the format: ".tar", ".tar.gz", ...
    size: int
    refs: tuple[Any, ...]  # (ObjectRef,): nested, so a task gets the reference, not the bytes


def needs_shipping(spec: str) -> bool:
    """True for a local path; ``cifar10`` and ``sample`` resolve on the worker."""
    return read_dataset_spec(spec)[1] is not None


def pack(path: Path) -> tuple[bytes, str]:
    """The bytes to ship for ``path``, and the suffix they are read back with."""
    if path.is_dir():
        return tar_folder(path), ".tar"
    lowered = path.name.lower()
    suffix = next((s for s in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True) if lowered.endswith(s)), "")
    try:
        return path.read_bytes(), suffix
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}; check its permissions") from exc


def tar_folder(root: Path) -> bytes:
    """An uncompressed tar of every regular file under ``root``, as ``<root name>/...``; the same bytes every time.

    Sorted names, no owners, times or modes: the same folder gives the same
    hash, so the workers' caches hit. Links and special files are left out
    (the loader would refuse them in an archive anyway).
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file():
                    continue
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise DataError(f"cannot read {path}: {exc.strerror or exc}; check its permissions") from exc
                info = tarfile.TarInfo(str(Path(root.name) / path.relative_to(root)))
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def ship(ray: Any, spec: str) -> Shipment | None:
    """Put ``spec``'s bytes in the object store (None for ``cifar10`` and ``sample``)."""
    _, path = read_dataset_spec(spec)
    if path is None:
        return None
    if not path.exists():
        raise DataError(f"dataset {path} does not exist on this machine; it is read here and shipped to the workers")
    data, suffix = pack(path)
    return Shipment(str(path), hashlib.sha256(data).hexdigest(), suffix, len(data), (ray.put(data),))


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's content; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def local_copy(ray: Any, shipment: Shipment, cache_dir: Path | None = None) -> Path:
    """This node's copy of the shipped data: from its cache when the hash matches, else fetched once and cached."""
    folder = (cache_dir or default_cache_dir()) / CACHE_FOLDER
    path = folder / f"{shipment.sha256}{shipment.suffix}"
    if file_sha256(path) == shipment.sha256:
        return path
    data = ray.get(shipment.refs[0])
    if hashlib.sha256(data).hexdigest() != shipment.sha256:  # pragma: no cover - the object store corrupted it
        raise DataError(f"the copy of {shipment.spec} that reached this worker does not match its hash; run again")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except (OSError, RunStoreError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc
        raise DataError(f"cannot cache {shipment.spec} in {folder} on this worker: {reason}; "
                        "free some space or set KVT_CACHE_DIR on the worker") from exc
    return path
