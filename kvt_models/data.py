"""Datasets for kvt: CIFAR-10 from Keras, local CIFAR archives, image folders, a bundled sample.

``load_dataset(spec)`` turns what a user typed after ``--data`` into a
:class:`Dataset` of uint8 images shaped ``(N, 32, 32, 3)`` and int64 labels:

- ``"cifar10"`` (the default): ``keras.datasets.cifar10.load_data()``, which
  downloads once into Keras's own cache (``~/.keras/datasets``).
- ``"sample"``: the bundled subset ``kvt_models/sample/cifar10-sample.tar.gz``
  (500 train and 100 test images per class). A local folder that happens to
  be called ``sample`` is reached as ``./sample``.
- a local path: a folder, or a ``.tar`` / ``.tar.gz`` / ``.tgz`` archive of one,
  holding the CIFAR-10 python batches (``data_batch_1..5``, ``test_batch``,
  ``batches.meta``), an image folder (``train/<class>/*`` and
  ``test/<class>/*``, or ``val/`` for ``test/``), or a folder of class folders
  with no split (``<class>/*``; a fixed 20% of each class becomes the test
  set), possibly inside a single top folder.

Local data is decoded once and cached as an uncompressed ``.npz`` in the cache
folder (``$KVT_CACHE_DIR``, else ``~/.cache/kvt``), keyed by the archive's
sha256 or the folder's file list, so the second load takes a second or two.

Files from users are data, never code:

- CIFAR batches are pickles. They go through a restricted unpickler that only
  admits the few numpy names a batch needs; ``pickle.load`` is never called on
  a user's file.
- Archives are read member by member with ``tarfile``'s ``data`` filter
  applied to every member: one unsafe member (``../`` paths, absolute paths,
  links pointing out, devices) rejects the whole archive. Nothing is written
  to disk: extracting 60,000 small files to a temporary folder cost 19 s of
  the first load here, reading them straight from the stream costs 5 s.

Every problem a user can cause surfaces as a one-line :class:`DataError`.
This module imports numpy only; Pillow and Keras are imported inside the
functions that need them (Keras costs seconds and hundreds of MB).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import lzma
import os
import pickle
import tarfile
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kvt_models.errors import ConfigError, DataError
from kvt_models.paths import default_cache_dir

__all__ = [
    "CIFAR10_CLASSES",
    "SAMPLE_PATH",
    "Dataset",
    "default_cache_dir",
    "describe_spec",
    "load_dataset",
]

Progress = Callable[[str], None]

CIFAR10_CLASSES: list[str] = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip

SAMPLE_PATH: Path = Path(__file__).resolve().parent / "sample" / "cifar10-sample.tar.gz"
# Known from how scripts/build_sample.py builds it; describe_spec must not open the archive.
_SAMPLE_IMAGES = 6000

IMAGE_SIZE = 32
_CACHE_VERSION = 1  # bump when decoding changes, so old caches are not reused
# A full CIFAR-10-sized entry is ~184 MB, and every edit of a folder makes a new
# key: keep the most recently used few, not every version ever decoded.
CACHE_ENTRIES_KEPT = 4
_STALE_TMP_SECONDS = 3600  # a .tmp- file this old was left by a killed writer
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_MARKERS = ("data_batch_1", "test_batch", "batches.meta")
# [top/]train/<class>/<file> is the deepest path any accepted layout uses.
_MAX_DEPTH = 4
# Names that archivers and desktops add next to a dataset; never a class or a top folder.
_IGNORED_NAMES = {"__MACOSX"}
# The names a test split goes by in the folder layouts people use
# (torchvision, Kaggle, Keras examples): the first one present is the test set.
TEST_SPLIT_NAMES = ("test", "val", "validation", "valid")
_SPLIT_NAMES = ("train", *TEST_SPLIT_NAMES)
# A folder of <class>/ folders with no split: this share of each class, picked
# by a fixed seed, is held out as the test set (at least one image per class).
HOLDOUT_FRACTION = 0.2
# What counts as an image when a folder of class folders has no train/test split:
# other folders next to the classes (docs/, scripts/) are then not taken for classes.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"}
)
_LAYOUTS = (
    "expected a CIFAR-10 python folder (data_batch_1..5, test_batch, batches.meta), "
    "an image folder (train/<class>/*.jpg and test/<class>/*.jpg, or val/ for test/), "
    f"a folder of class folders (<class>/*.jpg; {HOLDOUT_FRACTION:.0%} of each class is held out as the test set), "
    "or a .tar.gz of any of these"
)
_SPEC_HELP = "choose cifar10, sample, or the path of a folder or .tar.gz as the dataset"


@dataclass
class Dataset:
    """Images and labels for one dataset, kept as uint8 to spare memory."""

    x_train: np.ndarray  # uint8, (N, 32, 32, 3), C-contiguous
    y_train: np.ndarray  # int64, (N,), values 0..C-1
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str  # human description: "CIFAR-10 (Keras download)" or the path

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# --------------------------------------------------------------------------- public API


def describe_spec(spec: str) -> str:
    """Say what ``spec`` points at, cheaply (nothing is decoded), for a UI label.

    Raises :class:`DataError` for an empty spec or a path that does not exist.
    """
    kind, path = _parse_spec(spec)
    if kind == "cifar10":
        return "CIFAR-10 (Keras download and cache)"
    if kind == "sample":
        return f"bundled sample ({_SAMPLE_IMAGES:,} images)"
    assert path is not None
    if not path.exists():
        raise DataError(f"{path} does not exist: {_SPEC_HELP}")
    if path.is_dir():
        if any((path / name).is_file() for name in _CIFAR_MARKERS) or (path / _CIFAR_DIR).is_dir():
            return f"CIFAR-10 batches folder {path}"
        if (path / "train").is_dir():
            return f"image folder {path}"
        return f"folder {path}"
    size = _human_size(path.stat().st_size)
    if path.name.lower().endswith(_ARCHIVE_SUFFIXES):
        return f"archive {path} ({size})"
    return f"file {path} ({size}; expected a folder or a .tar.gz archive)"


def load_dataset(
    spec: str,
    *,
    train_limit: int | None = None,
    test_limit: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Load the dataset ``spec`` names (see the module docstring).

    ``train_limit`` / ``test_limit`` take class-balanced subsets, the same for
    the same ``seed``; the full dataset is what gets cached. ``progress``
    receives a few short status lines.
    """
    _check_limit("train_limit", train_limit)
    _check_limit("test_limit", test_limit)
    say: Progress = progress if progress is not None else _quiet
    kind, path = _parse_spec(spec)
    if kind == "cifar10":
        ds = _load_keras_cifar10(say)
    elif kind == "sample":
        if not SAMPLE_PATH.is_file():
            raise DataError(
                f"the bundled sample is missing from this installation ({SAMPLE_PATH}): "
                "reinstall kvt, or give the path of a local CIFAR-10 archive or image folder as the dataset"
            )
        ds = _load_local(SAMPLE_PATH, f"bundled sample ({SAMPLE_PATH.name})", cache_dir, say)
    else:
        assert path is not None
        ds = _load_local(path, str(path), cache_dir, say)
    return _apply_limits(ds, train_limit, test_limit, seed)


