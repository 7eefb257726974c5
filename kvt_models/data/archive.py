"""Reading a dataset's tar archive into memory, refusing unsafe ones. Security code.

An archive is a user's file, so it is data, never a set of instructions:

- Every member goes through ``tarfile``'s ``data`` filter (the rules of
  ``extractall(filter="data")``), and one unsafe member (``../`` paths,
  absolute paths, links pointing out, devices) rejects the whole archive,
  with a message naming the member and the rule it broke.
- Nothing is written to disk: members are read straight from the stream.
  Extracting 60,000 small files to a temporary folder costs several times
  more than reading them from the stream (docs/data.md).
- Only members that some layout could use are kept in memory
  (:func:`kvt_models.data.layouts.wanted_member`).
"""

from __future__ import annotations

import lzma
import os
import tarfile
import tempfile
import zlib
from pathlib import Path

from kvt_models.data.dataset import Progress
from kvt_models.data.layouts import LAYOUTS, wanted_member
from kvt_models.data.messages import human_size
from kvt_models.data.tree import Tree
from kvt_models.errors import DataError, one_line

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def read_archive(path: Path, say: Progress) -> Tree:
    """Read the useful members of a tar archive into memory, refusing unsafe ones."""
    if not hasattr(tarfile, "data_filter"):
        raise DataError(
            f"cannot read {path} safely: this Python lacks tarfile's data filter; use Python 3.11.4 or newer, "
            "or extract the archive yourself and give the folder"
        )
    say(f"reading {path.name} ({human_size(path.stat().st_size)})")
    tree = Tree(label=str(path))
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
                elif member.isfile() and wanted_member(parts):
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
        if not path.name.lower().endswith(ARCHIVE_SUFFIXES):
            raise DataError(f"{path} is a file, not a folder or a .tar/.tar.gz archive: {LAYOUTS}") from exc
        # tarfile's own text lists every compression it tried; say it plainly instead.
        reason = "it is not a tar archive" if "opened successfully" in str(exc) else one_line(exc)
        raise DataError(
            f"could not read archive {path}: {reason}; check that it is a complete .tar or .tar.gz "
            "(download or create it again)"
        ) from exc
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise DataError(
            f"could not read archive {path}: {one_line(exc)}; check that it is a complete .tar or .tar.gz "
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
    return one_line(exc)
