"""Builders for the data tests: tiny CIFAR batches, image folders in many Pillow modes, tar archives.

Everything is generated in a test's ``tmp_path``, so the fast data tests never
need the network or ``/work/shared``. A helper module, not a test file: the
data tests and ``test_hostile.py`` import these builders from here.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kvt_models.data.dataset import Dataset

# A tiny CIFAR: 3 classes, deliberately unbalanced, 5 train batches of 12 and a test batch of 9.
CIFAR_NAMES = [b"alpha", b"beta", b"gamma"]
TRAIN_LABELS = [0] * 30 + [1] * 20 + [2] * 10
TEST_LABELS = [0, 1, 2] * 3


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


def image_bytes(image: Image.Image, **kwargs: object) -> bytes:
    """``image`` encoded as a file would hold it: PNG, or ``format=...`` with that format's options."""
    buf = io.BytesIO()
    image.save(buf, format=kwargs.pop("format", "PNG"), **kwargs)
    return buf.getvalue()


def _palette_red(size: tuple[int, int]) -> Image.Image:
    im = Image.new("P", size, 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    return im


def red_images() -> dict[str, bytes]:
    return {
        "rgb.png": image_bytes(Image.new("RGB", (32, 32), (255, 0, 0))),
        "rgba.png": image_bytes(Image.new("RGBA", (32, 32), (255, 0, 0, 255))),
        "palette.png": image_bytes(_palette_red((32, 32))),
        "palette_transparent.png": image_bytes(_palette_red((20, 20)), transparency=bytes([0] + [255] * 255)),
        "tall_7x50.png": image_bytes(Image.new("RGB", (7, 50), (255, 0, 0))),
        "big.jpg": image_bytes(Image.new("RGB", (300, 200), (255, 0, 0)), format="JPEG", quality=95),
        "small.bmp": image_bytes(Image.new("RGB", (16, 16), (255, 0, 0)), format="BMP"),
        "anim.gif": image_bytes(_palette_red((40, 40)), format="GIF"),
    }


def gray_images() -> dict[str, bytes]:
    return {
        "l.png": image_bytes(Image.new("L", (32, 32), 128)),
        "la.png": image_bytes(Image.new("LA", (10, 30), (128, 255))),
        "sixteen_bit.png": image_bytes(Image.fromarray(np.full((32, 32), 128 * 257, dtype=np.uint16))),
        "gray.jpg": image_bytes(Image.new("L", (64, 64), 128), format="JPEG", quality=95),
    }


def blue_images() -> dict[str, bytes]:
    # PIL maps CMYK to RGB as (255 - C, 255 - M, 255 - Y): this is pure blue.
    return {
        "cmyk.jpg": image_bytes(Image.new("CMYK", (40, 40), (255, 255, 0, 0)), format="JPEG", quality=95),
        "rgb.webp": image_bytes(Image.new("RGB", (32, 32), (0, 0, 255)), format="WEBP", lossless=True),
        "rgb.png": image_bytes(Image.new("RGB", (33, 31), (0, 0, 255))),
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
    """The error's message, which must be a single line (how every DataError reaches users)."""
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


def check_dataset(ds: Dataset, n_train: int, n_test: int, n_classes: int) -> None:
    """Sizes, shapes, dtypes and label range of a loaded dataset."""
    for x, y, n in ((ds.x_train, ds.y_train, n_train), (ds.x_test, ds.y_test, n_test)):
        assert x.shape == (n, 32, 32, 3) and x.dtype == np.uint8 and x.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64
        assert y.min() >= 0 and y.max() < n_classes
    assert ds.num_classes == n_classes == len(ds.class_names)
