"""Image files (kvt_models/data/decode.py): any Pillow mode and size becomes 32x32 RGB; a file that
will not decode is skipped and counted, and a class left with none is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datafactory import (
    Recorder,
    blue_images,
    check_dataset,
    gray_images,
    image_bytes,
    make_image_folder,
    one_line,
    red_images,
)
from PIL import Image

from kvt_models.data.loader import load_dataset
from kvt_models.errors import DataError


def test_image_folder_any_mode_and_size(tmp_path: Path, cache: Path) -> None:
    root = make_image_folder(tmp_path / "imgs")
    progress = Recorder()
    ds = load_dataset(str(root), cache_dir=cache, progress=progress)
    n_train = len(red_images()) + len(gray_images()) + len(blue_images())
    check_dataset(ds, n_train, 6, 3)
    assert ds.class_names == ["blue", "gray", "red"]
    assert progress.has("skipped 2 unreadable files")
    x = ds.x_train.astype(np.int16)  # a per-test widening of a few images, for signed differences
    red, gray, blue = (x[ds.y_train == ds.class_names.index(c)] for c in ("red", "gray", "blue"))
    assert (red[..., 0] > 200).all() and (red[..., 1:] < 60).all()
    assert (abs(gray - 128) <= 3).all()  # the 16-bit PNG is scaled, not clipped to white
    assert (blue[..., 2] > 200).all() and (blue[..., :2] < 60).all()


def test_decompression_bomb_is_skipped(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            folder = tmp_path / "d" / split / cls
            folder.mkdir(parents=True)
            (folder / "ok.png").write_bytes(image_bytes(Image.new("RGB", (32, 32), (9, 9, 9))))
    (tmp_path / "d/train/a/warn.png").write_bytes(image_bytes(Image.new("RGB", (60, 60))))  # between 1x and 2x
    (tmp_path / "d/train/b/bomb.png").write_bytes(image_bytes(Image.new("RGB", (100, 100))))  # over 2x: Pillow raises
    progress = Recorder()
    with pytest.warns(Image.DecompressionBombWarning):
        ds = load_dataset(str(tmp_path / "d"), cache_dir=cache, progress=progress)
    check_dataset(ds, 2, 2, 2)
    assert progress.has("skipped 2 unreadable files")


def test_class_with_only_unreadable_files(tmp_path: Path, cache: Path) -> None:
    root = make_image_folder(tmp_path / "imgs", strays=False)
    for f in (root / "test" / "blue").iterdir():
        f.write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError) as exc:
        load_dataset(str(root), cache_dir=cache)
    assert "no readable images in test/ for class blue" in one_line(exc)
