"""Turning a layout's files into arrays: CIFAR batches and image files become 32x32 RGB uint8.

:func:`decode` gives the arrays the cache stores (``x_train``, ``y_train``,
``x_test``, ``y_test``, ``class_names``). CIFAR batches are checked for the
shapes and label ranges a batch must have (their pickles are opened by
``cifar_pickle.py``); image files of any size and mode go through Pillow,
and one that will not decode is skipped and counted, not fatal. Pillow is
imported inside the functions that decode images, so importing the package
does not load it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from kvt_models.data.cifar_pickle import unpickle_batch
from kvt_models.data.dataset import IMAGE_SIZE, Progress
from kvt_models.data.layouts import Layout
from kvt_models.data.tree import Tree
from kvt_models.errors import DataError


def decode(tree: Tree, layout: Layout, say: Progress) -> dict[str, np.ndarray]:
    if layout.kind == "cifar":
        return _decode_cifar(tree, layout, say)
    return _decode_images(tree, layout, say)


# --------------------------------------------------------------------------- CIFAR python batches


def _read_cifar_batch(tree: Tree, rel: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    where = f"{tree.label}: {rel}"
    batch = unpickle_batch(tree.read(rel), where)
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


def _decode_cifar(tree: Tree, layout: Layout, say: Progress) -> dict[str, np.ndarray]:
    meta = unpickle_batch(tree.read(layout.meta), f"{tree.label}: {layout.meta}")
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


# --------------------------------------------------------------------------- image files


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


def _decode_images(tree: Tree, layout: Layout, say: Progress) -> dict[str, np.ndarray]:
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
