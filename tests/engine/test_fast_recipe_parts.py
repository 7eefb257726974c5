"""The fast recipe's parts: the first conv's whitening init, and a schedule in steps that suits small data too."""

from __future__ import annotations

import numpy as np

from kvt_models.model.whitening import patch_whitening_kernel


def _patches(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float64) / 255.0
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))
    patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 27)
    return patches - patches.mean(axis=0)


def test_the_kernel_whitens_the_patches_once_with_each_sign():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(300, 32, 32, 3)).astype(np.uint8)
    images[..., 1] = images[..., 0] // 2 + images[..., 1] // 2  # correlated channels, as in photos
    kernel = patch_whitening_kernel(images, 32, eps=0.0)
    assert kernel.shape == (3, 3, 3, 32) and kernel.dtype == np.float32
    out = _patches(images) @ kernel.reshape(27, 32).astype(np.float64)
    covariance = np.cov(out[:, :16], rowvar=False)
    np.testing.assert_allclose(covariance, np.eye(16), atol=2e-3)  # decorrelated, unit variance
    np.testing.assert_allclose(kernel[..., 16:], -kernel[..., :16])  # both signs: the ReLU after it keeps both halves


def test_the_fast_recipes_warm_up_is_a_share_of_the_run_in_steps():
    from kvt_models.settings.recipes import get_recipe

    fast = get_recipe("fast")
    assert fast.epochs == 4
    # 2,000 images (63 steps an epoch at batch 32) and 50,000 (1,563): the same share of the run.
    assert fast.warmup_steps(4 * 63) == round(fast.warmup * 252)
    assert fast.warmup_steps(4 * 1563) == round(fast.warmup * 6252)
    assert fast.warmup_steps(1) == 0 and fast.warmup_steps(2) <= 1  # never more than half of a tiny run


def test_a_short_run_peaks_at_a_lower_learning_rate():
    from kvt_models.settings.recipes import get_recipe

    fast = get_recipe("fast")
    assert fast.peak_lr(fast.lr, 4 * 1563) == fast.lr  # the full CIFAR-10: the recipe's own
    assert fast.peak_lr(fast.lr, 4 * 63) == fast.lr * 252 / fast.full_lr_steps  # 2,000 images
    assert get_recipe("seed-2018").peak_lr(0.01, 10) == 0.01


def test_the_optimizer_clips_each_steps_gradient_to_the_recipes_global_norm():
    import keras

    from kvt_models.settings.recipes import get_recipe

    fast = get_recipe("fast")
    optimizer = fast.make_optimizer(keras, fast.lr, fast.epochs, 100)
    assert fast.global_clipnorm == optimizer.global_clipnorm == 2.0
    assert get_recipe("seed-2018").make_optimizer(keras, 0.01, 30, 100).global_clipnorm is None


def test_the_learning_rate_rises_over_the_warm_up_then_falls_in_a_line_to_zero():
    import keras

    from kvt_models.settings.recipes import get_recipe

    fast = get_recipe("fast")
    assert fast.decay == "linear" and fast.final_lr == 0.0
    total = 4 * 1563
    warm = fast.warmup_steps(total)
    schedule = fast.make_optimizer(keras, fast.lr, 4, 1563)._learning_rate

    def lr(step: int) -> float:
        return float(keras.ops.convert_to_numpy(schedule(step)))

    assert np.isclose(lr(0), fast.lr / 10) and np.isclose(lr(warm // 2), (fast.lr / 10 + fast.lr) / 2)
    assert np.isclose(lr(warm), fast.lr)
    middle = warm + (total - warm) // 2
    assert np.isclose(lr(middle), fast.lr * (1 - (middle - warm) / (total - warm)))
    assert lr(total) == 0.0 and lr(total + 100) == 0.0

    # A resumed run reloads its optimizer: the schedule is a registered Keras object.
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert again.get_config() == schedule.get_config() and np.isclose(float(again(middle)), lr(middle))


def test_a_run_of_an_older_version_of_a_recipe_never_stands_in_for_todays(tmp_path):
    """A recipe keeps its name when its settings change; the fingerprint a run records tells the versions apart."""
    from dataclasses import replace

    from runfactory import history_rows, write_run

    from kvt_models.compare.plan import plan
    from kvt_models.settings.config import RunConfig
    from kvt_models.settings.recipes import get_recipe
    from kvt_models.store.runs import RECIPE_FINGERPRINT, RunStore

    fast = get_recipe("fast")
    assert fast.fingerprint() == get_recipe("fast").fingerprint()
    assert fast.fingerprint() != replace(fast, global_clipnorm=None).fingerprint()
    assert fast.fingerprint() == replace(fast, summary="other words").fingerprint()  # words are not training

    base = RunConfig(recipe="fast", data="sample", epochs=1, train_limit=64, test_limit=20)
    settings = RunConfig(**{**vars(base), "seed": 1}).resolved().to_dict()
    old = write_run(tmp_path, {**settings, RECIPE_FINGERPRINT: replace(fast, global_clipnorm=None).fingerprint()},
                    history_rows([0.3]), created="2026-01-01T00:00:00")
    older = write_run(tmp_path, settings | {"recipe_fingerprint": None}, history_rows([0.3]))  # before fingerprints
    [planned] = plan([("keras", "relu")], [1], base, RunStore(tmp_path))
    assert planned.existing is None, (old, older)
    today = write_run(tmp_path, settings, history_rows([0.4]))  # what a run of today's recipe writes
    [planned] = plan([("keras", "relu")], [1], base, RunStore(tmp_path))
    assert planned.existing == today
