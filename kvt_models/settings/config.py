"""RunConfig: everything that defines a training run, and its validation.

Each field's rule (its range or choices, and how typed text becomes a
value) is declared once, in :mod:`kvt_models.settings.options`; validation here, the
CLI's flags and the app's form all go through it, so a bad value gets the
same one-line message wherever it was typed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from kvt_models.settings.options import (
    ACTIVATION,
    BACKEND,
    DATA,
    FRAMEWORK,
    PRECISION,
    RECIPE,
    RUN_OPTIONS,
)
from kvt_models.settings.precision import LEGACY as LEGACY_PRECISION
from kvt_models.settings.recipes import get_recipe
from kvt_models.variants import check_runs_on

# RunConfig's fields that say what a run records, not how it trains: left out of a comparison's settings
# and of the settings that differ between runs.
RECORDING_KEYS = ("tensorboard",)


@dataclass(frozen=True)
class RunConfig:
    framework: str = FRAMEWORK.default
    activation: str = ACTIVATION.default
    backend: str = BACKEND.default  # the runtime: kvt_models.backend.runtime
    data: str = DATA.default
    recipe: str = RECIPE.default
    epochs: int | None = None  # None: the recipe's
    batch_size: int | None = None  # None: the recipe's
    lr: float | None = None  # None: the recipe's
    seed: int | None = None  # None: a random seed, recorded in config.json
    train_limit: int | None = None
    test_limit: int | None = None
    # "auto" stays "auto" here: the process that trains the run picks float32 or bfloat16 for its own CPU
    # (kvt_models.settings.precision) and config.json records the choice.
    precision: str = PRECISION.default
    # Whether the run also writes TensorBoard event files (kvt_models.train.tensorboard). What is
    # recorded, not how it trains: not a setting a comparison matches or lists (RECORDING_KEYS).
    tensorboard: bool = True

    def resolved(self) -> "RunConfig":
        """Validate, put each value in its canonical form, fill the recipe's defaults and a seed.

        ``precision="auto"`` is left as it is: it depends on the CPU that
        trains, which may not be this one (a Ray worker). Canonical:
        ``"Sample"`` becomes ``"sample"``, a dataset path becomes absolute (so
        the run can be resumed or reused from any folder).
        """
        cfg = replace(self, **self._checked())
        recipe = get_recipe(cfg.recipe)
        seed = cfg.seed
        if seed is None:
            import secrets  # deferred: hashlib & co., which the app's first frame does not need

            seed = secrets.randbelow(2**31 - 1)
        return replace(
            cfg,
            epochs=cfg.epochs if cfg.epochs is not None else recipe.epochs,
            batch_size=cfg.batch_size if cfg.batch_size is not None else recipe.batch_size,
            lr=cfg.lr if cfg.lr is not None else recipe.lr,
            seed=seed,
        )

    def validate(self) -> None:
        """Raise ConfigError (one line) for the first field its option refuses."""
        self._checked()

    def _checked(self) -> dict[str, Any]:
        values = {key: option.check(getattr(self, key)) for key, option in RUN_OPTIONS.items()}
        check_runs_on(values["framework"], values["backend"])
        return values

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        """Build from a config.json dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        # Runs made before the precision setting trained in float32, whatever "auto" means now.
        return cls(**{"precision": LEGACY_PRECISION, **{k: v for k, v in data.items() if k in known}})

