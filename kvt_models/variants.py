"""The domain vocabulary: frameworks, activations, presets, runtimes, and a comparison's variants.

Standard library only (and :mod:`kvt_models.errors`): the app's first frame,
the CLI's ``--help`` and the rules in :mod:`kvt_models.settings.options` read
these names before any runtime is imported.
"""

from __future__ import annotations

from typing import NamedTuple

from kvt_models.errors import ConfigError

FRAMEWORKS: dict[str, str] = {
    "keras": "Keras (import keras; Keras layers and ops only, on every runtime)",
    "tensorflow": "tf.keras + raw TensorFlow ops (tf.nn.*) inside registered layers",
}
ACTIVATIONS: tuple[str, ...] = ("relu", "crelu", "elu", "gelu", "swish")
# Presets named after the two programs of the 2018 post.
PRESETS: dict[str, tuple[str, str]] = {
    "keras": ("keras", "relu"),  # minivggnet_keras.py
    "tensorflow": ("tensorflow", "crelu"),  # minivggnet_tf.py
}
# The runtimes a run can train on (kvt_models.backend.runtime activates them), the default first.
BACKENDS: dict[str, str] = {
    "tensorflow": "Keras 3 on TensorFlow",
    "jax": "Keras 3 on JAX",
    "torch": "Keras 3 on PyTorch",
    "keras2": "Keras 2 (tf_keras): the tf.keras of 2018",
}
BACKEND_DEFAULT = "tensorflow"
# Where TensorFlow executes the ops: the only backends the tensorflow framework
# (raw tf.nn ops inside its layers) can run on.
TF_BACKENDS: tuple[str, ...] = ("tensorflow", "keras2")


class Variant(NamedTuple):
    """One entry of a comparison: ``framework:activation@backend``; backend None means "the --backend flag's"."""

    framework: str
    activation: str
    backend: str | None = None

    @property
    def name(self) -> str:
        """``keras:relu``, ``keras:relu@jax``: no ``@`` for the default backend, as it is typed."""
        suffix = f"@{self.backend}" if self.backend not in (None, BACKEND_DEFAULT) else ""
        return f"{self.framework}:{self.activation}{suffix}"


def check_runs_on(framework: str, backend: str, where: str = "") -> None:
    """ConfigError when ``framework`` cannot run on ``backend``: the one rule, for flags, variants and configs."""
    if framework == "tensorflow" and backend not in TF_BACKENDS:
        raise ConfigError(
            f"{where}the tensorflow framework cannot run on {backend}: its layers call raw tf.nn ops, which only "
            f"TensorFlow executes; use backend {' or '.join(TF_BACKENDS)}, or the keras framework on {backend}"
        )


def all_variants() -> list[Variant]:
    """Every variant that can run, runtime by runtime (the default first), then framework, then activation.

    The order comparisons list variants in. The tensorflow framework runs only
    where TensorFlow executes the ops.
    """
    return [Variant(framework, activation, backend) for backend in BACKENDS for framework in FRAMEWORKS
            if framework != "tensorflow" or backend in TF_BACKENDS for activation in ACTIVATIONS]


def variant_name(framework: str, activation: str, backend: str | None = None) -> str:
    """``keras:relu``, ``keras:relu@jax``: the default backend is not written."""
    return Variant(framework, activation, backend).name
