"""Dataset layouts (kvt_models/data/layouts.py): CIFAR folders, image folders with a test or val split,
folders of class folders with a fixed hold-out, each in a top folder or an archive, and every way a
folder can fail to be one of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datafactory import Recorder, check_dataset, image_bytes, make_cifar_folder, make_image_folder, make_tar, one_line
from PIL import Image

from kvt_models.data.loader import load_dataset
from kvt_models.errors import DataError


def test_cifar_parent_folder_and_archive(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "parent" / "cifar-10-batches-py")
    ds_parent = load_dataset(str(tmp_path / "parent"), cache_dir=cache)
    archive = make_tar(tmp_path / "cifar-10-python.tar.gz", folder, "cifar-10-batches-py")
    ds_archive = load_dataset(str(archive), cache_dir=cache)
    check_dataset(ds_archive, 60, 9, 3)
    assert np.array_equal(ds_parent.x_train, ds_archive.x_train)
    assert np.array_equal(ds_parent.y_test, ds_archive.y_test)


def test_missing_cifar_batch(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "cifar")
    (folder / "data_batch_3").unlink()
    (folder / "test_batch").unlink()
    with pytest.raises(DataError) as exc:
        load_dataset(str(folder), cache_dir=cache)
    message = one_line(exc)
    assert "test_batch" in message and "data_batch_3" in message


def test_image_folder_inside_single_top_folder_and_archive(tmp_path: Path, cache: Path) -> None:
    src = make_image_folder(tmp_path / "src" / "cifar10", strays=False)
    ds_folder = load_dataset(str(tmp_path / "src"), cache_dir=cache)
    archive = make_tar(tmp_path / "imgs.tgz", src, "cifar10")
    ds_archive = load_dataset(str(archive), cache_dir=cache)
    plain_tar = make_tar(tmp_path / "imgs.tar", src, "cifar10", mode="w")
    ds_tar = load_dataset(str(plain_tar), cache_dir=cache)
    for ds in (ds_archive, ds_tar):
        assert ds.class_names == ds_folder.class_names
        assert np.array_equal(ds.x_train, ds_folder.x_train)
        assert np.array_equal(ds.y_train, ds_folder.y_train)


def test_empty_class_folder(tmp_path: Path, cache: Path) -> None:
    root = make_image_folder(tmp_path / "imgs", strays=False)
    for f in (root / "train" / "gray").iterdir():
        f.unlink()
    with pytest.raises(DataError, match="is empty"):
        load_dataset(str(root), cache_dir=cache)


def test_single_class(tmp_path: Path, cache: Path) -> None:
    for split in ("train", "test"):
        (tmp_path / "one" / split / "cat").mkdir(parents=True)
        (tmp_path / "one" / split / "cat" / "x.png").write_bytes(image_bytes(Image.new("RGB", (32, 32))))
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "one"), cache_dir=cache)
    assert "only one class (cat)" in one_line(exc)


def test_train_test_class_mismatch(tmp_path: Path, cache: Path) -> None:
    root = make_image_folder(tmp_path / "imgs", strays=False)
    (root / "test" / "blue").rename(root / "test" / "azure")
    with pytest.raises(DataError) as exc:
        load_dataset(str(root), cache_dir=cache)
    message = one_line(exc)
    assert "only in train/: blue" in message and "only in test/: azure" in message


def test_missing_test_split(tmp_path: Path, cache: Path) -> None:
    root = make_image_folder(tmp_path / "imgs", strays=False)
    (root / "test").rename(root / "Test")  # names are case-sensitive
    with pytest.raises(DataError) as exc:
        load_dataset(str(root), cache_dir=cache)
    assert "has train/ but no test/ (or val/) folder" in one_line(exc) and "holds out 20%" in str(exc.value)


@pytest.mark.parametrize("test_name", ["val", "validation", "valid"])
def test_val_folder_stands_for_test(tmp_path: Path, cache: Path, test_name: str) -> None:
    root = make_image_folder(tmp_path / "imgs", strays=False)
    (root / "test").rename(root / test_name)
    ds = load_dataset(str(root), cache_dir=cache)
    check_dataset(ds, 15, 6, 3)
    (root / test_name / "red").rename(root / test_name / "crimson")
    with pytest.raises(DataError) as exc:
        load_dataset(str(root), cache_dir=cache)
    assert f"only in {test_name}/: crimson" in one_line(exc)


def make_class_folders(root: Path, per_class: dict[str, int]) -> Path:
    """<class>/<image> with no train/test split, in mixed formats and suffix cases."""
    colours = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
    for cls, count in per_class.items():
        (root / cls).mkdir(parents=True)
        for i in range(count):
            im = Image.new("RGB", (40 + i, 30 + i), tuple(min(255, c + 3 * i) for c in colours[cls]))
            suffix = (".png", ".JPG", ".jpeg", ".bmp", ".webp")[i % 5]
            im.save(root / cls / f"{cls}-{i:02d}{suffix}")
    return root


def test_a_folder_of_class_folders_holds_out_a_fixed_fifth_of_each_class(tmp_path: Path, cache: Path) -> None:
    root = make_class_folders(tmp_path / "pets", {"red": 10, "green": 10, "blue": 6})
    (root / "docs").mkdir()  # no images: not a class
    (root / "docs" / "README.md").write_text("about the pets")
    (root / "labels.csv").write_text("file,label\n")
    ds = load_dataset(str(root), cache_dir=cache, progress=(progress := Recorder()))
    assert ds.class_names == ["blue", "green", "red"]
    check_dataset(ds, 26 - 5, 5, 3)  # 20% of 10, 10 and 6 (rounded): 2 + 2 + 1
    assert np.bincount(ds.y_test, minlength=3).tolist() == [1, 2, 2]
    assert np.bincount(ds.y_train, minlength=3).tolist() == [5, 8, 8]
    # The colour says the class: every image landed under its own label.
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert (x.reshape(len(x), -1, 3).mean(axis=1).argmax(axis=1) == np.array([2, 1, 0])[y]).all()
    # The same images are held out every time (cache or not), whatever the run's seed.
    again = load_dataset(str(root), cache_dir=tmp_path / "other-cache", seed=7)
    assert np.array_equal(np.sort(again.x_test.reshape(5, -1), axis=0), np.sort(ds.x_test.reshape(5, -1), axis=0))
    assert not progress.has("skipped")


def test_class_folders_inside_one_top_folder_and_in_an_archive(tmp_path: Path, cache: Path) -> None:
    make_class_folders(tmp_path / "src" / "pets", {"red": 5, "green": 5})
    archive = make_tar(tmp_path / "pets.tar.gz", tmp_path / "src" / "pets", "pets")
    from_archive = load_dataset(str(archive), cache_dir=cache)
    from_folder = load_dataset(str(tmp_path / "src"), cache_dir=cache)
    check_dataset(from_archive, 8, 2, 2)
    assert np.array_equal(from_archive.x_test, from_folder.x_test) and from_archive.class_names == ["green", "red"]


def test_a_class_folder_with_one_image_cannot_be_split(tmp_path: Path, cache: Path) -> None:
    root = make_class_folders(tmp_path / "pets", {"red": 5, "green": 1})
    with pytest.raises(DataError) as exc:
        load_dataset(str(root), cache_dir=cache)
    assert "green/ has 1 image" in one_line(exc) and "at least 2 per class" in str(exc.value)


def test_file_where_folder_expected(tmp_path: Path, cache: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    with pytest.raises(DataError) as exc:
        load_dataset(str(notes), cache_dir=cache)
    assert "is a file, not a folder" in one_line(exc)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "train").write_text("oops")
    (tmp_path / "ds" / "test").mkdir()
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "ds"), cache_dir=cache)
    assert "train is a file" in one_line(exc)


def test_empty_and_unrecognised_folders(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "empty"), cache_dir=cache)
    assert "is empty" in one_line(exc) and "train/<class>" in str(exc.value)
    (tmp_path / "other" / "a").mkdir(parents=True)
    (tmp_path / "other" / "b").mkdir()
    (tmp_path / "other" / "a" / "x.png").write_bytes(image_bytes(Image.new("RGB", (32, 32))))
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "other"), cache_dir=cache)
    assert "one class folder only" in one_line(exc) and "other/a" not in str(exc.value).split(":")[0]
    (tmp_path / "other" / "a" / "x.png").unlink()
    (tmp_path / "other" / "a" / "notes.txt").write_text("no images anywhere")
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "other"), cache_dir=cache)
    assert "no dataset layout kvt knows" in one_line(exc) and "data_batch_1..5" in str(exc.value)
    assert "<class>/*.jpg" in str(exc.value)
