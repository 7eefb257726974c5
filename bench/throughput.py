"""Throughput of kvt's training path against bare ``model.fit(verbose=0)``.

Same data, same model, same recipe, one process. kvt's path is
``kvt_models.train.training.train`` with a listener that does what a front end
does with each event (keep it); the bare path builds the identical compiled
model and calls ``model.fit(verbose=0)`` on the identical tf.data pipeline.
Runs alternate (bare, kvt, bare, kvt, ...) so drift on a noisy machine hits
both. Only the time inside ``fit`` counts; the first pair is a warm-up.

    python bench/throughput.py --data ../shared/data/cifar10-jpeg.tar.gz --train-limit 10000 --epochs 2

Prints img/s for both and their ratio (kvt / bare); the target is >= 0.97.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from kvt_models.data.loader import load_dataset
from kvt_models.settings.config import RunConfig
from kvt_models.settings.recipes import get_recipe
from kvt_models.train.pipeline import make_dataset
from kvt_models.train.training import build_compiled_model, train


def bare_fit(cfg: RunConfig) -> float:
    """img/s of plain model.fit on the same data and model as kvt's path."""
    from kvt_models.backend import runtime
    keras = runtime.activate(cfg.backend)
    keras.backend.clear_session()
    runtime.seed_everything(cfg.seed)
    data = load_dataset(cfg.data, train_limit=cfg.train_limit, test_limit=cfg.test_limit, seed=cfg.seed)
    steps = -(-len(data.x_train) // cfg.batch_size)
    model = build_compiled_model(cfg, data.num_classes, steps)
    recipe = get_recipe(cfg.recipe)
    train_ds = make_dataset(data.x_train, data.y_train, cfg.batch_size, num_classes=data.num_classes,
                            shuffle=True, augment=recipe.augment, seed=cfg.seed)
    test_ds = make_dataset(data.x_test, data.y_test, cfg.batch_size, num_classes=data.num_classes)
    start = time.perf_counter()
    model.fit(train_ds, validation_data=test_ds, epochs=cfg.epochs, verbose=0, shuffle=False)
    return cfg.epochs * len(data.x_train) / (time.perf_counter() - start)


def kvt_fit(cfg: RunConfig, runs_dir: str) -> float:
    events = []
    result = train(cfg, events.append, runs_dir=runs_dir)
    return result.images_trained / result.fit_seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="sample")
    p.add_argument("--framework", default="keras")
    p.add_argument("--activation", default="relu")
    p.add_argument("--recipe", default="seed-2018")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-limit", type=int)
    p.add_argument("--test-limit", type=int, default=1000)
    p.add_argument("--pairs", type=int, default=3, help="measured (bare, kvt) pairs after one warm-up pair")
    args = p.parse_args()
    cfg = RunConfig(framework=args.framework, activation=args.activation, data=args.data, recipe=args.recipe,
                    epochs=args.epochs, seed=1, train_limit=args.train_limit, test_limit=args.test_limit).resolved()
    bare, kvt = [], []
    with tempfile.TemporaryDirectory() as runs_dir:
        for i in range(args.pairs + 1):
            b, k = bare_fit(cfg), kvt_fit(cfg, runs_dir)
            label = "warm-up" if i == 0 else f"pair {i}"
            print(f"{label:8} bare {b:7.1f} img/s   kvt {k:7.1f} img/s   ratio {k / b:.3f}", flush=True)
            if i:
                bare.append(b)
                kvt.append(k)
    ratios = [k / b for k, b in zip(kvt, bare)]
    print(f"{cfg.framework}+{cfg.activation} on {args.data}: bare {statistics.median(bare):.1f} img/s, "
          f"kvt {statistics.median(kvt):.1f} img/s, ratio kvt/bare = {statistics.median(ratios):.3f} "
          f"(median of {len(ratios)}; target >= 0.97)")


if __name__ == "__main__":
    main()
