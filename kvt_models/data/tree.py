"""The files and folders of a dataset root, whether a folder on disk or an archive.

Layouts are recognised, and images decoded, from a :class:`Tree`, so one code
path serves both kinds of source: :func:`scan_folder` lists a folder here,
``archive.py`` reads a tar archive into the same shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kvt_models.errors import DataError

# [top/]train/<class>/<file> is the deepest path any accepted layout uses.
MAX_DEPTH = 4
# Names that archivers and desktops add next to a dataset; never a class or a top folder.
_IGNORED_NAMES = {"__MACOSX"}


@dataclass
class Tree:
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
            if d.startswith(prefix) and "/" not in d[len(prefix):] and not ignored(d[len(prefix):])
        )

    def child_files(self, parent: str) -> list[str]:
        if self._by_parent is None:
            # One pass over all files instead of one per class folder.
            self._by_parent = {}
            for rel in self.files:
                self._by_parent.setdefault(rel.rpartition("/")[0], []).append(rel)
        return sorted(self._by_parent.get(parent, []))


def ignored(name: str) -> bool:
    # Hidden folders (.ipynb_checkpoints, .git) and __MACOSX are never classes or roots.
    return name.startswith(".") or name in _IGNORED_NAMES


def scan_folder(root: Path) -> Tree:
    """List files and folders under ``root`` down to the depth a layout can use."""
    tree = Tree(label=str(root))
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
                        if depth < MAX_DEPTH:
                            stack.append((entry.path, rel + "/", depth + 1))
                    elif entry.is_file():
                        tree.files[rel] = entry.path
        except OSError as exc:
            raise DataError(f"cannot list folder {folder}: {exc.strerror or exc}; check its permissions") from exc
    return tree
