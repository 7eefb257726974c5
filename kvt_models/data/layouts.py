"""Which dataset layout a folder or archive holds, and which of its files are train and test.

Three layouts, each possibly inside a single top folder:

- the CIFAR-10 python batches (``data_batch_1..5``, ``test_batch``,
  ``batches.meta``), also inside ``cifar-10-batches-py/``;
- an image folder, ``train/<class>/*`` and ``test/<class>/*`` (or ``val/``,
  ``validation/``, ``valid/`` for ``test/``);
- a folder of class folders with no split, ``<class>/*``: a fixed
  :data:`HOLDOUT_FRACTION` of each class becomes the test set.

:func:`find_layout` works on a :class:`~kvt_models.data.tree.Tree`, so folders
and archives are told apart by the same rules, and every way a tree can fail
to be a dataset gets its own one-line :class:`DataError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from kvt_models.data.dataset import Progress, quiet
from kvt_models.data.tree import MAX_DEPTH, Tree, ignored
from kvt_models.errors import DataError

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_MARKERS = ("data_batch_1", "test_batch", "batches.meta")
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
# The end of every "this is no dataset" message: what kvt would have accepted.
LAYOUTS = (
    "expected a CIFAR-10 python folder (data_batch_1..5, test_batch, batches.meta), "
    "an image folder (train/<class>/*.jpg and test/<class>/*.jpg, or val/ for test/), "
    f"a folder of class folders (<class>/*.jpg; {HOLDOUT_FRACTION:.0%} of each class is held out as the test set), "
    "or a .tar.gz of any of these"
)


@dataclass
class Layout:
    """A dataset found in a tree: its kind, its root inside the tree, and which files are train and test."""

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


def wanted_member(parts: list[str]) -> bool:
    """Could this archive member be part of a layout? Others are not kept in memory."""
    if len(parts) > MAX_DEPTH:
        return False
    if parts[-1] in CIFAR_MARKERS or parts[-1].startswith("data_batch_"):
        return True
    if len(parts) >= 3 and parts[-3] in _SPLIT_NAMES:
        return True
    # [top/]<class>/<image>: a folder of class folders with no split.
    return len(parts) in (2, 3) and _is_image_name(parts[-1])


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _join(root: str, name: str) -> str:
    return f"{root}/{name}" if root else name


def find_layout(tree: Tree, say: Progress = quiet) -> Layout:
    if not tree.files and not tree.dirs:
        raise DataError(f"{tree.label} is empty: {LAYOUTS}")
    roots = [""]
    top = {rel.split("/", 1)[0] for rel in list(tree.files) + list(tree.dirs)}
    top = {name for name in top if not ignored(name)}
    if len(top) == 1 and next(iter(top)) in tree.dirs:
        roots.append(next(iter(top)))
    for root in roots:
        for candidate in (root, _join(root, CIFAR_DIR)):
            if any(_join(candidate, name) in tree.files for name in CIFAR_MARKERS):
                return _cifar_layout(tree, candidate)
        for split in _SPLIT_NAMES:
            if _join(root, split) in tree.files:
                raise DataError(
                    f"{tree.label}: {_join(root, split)} is a file, but it must be a folder of class folders; {LAYOUTS}"
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
    raise DataError(f"{tree.label} is no dataset layout kvt knows: {LAYOUTS}")


def _image_files(tree: Tree, folder: str) -> list[str]:
    return [rel for rel in tree.child_files(folder) if _is_image_name(rel)]


def _cifar_layout(tree: Tree, root: str) -> Layout:
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
    return Layout(
        kind="cifar",
        root=root,
        train=[(batches[i], -1) for i in sorted(batches)],
        test=[(_join(root, "test_batch"), -1)],
        meta=_join(root, "batches.meta"),
    )


def _image_layout(tree: Tree, root: str) -> Layout:
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
    layout = Layout(kind="images", root=root, classes=names, split_labels=labels)
    for split, entries in (("train", layout.train), ("test", layout.test)):
        for label, name in enumerate(names):
            class_dir = _join(split_dirs[split], name)
            files = tree.child_files(class_dir)
            if not files:
                raise DataError(f"{tree.label}: class folder {class_dir}/ is empty; add images or remove it")
            entries.extend((rel, label) for rel in files)
    return layout


def _holdout_layout(tree: Tree, root: str, images: dict[str, list[str]]) -> Layout:
    """<class>/* with no split: hold out :data:`HOLDOUT_FRACTION` of each class as the test set.

    ``images``: each class folder's image files, sorted. The pick is fixed
    (seed 0 over the sorted file names), not the run's seed: every run on this
    folder, whatever its seed, is scored on the same images.
    """
    layout = Layout(
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