# --------------------------------------------------------------------------- spec and limits


def _quiet(_message: str) -> None:
    """The progress sink used when the caller gives none."""


def _parse_spec(spec: str) -> tuple[str, Path | None]:
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"no dataset given: {_SPEC_HELP}")
    text = spec.strip()
    if text.lower() in ("cifar10", "cifar-10"):
        return "cifar10", None
    if text.lower() == "sample":
        return "sample", None
    return "path", Path(text).expanduser()


def _check_limit(name: str, value: int | None) -> None:
    # bool is an int subclass; True as a limit is a caller's mistake, not 1 image.
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(
            f"{name} must be a whole number of images >= 1, or left out for all. Received: {name}={value!r}"
        )


def _apply_limits(ds: Dataset, train_limit: int | None, test_limit: int | None, seed: int) -> Dataset:
    if train_limit is None and test_limit is None:
        return ds
    # Separate streams per split, so changing one limit does not reshuffle the other.
    train_idx = _stratified_indices(ds.y_train, train_limit, np.random.default_rng([seed, 0]))
    test_idx = _stratified_indices(ds.y_test, test_limit, np.random.default_rng([seed, 1]))
    x_train, y_train = _take(ds.x_train, ds.y_train, train_idx)
    x_test, y_test = _take(ds.x_test, ds.y_test, test_idx)
    return Dataset(x_train, y_train, x_test, y_test, list(ds.class_names), ds.source)


