"""Build the bundled CIFAR-10 sample, ``kvt_models/sample/cifar10-sample.tar.gz``.

The sample lets kvt train and test with no download: 500 training and 100 test
images per class (6,000 in all), picked from the shared JPEG archive of
CIFAR-10 with a fixed seed, class by class. The original JPEG bytes are copied
as they are (no re-encoding), into ``train/<class>/NNNN.jpg`` and
``test/<class>/NNNN.jpg``.

The output is byte-for-byte reproducible: members are written in sorted order
with a fixed mtime, uid/gid 0 and empty owner names, and the gzip header
carries no timestamp or file name. Running it twice gives the same sha256.

Usage, from the project root::

    .venv/bin/python scripts/build_sample.py \\
        [--source ../shared/data/cifar10-jpeg.tar.gz] \\
        [--out kvt_models/sample/cifar10-sample.tar.gz] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
import tarfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
DEFAULT_OUT = ROOT / "kvt_models" / "sample" / "cifar10-sample.tar.gz"
PER_CLASS = {"train": 500, "test": 100}
# 2009-04-08, the CIFAR-10 tech report: any fixed value works, 0 makes some tools warn.
FIXED_MTIME = 1239148800


def read_source(source: Path) -> dict[tuple[str, str], dict[str, bytes]]:
    """Map (split, class) -> {file name: JPEG bytes} for every train/test image in the archive."""
    groups: dict[tuple[str, str], dict[str, bytes]] = {}
    with tarfile.open(source, "r:*") as archive:
        for member in archive:
            # Same rule as kvt_models.data.archive: the official data filter vets every member.
            member = tarfile.data_filter(member, str(ROOT / "never-created"))
            parts = [p for p in member.name.split("/") if p not in ("", ".")]
            if not member.isfile() or len(parts) < 3 or parts[-3] not in PER_CLASS:
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                groups.setdefault((parts[-3], parts[-2]), {})[parts[-1]] = handle.read()
    return groups


def select(groups: dict[tuple[str, str], dict[str, bytes]], seed: int) -> list[tuple[str, bytes]]:
    """Pick PER_CLASS images of each (split, class), seeded; return (member name, bytes) sorted."""
    classes = sorted({cls for _, cls in groups})
    picked: list[tuple[str, bytes]] = []
    for split_index, split in enumerate(("train", "test")):
        for class_index, cls in enumerate(classes):
            files = groups.get((split, cls), {})
            wanted = PER_CLASS[split]
            if len(files) < wanted:
                raise SystemExit(f"{split}/{cls} has {len(files)} images, fewer than the {wanted} wanted")
            names = sorted(files)
            # One stream per (split, class): adding a class never changes another's picks.
            rng = np.random.default_rng([seed, split_index, class_index])
            for i in sorted(rng.choice(len(names), size=wanted, replace=False)):
                picked.append((f"{split}/{cls}/{names[i]}", files[names[i]]))
    return sorted(picked)


def _info(name: str, *, is_dir: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.size = size
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_archive(out: Path, members: list[tuple[str, bytes]]) -> None:
    """Write a reproducible .tar.gz atomically (temp file, then rename)."""
    folders = sorted({"/".join(name.split("/")[:i]) for name, _ in members for i in (1, 2)})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as raw:
        # GzipFile directly: tarfile's "w:gz" would stamp the current time and file name.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for folder in folders:
                    archive.addfile(_info(folder, is_dir=True))
                for name, data in members:
                    archive.addfile(_info(name, is_dir=False, size=len(data)), io.BytesIO(data))
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the full CIFAR-10 JPEG .tar.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the sample")
    parser.add_argument("--seed", type=int, default=0, help="selection seed (default 0)")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"error: {args.source} not found; pass --source PATH to cifar10-jpeg.tar.gz", file=sys.stderr)
        return 2
    members = select(read_source(args.source), args.seed)
    write_archive(args.out, members)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out}: {len(members)} images, {args.out.stat().st_size:,} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
