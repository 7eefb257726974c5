"""Train and test limits (kvt_models/data/subsets.py): class-balanced, the same for the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datafactory import make_cifar_folder, one_line

from kvt_models.data.loader import load_dataset
from kvt_models.errors import ConfigError


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
