"""Tests for kvt_models.data: every loader path, every way a user's file can be wrong.

All fixtures are generated in ``tmp_path`` (tiny CIFAR batches, image folders
in many Pillow modes, hostile pickles and archives), so the fast tests never
need the network or ``/work/shared``. The one test that reads the full shared
archive is marked ``slow``.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kvt_models import data as kdata
from kvt_models.data import SAMPLE_PATH, Dataset, default_cache_dir, describe_spec, load_dataset
from kvt_models.errors import ConfigError, DataError

FULL_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"

# A tiny CIFAR: 3 classes, deliberately unbalanced, 5 train batches of 12 and a test batch of 9.
CIFAR_NAMES = [b"alpha", b"beta", b"gamma"]
TRAIN_LABELS = [0] * 30 + [1] * 20 + [2] * 10
TEST_LABELS = [0, 1, 2] * 3


# --------------------------------------------------------------------------- fixtures


def _batch(labels: list[int], first_id: int, rng: np.random.Generator) -> dict[bytes, object]:
    """A batch in the real layout: channel-first rows; R = label * 80, G = image id, B = noise."""
    n = len(labels)
    data = np.empty((n, 3, 32, 32), dtype=np.uint8)
    data[:, 0] = (np.array(labels, dtype=np.uint8) * 80)[:, None, None]
    data[:, 1] = ((np.arange(n) + first_id) % 256).astype(np.uint8)[:, None, None]
    data[:, 2] = rng.integers(0, 256, size=(n, 32, 32), dtype=np.uint8)
    return {
        b"batch_label": b"testing batch",
        b"labels": list(labels),
        b"data": data.reshape(n, 3072),
        b"filenames": [f"img_{first_id + i}.png".encode() for i in range(n)],
    }


def make_cifar_folder(folder: Path, *, old_numpy_names: bool = False) -> Path:
    """Write data_batch_1..5, test_batch and batches.meta like cifar-10-python.tar.gz holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(123)
    order = np.random.default_rng(7).permutation(len(TRAIN_LABELS))
    shuffled = [TRAIN_LABELS[i] for i in order]

    def dump(obj: object, name: str) -> None:
        raw = pickle.dumps(obj, protocol=2)
        if old_numpy_names:
            # What Python 2 / numpy 1 wrote in the original batches.
            raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        (folder / name).write_bytes(raw)

    for b in range(5):
        dump(_batch(shuffled[b * 12 : (b + 1) * 12], b * 12, rng), f"data_batch_{b + 1}")
    dump(_batch(TEST_LABELS, 1000, rng), "test_batch")
    dump({b"num_cases_per_batch": 12, b"label_names": CIFAR_NAMES, b"num_vis": 3072}, "batches.meta")
    return folder


def make_tar(archive: Path, folder: Path, arcname: str, mode: str = "w:gz") -> Path:
    with tarfile.open(archive, mode) as tar:
        tar.add(folder, arcname=arcname)
    return archive


def _png(image: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=kwargs.pop("format", "PNG"), **kwargs)
    return buf.getvalue()


