"""RunConfig: everything that defines a training run, and its validation.

The same parsers serve the CLI's flags and the app's text inputs, so a bad
value gets the same one-line message wherever it was typed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import ConfigError
from .recipes import RECIPES, get_recipe

FRAMEWORKS: dict[str, str] = {
    "keras": "Keras 3 (import keras; keras layers and ops only)",
    "tensorflow": "tf.keras + raw TensorFlow ops (tf.nn.*) inside registered layers",
}
ACTIVATIONS: tuple[str, ...] = ("relu", "crelu", "elu", "gelu", "swish")

# Presets named after the two programs of the 2018 post.
PRESETS: dict[str, tuple[str, str]] = {
    "keras": ("keras", "relu"),  # minivggnet_keras.py
    "tensorflow": ("tensorflow", "crelu"),  # minivggnet_tf.py
}

MAX_EPOCHS = 10_000
MAX_BATCH = 65_536


@dataclass(frozen=True)
class RunConfig:
    framework: str = "keras"
    activation: str = "relu"
    data: str = "cifar10"
    recipe: str = "seed-2018"
    epochs: int | None = None  # None: the recipe's
    batch_size: int | None = None  # None: the recipe's
    lr: float | None = None  # None: the recipe's
    seed: int | None = None  # None: a random seed, recorded in config.json
    train_limit: int | None = None
    test_limit: int | None = None

    def resolved(self) -> "RunConfig":
        """Fill the recipe's defaults and a seed, then validate."""
        recipe = get_recipe(self.recipe)
        seed = self.seed
        if seed is None:
            import secrets

            seed = secrets.randbelow(2**31 - 1)
        cfg = replace(
            self,
            epochs=self.epochs if self.epochs is not None else recipe.epochs,
            batch_size=self.batch_size if self.batch_size is not None else recipe.batch_size,
            lr=self.lr if self.lr is not None else recipe.lr,
            seed=seed,
            data=normalize_data_spec(self.data),
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise ConfigError(
                f"unknown framework {self.framework!r}: choose keras or tensorflow"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}"
            )
        if self.recipe not in RECIPES:
            raise ConfigError(
                f"unknown recipe {self.recipe!r}: choose one of {', '.join(RECIPES)}"
            )
        if not isinstance(self.data, str) or not self.data.strip():
            raise ConfigError("no dataset given: use cifar10, sample, or a path")
        check_int("epochs", self.epochs, 1, MAX_EPOCHS, optional=True)
        check_int("batch size", self.batch_size, 1, MAX_BATCH, optional=True)
        check_int("train limit", self.train_limit, 1, None, optional=True)
        check_int("test limit", self.test_limit, 1, None, optional=True)
        check_int("seed", self.seed, 0, 2**32 - 1, optional=True)
        if self.lr is not None:
            check_lr(self.lr)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        """Build from a config.json dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def normalize_data_spec(spec: str) -> str:
    """Make a local path absolute, so a run can be resumed or reused from any folder."""
    if not isinstance(spec, str) or spec in ("cifar10", "sample") or not spec.strip():
        return spec
    import os

    return os.path.abspath(os.path.expanduser(spec))


def check_int(name: str, value: Any, low: int, high: int | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {bound}, got {value}")


def check_lr(value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"learning rate must be a finite number, got {value!r}")
    if not 0 < value <= 10:
        raise ConfigError(f"learning rate must be above 0 and at most 10, got {value}")


def parse_int(name: str, text: str, low: int, high: int | None = None) -> int:
    """Parse a user-typed whole number; raise ConfigError with a one-line message."""
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
    check_int(name, value, low, high)
    return value


def parse_optional_int(name: str, text: str, low: int, high: int | None = None) -> int | None:
    """Like parse_int, but an empty text means "not set"."""
    return None if not text.strip() else parse_int(name, text, low, high)


def parse_lr(text: str) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"learning rate must be a number such as 0.01, got {text!r}") from None
    check_lr(value)
    return value
