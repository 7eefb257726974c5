"""Named training recipes: the optimizer, schedule and defaults of a run.

``seed-2018`` is the exact setup of the 2018 "Keras vs. TensorFlow" post,
translated to Keras 3: the old ``SGD(lr=0.01, decay=0.01/30)`` is now an
``InverseTimeDecay`` schedule stepped every batch, because Keras 3 rejects
(or silently ignores) the ``decay`` argument.

``fast`` is kvt's own: SGD with Nesterov momentum at batch 32, a warm-up
over a fifth of the run's *steps* then a linear decay to zero (so it behaves
on 2,000 images as on 50,000), batch-norm momentum 0.9, the first conv started as the
whitening of the training patches (:mod:`kvt_models.model.whitening`), weight
decay on the kernels only, gradients clipped to a global norm of 2, random
flips in training and flip test-time augmentation in the final report; 4
epochs. docs/recipes.md has the runs behind each choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kvt_models.errors import ConfigError


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    epochs: int
    batch_size: int
    lr: float
    augment: bool = False
    label_smoothing: float = 0.0
    shift: int = 4  # augmentation: the largest shift, in pixels (with a random flip)
    weight_decay: float = 5e-4
    tta_flip: bool = False  # the final test report averages each image's and its mirror's predictions
    # fast: the warm-up's share of the run's steps, and its floor in steps (at most half the run)
    warmup: float = 0.0
    warmup_floor: int = 0
    final_lr: float = 0.01  # fast: where the decay ends, as a fraction of lr
    bn_momentum: float | None = None  # None: Keras's own (0.99)
    no_decay_on_norm_and_bias: bool = False  # weight decay on kernels only
    whiten: bool = False  # a new run's first conv starts as the whitening of the training patches
    # fast: a run of fewer steps than this peaks at lr x its share of them (0: always at lr)
    full_lr_steps: int = 0
    # fast: the global norm that each step's gradient is clipped to (None: no clipping)
    global_clipnorm: float | None = None
    decay: str = "cosine"  # fast: after the warm-up, "cosine" or "linear" down to final_lr x lr
    alternate_flips: bool = False  # augmentation: each image mirrored the other way each epoch (kvt_models.train.pipeline)

    def fingerprint(self) -> str:
        """A short hash of every field but the summary: two runs of one recipe name trained alike only if theirs are equal.

        A run records it (config.json), so a comparison never stands a run of
        an older version of a recipe in for one of today's. A new field
        changes every recipe's fingerprint, and so retires every older run
        from reuse: the safe side, as the field's default may not be what
        those runs did.
        """
        import hashlib  # deferred: the app's first frame imports this module, not hashlib
        import json
        from dataclasses import asdict

        fields = {k: v for k, v in asdict(self).items() if k != "summary"}  # words, not how it trains
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def warmup_steps(self, total: int) -> int:
        """The warm-up, in steps, of a run of ``total`` steps: a share of the run, with a floor."""
        return min(total // 2, max(self.warmup_floor, round(self.warmup * total)))

    def peak_lr(self, lr: float, total: int) -> float:
        """The learning rate that a run of ``total`` steps warms up to."""
        if self.full_lr_steps <= 0:
            return lr
        return lr * min(1.0, total / self.full_lr_steps)

    def prepare_model(self, model: Any) -> None:
        """What the recipe sets on a built (or reloaded) model before it trains: batch-norm momentum."""
        if self.bn_momentum is None:
            return
        for layer in model.layers:
            if type(layer).__name__ == "BatchNormalization":
                layer.momentum = self.bn_momentum

    def prepare_optimizer(self, optimizer: Any) -> None:
        """What a (re)loaded optimizer does not keep in its config: which variables skip weight decay."""
        if self.no_decay_on_norm_and_bias and self.weight_decay:
            optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])

    def schedule(self, keras: Any, lr: float, total: int) -> Any:
        """``fast``'s learning-rate schedule for a run of ``total`` steps: a warm-up, then the decay.

        In steps, not epochs: the same shape on 2,000 images (63 steps an
        epoch at batch 32) as on 50,000 (1,563).
        """
        warmup = self.warmup_steps(total)
        lr = self.peak_lr(lr, total)
        if self.decay == "linear":
            return warmup_linear_decay(keras)(
                start=lr / 10, peak=lr, warmup_steps=warmup, total_steps=total, final=self.final_lr
            )
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr / 10,
            decay_steps=max(1, total - warmup),
            alpha=self.final_lr,
            warmup_target=lr,
            warmup_steps=warmup,
        )

    def make_optimizer(self, keras: Any, lr: float, epochs: int, steps_per_epoch: int) -> Any:
        """Build a fresh optimizer for a run of ``epochs`` x ``steps_per_epoch`` steps.

        ``keras`` is the run's Keras module (Keras 3 or tf_keras: the same
        optimizer and schedule names), which the caller has activated.
        """
        if self.name == "seed-2018":
            # 2018: SGD(lr=INIT_LR, decay=INIT_LR / NUM_EPOCHS); Keras 2 applied the
            # decay per iteration, so decay_steps=1.
            schedule = keras.optimizers.schedules.InverseTimeDecay(
                initial_learning_rate=lr, decay_steps=1, decay_rate=lr / epochs
            )
            return keras.optimizers.SGD(learning_rate=schedule)
        if self.name == "fast":
            optimizer = keras.optimizers.SGD(
                learning_rate=self.schedule(keras, lr, max(1, epochs * steps_per_epoch)),
                momentum=0.9,
                nesterov=True,
                weight_decay=self.weight_decay,
                global_clipnorm=self.global_clipnorm,
            )
            self.prepare_optimizer(optimizer)
            return optimizer
        raise ValueError(f"Recipe {self.name!r} has no optimizer. Received: name={self.name!r}")


_SCHEDULES: dict[str, Any] = {}


def warmup_linear_decay(keras: Any) -> Any:
    """The learning-rate schedule class of a linear warm-up then a linear decay, for the runtime ``keras``.

    Keras has a warm-up only in its cosine schedule, so this one is kvt's:
    from ``start`` up to ``peak`` over ``warmup_steps``, then down to
    ``final`` x ``peak`` at ``total_steps``, and there after. It is a
    registered subclass of that Keras's ``LearningRateSchedule`` (Keras 3 or
    tf_keras), made on the first call, so a saved model's optimizer reloads
    with it (a resumed run calls this before loading).
    """
    key = keras.__name__
    if key in _SCHEDULES:
        return _SCHEDULES[key]
    # keras.ops on Keras 3; tf_keras has the same three functions in its backend.
    ops = keras.ops if hasattr(keras, "ops") else keras.backend

    class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, start: float, peak: float, warmup_steps: int, total_steps: int, final: float) -> None:
            self.start, self.peak, self.final = float(start), float(peak), float(final)
            self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)

        def __call__(self, step: Any) -> Any:
            step = ops.cast(step, "float32")
            up = self.start + (self.peak - self.start) * step / max(1, self.warmup_steps)
            # Both lines meet at (warmup_steps, peak): the lower of the two is the schedule.
            span = max(1, self.total_steps - self.warmup_steps)
            down = self.peak * (1.0 - (1.0 - self.final) * (step - self.warmup_steps) / span)
            return ops.maximum(ops.minimum(up, down), self.peak * self.final)

        def get_config(self) -> dict[str, Any]:
            return {"start": self.start, "peak": self.peak, "warmup_steps": self.warmup_steps,
                    "total_steps": self.total_steps, "final": self.final}

    _SCHEDULES[key] = keras.saving.register_keras_serializable(package="kvt")(WarmupLinearDecay)
    return _SCHEDULES[key]


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="seed-2018",
            summary="the 2018 post: SGD 0.01 with inverse-time decay, batch 32, 30 epochs",
            epochs=30,
            batch_size=32,
            lr=0.01,
        ),
        Recipe(
            name="fast",
            summary="Nesterov SGD 0.1, batch 32, whitened first conv, warm-up + linear decay to 0 in steps, clipped gradients, flips (+TTA), 4 epochs",
            epochs=4,
            # Batch 32 at lr 0.1 (the step per example of batch 64 at 0.2) won on every seed tried,
            # for a slower epoch (docs/recipes.md)
            batch_size=32,
            lr=0.1,
            augment=True,
            shift=0,  # flips only: in 4-5 epochs this net underfits (train accuracy stays below test); docs/recipes.md
            tta_flip=True,
            warmup=0.2,  # a fifth of the run's steps, on 2,000 images as on 50,000
            warmup_floor=1,
            decay="linear",  # to zero: the last steps at a tiny lr settle the weights that the report reads
            final_lr=0.0,
            bn_momentum=0.9,  # Keras's 0.99 kept ~half the initial statistics after a small run's warm-up
            no_decay_on_norm_and_bias=True,
            whiten=True,
            # Runs under 3,000 steps (1,500 at batch 64) peak lower (on 2,000 images, 252 steps: at 0.0084),
            # or they do not train (docs/recipes.md)
            full_lr_steps=3000,
            label_smoothing=0.0,  # 0.1: -2.4 points on the full CIFAR-10 (docs/recipes.md)
            # The early steps at the peak lr are the ones that differ most between seeds; clipping them helped every seed tried
            global_clipnorm=2.0,
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(
            f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}"
        ) from None
