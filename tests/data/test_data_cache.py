"""The decoded-array cache (kvt_models/data/cache.py): hits, misses on change, rebuilds a corrupt
entry, keeps the most recently used entries, and loads anyway when it cannot write.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from datafactory import Recorder, check_dataset, image_bytes, make_cifar_folder, make_image_folder, red_images
from PIL import Image

from kvt_models.data.loader import load_dataset
from kvt_models.paths import default_cache_dir


def test_cache_hit_and_corrupt_cache_rebuilt(tmp_path: Path, cache: Path) -> None:
    root = str(make_image_folder(tmp_path / "imgs"))
    first = Recorder()
    ds1 = load_dataset(root, cache_dir=cache, progress=first)
    assert first.has("decoding") and not first.has("loaded from cache")
    files = list((cache / "datasets").glob("*.npz"))
    assert len(files) == 1 and not list((cache / "datasets").glob(".tmp-*"))

    second = Recorder()
    ds2 = load_dataset(root, cache_dir=cache, progress=second)
    assert second.messages == ["loaded from cache"]
    assert np.array_equal(ds1.x_train, ds2.x_train) and ds1.class_names == ds2.class_names

    files[0].write_bytes(b"PK\x03\x04 this is not a zip any more")
    third = Recorder()
    ds3 = load_dataset(root, cache_dir=cache, progress=third)
    assert third.has("ignoring unreadable cache file") and third.has("decoding")
    assert np.array_equal(ds1.x_train, ds3.x_train)
    assert load_dataset(root, cache_dir=cache, progress=(fourth := Recorder())) is not None
    assert fourth.messages == ["loaded from cache"]


def test_cache_keeps_the_most_recently_used_entries(tmp_path: Path, cache: Path) -> None:
    from kvt_models.data.cache import CACHE_ENTRIES_KEPT

    folders = [make_image_folder(tmp_path / f"imgs{i}", strays=False) for i in range(CACHE_ENTRIES_KEPT + 2)]
    load_dataset(str(folders[0]), cache_dir=cache)
    first_entry = next((cache / "datasets").glob("*.npz"))
    stale = cache / "datasets" / ".tmp-killed.npz"  # left by a writer killed mid-write, long ago
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    for i, folder in enumerate(folders[1:], start=1):
        if i == CACHE_ENTRIES_KEPT:  # the cache is full; the oldest entry is used again
            assert load_dataset(str(folders[0]), cache_dir=cache, progress=(hit := Recorder())) is not None
            assert hit.messages == ["loaded from cache"]
        progress = Recorder()
        load_dataset(str(folder), cache_dir=cache, progress=progress)
    entries = sorted((cache / "datasets").glob("*.npz"))
    assert len(entries) == CACHE_ENTRIES_KEPT and first_entry in entries and not stale.exists()
    assert progress.has("removed the least recently used cache file")
    # Whatever was evicted decodes again, and the result is the same data.
    again = Recorder()
    assert load_dataset(str(folders[1]), cache_dir=cache, progress=again) is not None
    assert again.has("decoding")


def test_changed_folder_misses_cache(tmp_path: Path, cache: Path) -> None:
    root = make_image_folder(tmp_path / "imgs", strays=False)
    load_dataset(str(root), cache_dir=cache)
    (root / "train" / "red" / "extra.png").write_bytes(image_bytes(Image.new("RGB", (32, 32), (250, 0, 0))))
    progress = Recorder()
    ds = load_dataset(str(root), cache_dir=cache, progress=progress)
    assert not progress.has("loaded from cache")
    assert np.bincount(ds.y_train)[ds.class_names.index("red")] == len(red_images()) + 1


def test_unwritable_cache_still_loads(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the cache folder should be")
    folder = str(make_cifar_folder(tmp_path / "cifar"))
    progress = Recorder()
    ds = load_dataset(folder, cache_dir=blocker / "cache", progress=progress)
    check_dataset(ds, 60, 9, 3)
    assert progress.has("could not write the cache")


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KVT_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("KVT_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "kvt"