def _take(x: np.ndarray, y: np.ndarray, idx: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if idx is None:
        return x, y
    return np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])


def _stratified_indices(y: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """Indices of a class-balanced subset of ``limit`` items, in dataset order.

    Each class gets an equal share; a class with fewer items than its share
    gives the rest to the others (water filling), and the leftover units go to
    classes picked at random with ``rng``. Returns None for "take everything".
    """
    if limit is None or limit >= len(y):
        return None
    classes, counts = np.unique(y, return_counts=True)
    quota = np.zeros(len(classes), dtype=np.int64)
    remaining = int(limit)
    while remaining > 0:
        open_classes = np.flatnonzero(quota < counts)
        share = remaining // len(open_classes)
        if share == 0:
            lucky = rng.choice(open_classes, size=remaining, replace=False)
            quota[lucky] += 1
            break
        grant = np.minimum(share, counts[open_classes] - quota[open_classes])
        quota[open_classes] += grant
        remaining -= int(grant.sum())
    picked = [
        rng.choice(np.flatnonzero(y == cls), size=int(q), replace=False)
        for cls, q in zip(classes, quota)
        if q > 0
    ]
    return np.sort(np.concatenate(picked))


# --------------------------------------------------------------------------- Keras download


def _load_keras_cifar10(say: Progress) -> Dataset:
    say("loading CIFAR-10 through Keras (a 170 MB download the first time)")
    # Keras (and TensorFlow behind it) is imported here only: seconds and hundreds
    # of MB that the sample and local paths never need.
    from kvt_models.tfenv import import_tf

    try:
        _tf, keras = import_tf()
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
        channels_first = keras.backend.image_data_format() == "channels_first"
    except Exception as exc:  # noqa: BLE001 - urllib, ssl, hash and extraction errors all mean "no usable download"
        raise DataError(
            f"could not download CIFAR-10 (offline? {_one_line(exc)}): choose the dataset 'sample' (the bundled "
            "subset, works offline) or the path of a local cifar-10-python.tar.gz or image folder"
        ) from exc
    if channels_first:
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return Dataset(
        x_train=np.ascontiguousarray(x_train, dtype=np.uint8),
        y_train=np.asarray(y_train).reshape(-1).astype(np.int64),
        x_test=np.ascontiguousarray(x_test, dtype=np.uint8),
        y_test=np.asarray(y_test).reshape(-1).astype(np.int64),
        class_names=list(CIFAR10_CLASSES),
        source="CIFAR-10 (Keras download)",
    )


# --------------------------------------------------------------------------- local data: tree


@dataclass
class _Tree:
    """The files and folders of a dataset root, from disk or from an archive."""

    label: str  # how to name the root in messages
    # posix relpath -> a disk path (str, not Path: 60,000 Path objects cost seconds) or the content
    files: dict[str, str | bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    _by_parent: dict[str, list[str]] | None = field(default=None, init=False, repr=False)

    def read(self, rel: str) -> bytes:
        item = self.files[rel]
        if isinstance(item, bytes):
            return item
        try:
            with open(item, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise DataError(f"cannot read {item}: {exc.strerror or exc}; check its permissions") from exc

    def child_dirs(self, parent: str) -> list[str]:
        prefix = parent + "/" if parent else ""
        return sorted(
            d[len(prefix):]
            for d in self.dirs
            if d.startswith(prefix) and "/" not in d[len(prefix):] and not _ignored(d[len(prefix):])
        )

    def child_files(self, parent: str) -> list[str]:
        if self._by_parent is None:
            # One pass over all files instead of one per class folder.
            self._by_parent = {}
            for rel in self.files:
                self._by_parent.setdefault(rel.rpartition("/")[0], []).append(rel)
        return sorted(self._by_parent.get(parent, []))


def _ignored(name: str) -> bool:
    # Hidden folders (.ipynb_checkpoints, .git) and __MACOSX are never classes or roots.
    return name.startswith(".") or name in _IGNORED_NAMES


def _scan_folder(root: Path) -> _Tree:
    """List files and folders under ``root`` down to the depth a layout can use."""
    tree = _Tree(label=str(root))
    stack: list[tuple[str, str, int]] = [(str(root), "", 1)]
    while stack:
        folder, prefix, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    rel = prefix + entry.name
                    if entry.is_dir():
                        tree.dirs.add(rel)
                        # The depth bound also stops symlink loops.
                        if depth < _MAX_DEPTH:
                            stack.append((entry.path, rel + "/", depth + 1))
                    elif entry.is_file():
                        tree.files[rel] = entry.path
        except OSError as exc:
            raise DataError(f"cannot list folder {folder}: {exc.strerror or exc}; check its permissions") from exc
    return tree


def _wanted_member(parts: list[str]) -> bool:
    """Could this archive member be part of a layout? Others are not kept in memory."""
    if len(parts) > _MAX_DEPTH:
        return False
    if parts[-1] in _CIFAR_MARKERS or parts[-1].startswith("data_batch_"):
        return True
    if len(parts) >= 3 and parts[-3] in _SPLIT_NAMES:
        return True
    # [top/]<class>/<image>: a folder of class folders with no split.
    return len(parts) in (2, 3) and _is_image_name(parts[-1])


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _read_archive(path: Path, say: Progress) -> _Tree:
    """Read the useful members of a tar archive into memory, refusing unsafe ones."""
    if not hasattr(tarfile, "data_filter"):
        raise DataError(
            f"cannot read {path} safely: this Python lacks tarfile's data filter; use Python 3.11.4 or newer, "
            "or extract the archive yourself and give the folder"
        )
    say(f"reading {path.name} ({_human_size(path.stat().st_size)})")
    tree = _Tree(label=str(path))
    # data_filter only needs a destination to resolve names against; nothing is written there.
    dest = os.path.join(tempfile.gettempdir(), "kvt-archive-check-never-created")
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.name.startswith("/") or os.path.isabs(member.name):
                    # The data filter would quietly strip the slash; a dataset never has one.
                    raise DataError(
                        f"refusing to read {path}: member {member.name!r} has an absolute path, "
                        "which a dataset archive never contains"
                    )
                member = tarfile.data_filter(member, dest)
                if member is None:
                    continue
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if not parts:
                    continue
                for i in range(1, len(parts)):
                    tree.dirs.add("/".join(parts[:i]))
                rel = "/".join(parts)
                if member.isdir():
                    tree.dirs.add(rel)
                elif member.isfile() and _wanted_member(parts):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        tree.files[rel] = handle.read()
                # Links that stay inside the archive are legal but never needed by a dataset: skipped.
            # tarfile stops quietly at a damaged header in mid-archive, and gzip checks its CRC
            # only at the end of the stream: read to the end so damage raises instead of
            # silently dropping the rest of the dataset.
            stream = archive.fileobj
            while stream is not None and stream.read(1 << 20):
                continue
    except tarfile.FilterError as exc:
        raise DataError(
            f"refusing to read {path}: {_filter_problem(exc)}; a dataset archive holds only plain files and folders"
        ) from exc
    except tarfile.ReadError as exc:
        if not path.name.lower().endswith(_ARCHIVE_SUFFIXES):
            raise DataError(f"{path} is a file, not a folder or a .tar/.tar.gz archive: {_LAYOUTS}") from exc
        # tarfile's own text lists every compression it tried; say it plainly instead.
        reason = "it is not a tar archive" if "opened successfully" in str(exc) else _one_line(exc)
        raise DataError(
            f"could not read archive {path}: {reason}; check that it is a complete .tar or .tar.gz "
            "(download or create it again)"
        ) from exc
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise DataError(
            f"could not read archive {path}: {_one_line(exc)}; check that it is a complete .tar or .tar.gz "
            "(download or create it again)"
        ) from exc
    return tree


def _filter_problem(exc: tarfile.FilterError) -> str:
    """Say what the data filter objected to, without its made-up destination path."""
    name = getattr(getattr(exc, "tarinfo", None), "name", "?")
    if isinstance(exc, tarfile.OutsideDestinationError):
        return f"member {name!r} would be written outside the dataset folder"
    if isinstance(exc, tarfile.AbsoluteLinkError):
        return f"member {name!r} is a link to an absolute path"
    if isinstance(exc, tarfile.LinkOutsideDestinationError):
        return f"member {name!r} is a link pointing outside the dataset folder"
    if isinstance(exc, tarfile.SpecialFileError):
        return f"member {name!r} is a device or other special file"
    if isinstance(exc, tarfile.AbsolutePathError):
        return f"member {name!r} has an absolute path"
    return _one_line(exc)


# --------------------------------------------------------------------------- local data: layout


@dataclass
class _Layout:
    kind: str  # "cifar" or "images"
    root: str  # relpath of the dataset root inside the tree, "" for the tree itself
    classes: list[str] = field(default_factory=list)  # images only; cifar reads batches.meta
    train: list[tuple[str, int]] = field(default_factory=list)  # (relpath, label); cifar: (batch, -1)
    test: list[tuple[str, int]] = field(default_factory=list)
    meta: str = ""  # cifar: relpath of batches.meta
    # How messages name each split: the folder ("test/", "val/") or, for a
    # folder of class folders, the part kvt held out.
    split_labels: dict[str, str] = field(default_factory=lambda: {"train": "train/", "test": "test/"})

    def files(self) -> list[str]:
        return [rel for rel, _ in self.train + self.test] + ([self.meta] if self.meta else [])


def _join(root: str, name: str) -> str:
    return f"{root}/{name}" if root else name


def _find_layout(tree: _Tree, say: Progress = _quiet) -> _Layout:
    if not tree.files and not tree.dirs:
        raise DataError(f"{tree.label} is empty: {_LAYOUTS}")
    roots = [""]
    top = {rel.split("/", 1)[0] for rel in list(tree.files) + list(tree.dirs)}
    top = {name for name in top if not _ignored(name)}
    if len(top) == 1 and next(iter(top)) in tree.dirs:
        roots.append(next(iter(top)))
    for root in roots:
        for candidate in (root, _join(root, _CIFAR_DIR)):
            if any(_join(candidate, name) in tree.files for name in _CIFAR_MARKERS):
                return _cifar_layout(tree, candidate)
        for split in _SPLIT_NAMES:
            if _join(root, split) in tree.files:
                raise DataError(
                    f"{tree.label}: {_join(root, split)} is a file, but it must be a folder of class folders; {_LAYOUTS}"
                )
        if any(_join(root, split) in tree.dirs for split in _SPLIT_NAMES):
            return _image_layout(tree, root)
    for root in roots:
        images = {name: files for name in tree.child_dirs(root) if (files := _image_files(tree, _join(root, name)))}
        if len(images) >= 2:
            say(f"no train/ and test/ folders: {HOLDOUT_FRACTION:.0%} of each class (always the same images) "
                "is held out as the test set")
            return _holdout_layout(tree, root, images)
        if len(images) == 1:
            raise DataError(
                f"{tree.label} has images in one class folder only ({_join(root, next(iter(images)))}/): "
                "a classifier needs at least 2 class folders"
            )
    raise DataError(f"{tree.label} is no dataset layout kvt knows: {_LAYOUTS}")


def _image_files(tree: _Tree, folder: str) -> list[str]:
    return [rel for rel in tree.child_files(folder) if _is_image_name(rel)]


def _cifar_layout(tree: _Tree, root: str) -> _Layout:
    where = f"{tree.label}: CIFAR-10 folder {root or '.'}"
    batches: dict[int, str] = {}
    prefix = _join(root, "data_batch_")
    for rel in tree.files:
        if rel.startswith(prefix) and rel[len(prefix):].isdigit():
            batches[int(rel[len(prefix):])] = rel
    missing = [name for name in ("batches.meta", "test_batch") if _join(root, name) not in tree.files]
    if not batches:
        missing.insert(0, "data_batch_1")
    gaps = [f"data_batch_{i}" for i in range(1, max(batches, default=0) + 1) if i not in batches]
    if missing or gaps:
        raise DataError(
            f"{where} lacks {', '.join(missing + gaps)}: it needs data_batch_1..5, test_batch and "
            "batches.meta (download cifar-10-python.tar.gz again)"
        )
    return _Layout(
        kind="cifar",
        root=root,
        train=[(batches[i], -1) for i in sorted(batches)],
        test=[(_join(root, "test_batch"), -1)],
        meta=_join(root, "batches.meta"),
    )


def _image_layout(tree: _Tree, root: str) -> _Layout:
    test_name = next((name for name in TEST_SPLIT_NAMES if _join(root, name) in tree.dirs), None)
    if _join(root, "train") not in tree.dirs:
        raise DataError(
            f"{tree.label} has {test_name}/ but no train/ folder: an image folder needs both "
            f"train/<class>/* and {test_name}/<class>/*"
        )
    if test_name is None:
        raise DataError(
            f"{tree.label} has train/ but no test/ (or val/) folder: an image folder needs both "
            "train/<class>/* and test/<class>/*; or put the class folders directly in the folder "
            f"and kvt holds out {HOLDOUT_FRACTION:.0%} of each class"
        )
    split_dirs = {"train": _join(root, "train"), "test": _join(root, test_name)}
    labels = {split: f"{rel.rpartition('/')[2]}/" for split, rel in split_dirs.items()}
    classes = {split: tree.child_dirs(rel) for split, rel in split_dirs.items()}
    for split, names in classes.items():
        if not names:
            raise DataError(
                f"{tree.label}: {split_dirs[split]}/ has no class folders; put images in "
                f"{labels[split]}<class>/*.jpg, one folder per class"
            )
    if classes["train"] != classes["test"]:
        only_train = sorted(set(classes["train"]) - set(classes["test"]))
        only_test = sorted(set(classes["test"]) - set(classes["train"]))
        diff = "; ".join(
            part
            for part in (
                f"only in train/: {', '.join(only_train)}" if only_train else "",
                f"only in {labels['test']}: {', '.join(only_test)}" if only_test else "",
            )
            if part
        )
        raise DataError(f"{tree.label}: train/ and {labels['test']} must have the same class folders ({diff})")
    names = classes["train"]
    if len(names) < 2:
        raise DataError(
            f"{tree.label} has only one class ({names[0]}): a classifier needs at least 2 class folders "
            f"under train/ and {labels['test']}"
        )
    layout = _Layout(kind="images", root=root, classes=names, split_labels=labels)
    for split, entries in (("train", layout.train), ("test", layout.test)):
        for label, name in enumerate(names):
            class_dir = _join(split_dirs[split], name)
            files = tree.child_files(class_dir)
            if not files:
                raise DataError(f"{tree.label}: class folder {class_dir}/ is empty; add images or remove it")
            entries.extend((rel, label) for rel in files)
    return layout


def _holdout_layout(tree: _Tree, root: str, images: dict[str, list[str]]) -> _Layout:
    """<class>/* with no split: hold out :data:`HOLDOUT_FRACTION` of each class as the test set.

    ``images``: each class folder's image files, sorted. The pick is fixed
    (seed 0 over the sorted file names), not the run's seed: every run on this
    folder, whatever its seed, is scored on the same images.
    """
    layout = _Layout(
        kind="images", root=root, classes=list(images),
        split_labels={"train": "the training part", "test": f"the held-out {HOLDOUT_FRACTION:.0%}"},
    )
    rng = np.random.default_rng(0)
    for label, (name, files) in enumerate(images.items()):
        if len(files) < 2:
            raise DataError(
                f"{tree.label}: class folder {_join(root, name)}/ has {len(files)} image: holding out a test image "
                "needs at least 2 per class; add images, or give train/ and test/ folders"
            )
        n_test = min(len(files) - 1, max(1, round(len(files) * HOLDOUT_FRACTION)))
        held_out = set(rng.choice(len(files), size=n_test, replace=False).tolist())
        for index, rel in enumerate(files):
            (layout.test if index in held_out else layout.train).append((rel, label))
    return layout


# --------------------------------------------------------------------------- local data: loading


def _load_local(path: Path, source: str, cache_dir: str | os.PathLike[str] | None, say: Progress) -> Dataset:
    if not path.exists():
        raise DataError(f"{path} does not exist: {_SPEC_HELP}")
    cache = _Cache(Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir(), say)
    if path.is_dir():
        tree = _scan_folder(path)
        layout = _find_layout(tree, say)
        key = _folder_key(tree, layout)
        arrays = cache.load(key)
        if arrays is None:
            arrays = _decode(tree, layout, say)
            cache.save(key, arrays)
    elif path.is_file():
        key = _archive_key(path)
        arrays = cache.load(key)
        if arrays is None:
            tree = _read_archive(path, say)
            layout = _find_layout(tree, say)
            arrays = _decode(tree, layout, say)
            del tree  # the raw member bytes; drop them before the cache write copies buffers
            cache.save(key, arrays)
    else:
        raise DataError(f"{path} is neither a folder nor a regular file: {_LAYOUTS}")
    return Dataset(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        class_names=[str(name) for name in arrays["class_names"]],
        source=source,
    )


def _decode(tree: _Tree, layout: _Layout, say: Progress) -> dict[str, np.ndarray]:
    if layout.kind == "cifar":
        return _decode_cifar(tree, layout, say)
    return _decode_images(tree, layout, say)


# --------------------------------------------------------------------------- CIFAR python batches


class _ForbiddenGlobal(pickle.UnpicklingError):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _latin1_encode(obj: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    # Python 3 pickles bytes at protocol 2 as _codecs.encode(text, "latin1"); admit only that use.
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return codecs.encode(obj, "latin1")


def _numpy_global(module: str, name: str) -> Any:
    """Fetch ``numpy._core.<module>.<name>`` (numpy 2) or ``numpy.core.<module>.<name>`` (numpy 1)."""
    import importlib

    for prefix in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{prefix}.{module}"), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"numpy has no {module}.{name}")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_global("multiarray", "_reconstruct")
    frombuffer = _numpy_global("numeric", "_frombuffer")
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy.core.numeric", "_frombuffer"): frombuffer,
        ("numpy._core.numeric", "_frombuffer"): frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }


class _CifarUnpickler(pickle.Unpickler):
    """Admits only what a CIFAR batch holds: dicts, lists, numbers, bytes and numpy arrays."""

    def __init__(self, data: bytes) -> None:
        # encoding="bytes": the original batches are Python 2 pickles whose str keys become bytes.
        super().__init__(io.BytesIO(data), encoding="bytes")
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _ForbiddenGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids")


def _unpickle_batch(data: bytes, where: str) -> dict[str, Any]:
    try:
        obj = _CifarUnpickler(data).load()
    except _ForbiddenGlobal as exc:
        raise DataError(
            f"refusing to unpickle {where}: it asks for {exc.what}, which a CIFAR batch never contains; "
            "use the original cifar-10-python.tar.gz"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - a malformed pickle can fail in any opcode handler; all mean "bad file"
        raise DataError(
            f"could not read CIFAR batch {where}: {_one_line(exc)}; download cifar-10-python.tar.gz again"
        ) from exc
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a CIFAR batch (a pickled {type(obj).__name__}, not a dict)")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _read_cifar_batch(tree: _Tree, rel: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    where = f"{tree.label}: {rel}"
    batch = _unpickle_batch(tree.read(rel), where)
    data, labels = batch.get("data"), batch.get("labels")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3 * IMAGE_SIZE * IMAGE_SIZE
    ):
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: 'data' must be a uint8 array of shape (N, 3072), got {got}")
    try:
        y = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: 'labels' is not a list of class numbers") from exc
    if y.ndim != 1 or y.shape[0] != data.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{where}: 'labels' must be {data.shape[0]} whole numbers, one per image, got {y.dtype} {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{where}: labels must be in 0..{num_classes - 1}, found {int(y.min())}..{int(y.max())}")
    # Rows are channel-first planes (1024 R, 1024 G, 1024 B): make them height x width x channel.
    x = data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
    return x, y.astype(np.int64)


def _decode_cifar(tree: _Tree, layout: _Layout, say: Progress) -> dict[str, np.ndarray]:
    meta = _unpickle_batch(tree.read(layout.meta), f"{tree.label}: {layout.meta}")
    names = meta.get("label_names")
    if not isinstance(names, (list, tuple)) or len(names) < 2 or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(f"{tree.label}: {layout.meta} has no list of label_names; download the archive again")
    class_names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    say(f"decoding {len(layout.train) + len(layout.test)} CIFAR batches")
    out: dict[str, np.ndarray] = {}
    for split, batches in (("train", layout.train), ("test", layout.test)):
        parts = [_read_cifar_batch(tree, rel, len(class_names)) for rel, _ in batches]
        # One copy per split: concatenate writes the transposed views contiguously.
        out[f"x_{split}"] = np.ascontiguousarray(np.concatenate([x for x, _ in parts]))
        out[f"y_{split}"] = np.concatenate([y for _, y in parts])
    out["class_names"] = np.array(class_names, dtype=str)
    return out


# --------------------------------------------------------------------------- image folders


def _to_rgb32(im: Any) -> np.ndarray:
    """Any PIL image -> (32, 32, 3) uint8 RGB."""
    from PIL import Image

    if im.size != (IMAGE_SIZE, IMAGE_SIZE) and im.format == "JPEG":
        # Let libjpeg decode at 1/2..1/8 scale: big photos get cheap, still >= 32 px.
        im.draft("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        # Pillow's own convert("RGB") clips 16-bit values at 255: a 16-bit PNG would turn white.
        arr = np.asarray(im)
        if im.mode.startswith("I;16") or (arr.size and arr.max() > 255):
            arr = np.clip(arr, 0, 65535) / 257.0
        im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    elif im.mode == "P" and "transparency" in im.info:
        # Going through RGBA avoids Pillow's warning about palette transparency.
        im = im.convert("RGBA")
    if im.mode != "RGB":
        im = im.convert("RGB")
    if im.size != (IMAGE_SIZE, IMAGE_SIZE):
        im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(im)


def _decode_one(data: bytes) -> tuple[np.ndarray | None, str]:
    """Decode one file; on failure return (None, why) instead of raising."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and im.width * im.height > limit:
                # Pillow only warns below 2x the limit; an image that big is never a 32x32 sample.
                return None, "too large"
            return _to_rgb32(im), ""
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on bad input; counted and reported
        return None, type(exc).__name__


def _decode_images(tree: _Tree, layout: _Layout, say: Progress) -> dict[str, np.ndarray]:
    total = len(layout.train) + len(layout.test)
    say(f"decoding {total:,} images")
    # A plain loop: threads measured slower here (GIL-bound Python around tiny decodes).
    done = 0
    step = max(total // 4, 10_000)
    skipped: list[str] = []
    out: dict[str, np.ndarray] = {}
    for split, entries in (("train", layout.train), ("test", layout.test)):
        x = np.empty((len(entries), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        y = np.empty(len(entries), dtype=np.int64)
        n = 0
        for rel, label in entries:
            image, why = _decode_one(tree.read(rel))
            done += 1
            if done % step == 0 and done < total:
                say(f"decoding {total:,} images: {done * 100 // total}%")
            if image is None:
                shown = rel[len(layout.root) + 1:] if layout.root else rel
                skipped.append(f"{shown} ({why})")
                continue
            x[n] = image
            y[n] = label
            n += 1
        counts = np.bincount(y[:n], minlength=len(layout.classes))
        empty = [layout.classes[i] for i in np.flatnonzero(counts == 0)]
        if empty:
            raise DataError(
                f"{tree.label}: no readable images in {layout.split_labels[split]} for class {', '.join(empty)} "
                f"({len(skipped)} files could not be decoded, e.g. {skipped[0]}); add JPEG or PNG files there"
            )
        # Image folders come class by class; a fixed shuffle makes them look like CIFAR's
        # interleaved batches, so a validation_split tail is not a single class.
        order = np.random.default_rng(0).permutation(n)
        out[f"x_{split}"] = x[:n][order]
        out[f"y_{split}"] = y[:n][order]
    if skipped:
        noun = "file" if len(skipped) == 1 else "files"
        say(f"skipped {len(skipped)} unreadable {noun}, e.g. {skipped[0]}")
    out["class_names"] = np.array(layout.classes, dtype=str)
    return out


# --------------------------------------------------------------------------- cache


_FIELDS = ("x_train", "y_train", "x_test", "y_test", "class_names")


def _archive_key(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            # sha256 of the content (~40 ms for 19 MB): a renamed or touched archive still hits.
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}; check its permissions") from exc
    return hashlib.sha256(f"kvt-data-v{_CACHE_VERSION}:archive:{digest.hexdigest()}".encode()).hexdigest()


def _folder_key(tree: _Tree, layout: _Layout) -> str:
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


class _Cache:
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
                np.savez(handle, **arrays)
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


# --------------------------------------------------------------------------- helpers


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"
