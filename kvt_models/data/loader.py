"""From what a user typed after ``--data`` to a :class:`Dataset`: the spec, the source, the cache.

:func:`load_dataset` and :func:`describe_spec` read the spec (``cifar10``,
``sample`` or a path) with :func:`kvt_models.settings.datasets.read_dataset_spec`, the
reader the CLI and the app's form use too; this module then wires the other parts together for
local data: list the folder (``tree.py``) or read the archive
(``archive.py``), find the layout (``layouts.py``), decode (``decode.py``)
unless the cache (``cache.py``) has the arrays, and take the limits
(``subsets.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from kvt_models.data.archive import ARCHIVE_SUFFIXES, read_archive
from kvt_models.data.cache import Cache, archive_key, folder_key
from kvt_models.data.dataset import Dataset, Progress, quiet
from kvt_models.data.decode import decode
from kvt_models.data.keras_cifar10 import load_keras_cifar10
from kvt_models.data.layouts import CIFAR_DIR, CIFAR_MARKERS, LAYOUTS, find_layout
from kvt_models.data.messages import human_size
from kvt_models.data.subsets import apply_limits, check_limit
from kvt_models.data.tree import scan_folder
from kvt_models.errors import DataError
from kvt_models.paths import default_cache_dir
from kvt_models.settings.datasets import missing_dataset_message, no_dataset_message, read_dataset_spec

# kvt_models/sample/, next to this package: the path package-data installs it at.
SAMPLE_PATH: Path = Path(__file__).resolve().parent.parent / "sample" / "cifar10-sample.tar.gz"
# Known from how scripts/build_sample.py builds it; describe_spec must not open the archive.
_SAMPLE_IMAGES = 6000

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
        raise DataError(missing_dataset_message(path))
    if path.is_dir():
        if any((path / name).is_file() for name in CIFAR_MARKERS) or (path / CIFAR_DIR).is_dir():
            return f"CIFAR-10 batches folder {path}"
        if (path / "train").is_dir():
            return f"image folder {path}"
        return f"folder {path}"
    size = human_size(path.stat().st_size)
    if path.name.lower().endswith(ARCHIVE_SUFFIXES):
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
    """Load the dataset ``spec`` names (see the :mod:`kvt_models.data` docstring).

    ``train_limit`` / ``test_limit`` take class-balanced subsets, the same for
    the same ``seed``; the full dataset is what gets cached. ``progress``
    receives a few short status lines.
    """
    check_limit("train_limit", train_limit)
    check_limit("test_limit", test_limit)
    say: Progress = progress if progress is not None else quiet
    kind, path = _parse_spec(spec)
    if kind == "cifar10":
        ds = load_keras_cifar10(say)
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
    return apply_limits(ds, train_limit, test_limit, seed)


def _parse_spec(spec: str) -> tuple[str, Path | None]:
    # The one reader of a spec (kvt_models/settings/options.py), shared with the CLI and the
    # app's form, so all three agree on what "Sample" or "CIFAR-10" means.
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(no_dataset_message())
    return read_dataset_spec(spec)


def _load_local(path: Path, source: str, cache_dir: str | os.PathLike[str] | None, say: Progress) -> Dataset:
    if not path.exists():
        raise DataError(missing_dataset_message(path))
    cache = Cache(Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir(), say)
    if path.is_dir():
        tree = scan_folder(path)
        layout = find_layout(tree, say)
        key = folder_key(tree, layout)
        arrays = cache.load(key)
        if arrays is None:
            arrays = decode(tree, layout, say)
            cache.save(key, arrays)
    elif path.is_file():
        # An archive's key is its content's hash: a cache hit never reads the archive's members.
        key = archive_key(path)
        arrays = cache.load(key)
        if arrays is None:
            tree = read_archive(path, say)
            layout = find_layout(tree, say)
            arrays = decode(tree, layout, say)
            del tree  # the raw member bytes; drop them before the cache write copies buffers
            cache.save(key, arrays)
    else:
        raise DataError(f"{path} is neither a folder nor a regular file: {LAYOUTS}")
    return Dataset(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        class_names=[str(name) for name in arrays["class_names"]],
        source=source,
    )