def _palette_red(size: tuple[int, int]) -> Image.Image:
    im = Image.new("P", size, 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    return im


def red_images() -> dict[str, bytes]:
    return {
        "rgb.png": _png(Image.new("RGB", (32, 32), (255, 0, 0))),
        "rgba.png": _png(Image.new("RGBA", (32, 32), (255, 0, 0, 255))),
        "palette.png": _png(_palette_red((32, 32))),
        "palette_transparent.png": _png(_palette_red((20, 20)), transparency=bytes([0] + [255] * 255)),
        "tall_7x50.png": _png(Image.new("RGB", (7, 50), (255, 0, 0))),
        "big.jpg": _png(Image.new("RGB", (300, 200), (255, 0, 0)), format="JPEG", quality=95),
        "small.bmp": _png(Image.new("RGB", (16, 16), (255, 0, 0)), format="BMP"),
        "anim.gif": _png(_palette_red((40, 40)), format="GIF"),
    }


def gray_images() -> dict[str, bytes]:
    return {
        "l.png": _png(Image.new("L", (32, 32), 128)),
        "la.png": _png(Image.new("LA", (10, 30), (128, 255))),
        "sixteen_bit.png": _png(Image.fromarray(np.full((32, 32), 128 * 257, dtype=np.uint16))),
        "gray.jpg": _png(Image.new("L", (64, 64), 128), format="JPEG", quality=95),
    }


def blue_images() -> dict[str, bytes]:
    # PIL maps CMYK to RGB as (255 - C, 255 - M, 255 - Y): this is pure blue.
    return {
        "cmyk.jpg": _png(Image.new("CMYK", (40, 40), (255, 255, 0, 0)), format="JPEG", quality=95),
        "rgb.webp": _png(Image.new("RGB", (32, 32), (0, 0, 255)), format="WEBP", lossless=True),
        "rgb.png": _png(Image.new("RGB", (33, 31), (0, 0, 255))),
    }


def make_image_folder(root: Path, *, strays: bool = True) -> Path:
    sets = {"red": red_images(), "gray": gray_images(), "blue": blue_images()}
    for split in ("train", "test"):
        for cls, files in sets.items():
            folder = root / split / cls
            folder.mkdir(parents=True)
            chosen = files if split == "train" else dict(list(files.items())[:2])
            for name, raw in chosen.items():
                (folder / name).write_bytes(raw)
    if strays:
        (root / "train" / "red" / "notes.txt").write_text("not an image\n")
        (root / "train" / "gray" / "cut.png").write_bytes(gray_images()["l.png"][:40])
        (root / "train" / ".ipynb_checkpoints").mkdir()  # hidden: never a class
    return root


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert message and "\n" not in message, message
    return message


class Recorder:
    """Collects progress messages."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)

    def has(self, text: str) -> bool:
        return any(text in m for m in self.messages)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def check_dataset(ds: Dataset, n_train: int, n_test: int, n_classes: int) -> None:
    for x, y, n in ((ds.x_train, ds.y_train, n_train), (ds.x_test, ds.y_test, n_test)):
        assert x.shape == (n, 32, 32, 3) and x.dtype == np.uint8 and x.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64
        assert y.min() >= 0 and y.max() < n_classes
    assert ds.num_classes == n_classes == len(ds.class_names)


# --------------------------------------------------------------------------- CIFAR python format


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


def test_cifar_parent_folder_and_archive(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "parent" / "cifar-10-batches-py")
    ds_parent = load_dataset(str(tmp_path / "parent"), cache_dir=cache)
    archive = make_tar(tmp_path / "cifar-10-python.tar.gz", folder, "cifar-10-batches-py")
    ds_archive = load_dataset(str(archive), cache_dir=cache)
    check_dataset(ds_archive, 60, 9, 3)
    assert np.array_equal(ds_parent.x_train, ds_archive.x_train)
    assert np.array_equal(ds_parent.y_test, ds_archive.y_test)


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


def test_missing_cifar_batch(tmp_path: Path, cache: Path) -> None:
    folder = make_cifar_folder(tmp_path / "cifar")
    (folder / "data_batch_3").unlink()
    (folder / "test_batch").unlink()
    with pytest.raises(DataError) as exc:
        load_dataset(str(folder), cache_dir=cache)
    message = one_line(exc)
    assert "test_batch" in message and "data_batch_3" in message


# --------------------------------------------------------------------------- image folders


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


def test_decompression_bomb_is_skipped(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            folder = tmp_path / "d" / split / cls
            folder.mkdir(parents=True)
            (folder / "ok.png").write_bytes(_png(Image.new("RGB", (32, 32), (9, 9, 9))))
    (tmp_path / "d/train/a/warn.png").write_bytes(_png(Image.new("RGB", (60, 60))))  # between 1x and 2x
    (tmp_path / "d/train/b/bomb.png").write_bytes(_png(Image.new("RGB", (100, 100))))  # over 2x: Pillow raises
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


def test_empty_class_folder(tmp_path: Path, cache: Path) -> None:
    root = make_image_folder(tmp_path / "imgs", strays=False)
    for f in (root / "train" / "gray").iterdir():
        f.unlink()
    with pytest.raises(DataError, match="is empty"):
        load_dataset(str(root), cache_dir=cache)


def test_single_class(tmp_path: Path, cache: Path) -> None:
    for split in ("train", "test"):
        (tmp_path / "one" / split / "cat").mkdir(parents=True)
        (tmp_path / "one" / split / "cat" / "x.png").write_bytes(_png(Image.new("RGB", (32, 32))))
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


# --------------------------------------------------------------------------- bad paths


def test_missing_path(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "nope"), cache_dir=cache)
    assert "does not exist" in one_line(exc)
    with pytest.raises(DataError, match="does not exist"):
        describe_spec(str(tmp_path / "nope"))


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
    (tmp_path / "other" / "a" / "x.png").write_bytes(_png(Image.new("RGB", (32, 32))))
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "other"), cache_dir=cache)
    assert "one class folder only" in one_line(exc) and "other/a" not in str(exc.value).split(":")[0]
    (tmp_path / "other" / "a" / "x.png").unlink()
    (tmp_path / "other" / "a" / "notes.txt").write_text("no images anywhere")
    with pytest.raises(DataError) as exc:
        load_dataset(str(tmp_path / "other"), cache_dir=cache)
    assert "no dataset layout kvt knows" in one_line(exc) and "data_batch_1..5" in str(exc.value)
    assert "<class>/*.jpg" in str(exc.value)


# --------------------------------------------------------------------------- other folder layouts


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



def test_empty_spec() -> None:
    with pytest.raises(DataError, match="no dataset given"):
        load_dataset("  ")


# --------------------------------------------------------------------------- hostile archives


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


# --------------------------------------------------------------------------- limits


def test_stratified_limits_balanced_and_deterministic(tmp_path: Path, cache: Path) -> None:
    folder = str(make_cifar_folder(tmp_path / "cifar"))
    full = load_dataset(folder, cache_dir=cache)
    a = load_dataset(folder, cache_dir=cache, train_limit=12, test_limit=6, seed=3)
    b = load_dataset(folder, cache_dir=cache, train_limit=12, test_limit=6, seed=3)
    c = load_dataset(folder, cache_dir=cache, train_limit=12, test_limit=6, seed=4)
    assert np.bincount(a.y_train).tolist() == [4, 4, 4]
    assert np.bincount(a.y_test).tolist() == [2, 2, 2]
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    # Images still match their labels after subsetting.
    assert (a.x_train[:, 0, 0, 0] == a.y_train * 80).all()
    assert a.x_train.flags.c_contiguous and a.x_train.dtype == np.uint8
    # A class short of its share gives the rest to the others (gamma has only 10).
    assert np.bincount(load_dataset(folder, cache_dir=cache, train_limit=40).y_train).tolist() == [15, 15, 10]
    # Fewer than the classes: distinct classes, one each.
    tiny = load_dataset(folder, cache_dir=cache, train_limit=2)
    assert len(tiny.y_train) == 2 and len(set(tiny.y_train.tolist())) == 2
    # Exactly one per class when the limit equals the class count.
    assert sorted(load_dataset(folder, cache_dir=cache, train_limit=3).y_train.tolist()) == [0, 1, 2]
    # A limit above the split's size returns the whole split.
    big = load_dataset(folder, cache_dir=cache, train_limit=10_000, test_limit=10_000)
    assert np.array_equal(big.x_train, full.x_train) and len(big.y_test) == 9


@pytest.mark.parametrize("bad", [0, -5, True, 2.5, "10"])
def test_bad_limits(bad: object) -> None:
    with pytest.raises(ConfigError) as exc:
        load_dataset("sample", train_limit=bad)  # type: ignore[arg-type]
    assert "train_limit" in one_line(exc)


# --------------------------------------------------------------------------- cache


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
    from kvt_models.data import CACHE_ENTRIES_KEPT

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
    (root / "train" / "red" / "extra.png").write_bytes(_png(Image.new("RGB", (32, 32), (250, 0, 0))))
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


# --------------------------------------------------------------------------- sample, specs, cifar10


def test_bundled_sample(cache: Path) -> None:
    assert SAMPLE_PATH.is_file() and SAMPLE_PATH.stat().st_size <= 6 * 1024 * 1024
    ds = load_dataset("sample", cache_dir=cache)
    check_dataset(ds, 5000, 1000, 10)
    assert ds.class_names == kdata.CIFAR10_CLASSES
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
        "from kvt_models.data import load_dataset\n"
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


# --------------------------------------------------------------------------- the real thing


@pytest.mark.slow
def test_full_shared_archive_twice(tmp_path: Path) -> None:
    if not FULL_ARCHIVE.is_file():
        pytest.skip(f"{FULL_ARCHIVE} not present")
    start = time.perf_counter()
    ds = load_dataset(str(FULL_ARCHIVE), cache_dir=tmp_path)
    first = time.perf_counter() - start
    check_dataset(ds, 50_000, 10_000, 10)
    assert ds.class_names == kdata.CIFAR10_CLASSES
    start = time.perf_counter()
    progress = Recorder()
    again = load_dataset(str(FULL_ARCHIVE), cache_dir=tmp_path, progress=progress)
    second = time.perf_counter() - start
    print(f"full archive: first load {first:.1f} s, second load {second:.2f} s")
    assert progress.messages == ["loaded from cache"]
    assert second < 10
    assert np.array_equal(ds.y_test, again.y_test)
