"""Try one lever of the fast recipe: one kvt-train run with the recipe changed in this process only.

    python bench/recipe_levers.py --name ema99 --set ema=0.99 -- --data ../shared/data/cifar10-jpeg.tar.gz --seed 1

``--set field=value`` changes a field of the ``fast`` recipe (any field of
:class:`kvt_models.settings.recipes.Recipe`, and the levers below that the
product does not have); everything after ``--`` goes to ``kvt-train`` as
typed, which runs in this process with the changed recipe. The last line is
one JSON object: the lever, the seed, each epoch's val_accuracy and seconds,
the report's accuracy (with the recipe's test-time augmentation), and the
run folder. docs/recipes.md has the tables these runs made.

Levers beyond the recipe's fields (``--set``):

- ``ema=M``: an EMA of the weights (Keras's ``use_ema``, momentum M), written
  over the weights at each epoch's last step, so each epoch is scored (and
  saved) with it.
- ``bias_lr=K``: the batch-norm offsets (``beta``) step at K times the learning
  rate (airbench's and David Page's higher rate for batch-norm biases), by an
  SGD whose ``update_step`` scales the rate for those variables; Keras 3 only.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from kvt_models.settings import recipes

EXTRA = {"ema": float, "bias_lr": float}


def parse_value(text: str, kind: Any) -> Any:
    if kind is bool or kind == "bool":
        return text.lower() in ("1", "true", "yes", "on")
    if kind in (float, "float", "float | None"):
        return None if text == "none" else float(text)
    if kind in (int, "int"):
        return int(text)
    return text


def lever_recipe(settings: dict[str, str]) -> recipes.Recipe:
    base = recipes.RECIPES["fast"]
    fields = {f.name: f.type for f in dataclasses.fields(base)}
    known = {k: parse_value(v, fields[k]) for k, v in settings.items() if k in fields}
    extra = {k: parse_value(v, EXTRA[k]) for k, v in settings.items() if k in EXTRA}
    unknown = set(settings) - set(fields) - set(EXTRA)
    if unknown:
        raise SystemExit(f"unknown lever(s): {', '.join(sorted(unknown))}")
    recipe = dataclasses.replace(base, **known)
    if not extra:
        return recipe

    def make_optimizer(self: recipes.Recipe, keras: Any, lr: float, epochs: int, steps_per_epoch: int) -> Any:
        schedule = self.schedule(keras, lr, max(1, epochs * steps_per_epoch))
        kwargs: dict[str, Any] = {"global_clipnorm": self.global_clipnorm}
        if extra.get("ema"):
            # Overwritten at the last step of every epoch: the epoch's score and checkpoint are the EMA's.
            kwargs.update(use_ema=True, ema_momentum=extra["ema"], ema_overwrite_frequency=steps_per_epoch)
        sgd = keras.optimizers.SGD
        if extra.get("bias_lr"):
            scale = extra["bias_lr"]

            class BiasRateSGD(keras.optimizers.SGD):  # type: ignore[name-defined,misc]
                def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> Any:
                    # On TensorFlow this is the tf.Variable itself: "model/batch_normalization/beta:0"
                    if variable.name.split("/")[-1].split(":")[0] == "beta":
                        learning_rate = learning_rate * scale
                    return super().update_step(gradient, variable, learning_rate)

            sgd = BiasRateSGD
        optimizer = sgd(learning_rate=schedule, momentum=0.9, nesterov=True,
                        weight_decay=self.weight_decay, **kwargs)
        self.prepare_optimizer(optimizer)
        return optimizer

    cls = type("LeverRecipe", (type(recipe),), {"make_optimizer": make_optimizer})
    return cls(**{f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe)})


def main() -> int:
    argv = sys.argv[1:]
    ours, theirs = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--runs-dir", default="runs-levers")
    args = ap.parse_args(ours)
    if "--runs-dir" in theirs:  # kvt-train would write elsewhere, and this script would not find the run
        ap.error("--runs-dir goes before the --: the lever's runs are kept in RUNS_DIR/NAME")
    settings = dict(s.split("=", 1) for s in args.set)
    recipes.RECIPES["fast"] = lever_recipe(settings)
    runs_dir = Path(args.runs_dir) / args.name
    runs_dir.mkdir(parents=True, exist_ok=True)

    from kvt_models.cli.main import main as kvt_train

    start = time.perf_counter()
    code = kvt_train(["--recipe", "fast", "--runs-dir", str(runs_dir), *theirs])
    wall = time.perf_counter() - start
    run = max(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    with open(run / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    report = json.loads((run / "report.json").read_text())
    seed = theirs[theirs.index("--seed") + 1] if "--seed" in theirs else "1"
    print(json.dumps({
        "lever": args.name, "set": settings, "seed": int(seed), "code": code,
        "val_accuracy": [round(100 * float(r["val_accuracy"]), 2) for r in rows],
        "accuracy": [round(100 * float(r["accuracy"]), 2) for r in rows],
        "epoch_seconds": [round(float(r["seconds"]), 1) for r in rows if "seconds" in r],
        "report": round(100 * report["report"]["accuracy"], 2), "wall_s": round(wall, 1), "run": str(run),
    }))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
