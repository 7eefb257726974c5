"""The dataset spec, read once: ``cifar10`` and ``sample`` in any case and spelling, anything else a path.

The ``--data`` option (:mod:`kvt_models.settings.options`), the data loader
and the cluster's data shipping all read a spec with :func:`read_dataset_spec`,
and say what is wrong with one in the same words. Standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

from kvt_models.errors import ConfigError

DATASET_NAMES: tuple[str, ...] = ("cifar10", "sample")
DATA_ALTERNATIVES = "choose cifar10, sample, or the path of an existing folder or .tar.gz"


def dataset_name(spec: str) -> str | None:
    """``cifar10`` or ``sample`` when ``spec`` names a built-in dataset, else None (a path).

    Names are read ignoring case, ``-``, ``_`` and spaces: ``CIFAR-10``,
    ``cifar_10`` and ``Cifar10`` all mean cifar10. A local folder of that name
    is reached as ``./sample``.
    """
    key = "".join(spec.split()).lower().replace("-", "").replace("_", "")
    return key if key in DATASET_NAMES else None


def read_dataset_spec(spec: str) -> tuple[str, Path | None]:
    """What a ``--data`` value means: ``(name, None)`` for a built-in dataset, ``("path", absolute path)``.

    The one reader of a dataset spec: the ``--data`` option and the data
    loader both call it. It checks nothing on disk.
    """
    text = spec.strip()
    if not text:
        raise ConfigError(no_dataset_message())
    name = dataset_name(text)
    if name is not None:
        return name, None
    # Absolute, so a run's config.json can be resumed or reused from any folder.
    return "path", Path(os.path.abspath(os.path.expanduser(text)))


def no_dataset_message(name: str = "dataset") -> str:
    return f"no {name} given: {DATA_ALTERNATIVES}"


def missing_dataset_message(path: Path, name: str = "dataset") -> str:
    return f"{name} {path} does not exist: {DATA_ALTERNATIVES}"
