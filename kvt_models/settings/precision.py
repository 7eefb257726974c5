"""The compute precision of a run: float32, or bfloat16 math over float32 weights.

``bfloat16`` is Keras's ``mixed_bfloat16`` policy: convolutions and matmuls
take bf16 inputs (accumulating in float32), while the weights, the batch-norm
statistics, the softmax and the loss stay float32. On a CPU with native bf16
instructions (AVX-512 BF16 or AMX) oneDNN runs those kernels at about twice the
float32 rate; elsewhere bf16 is emulated and slower, so ``auto`` picks it only
where the hardware has it, and only on the runtime where it was measured
(Keras 3 on TensorFlow; docs/performance.md has the measurements).

``auto`` is resolved once, in the process that trains the run (its child
process, a Ray worker: that machine's CPU, not the one that queued it), and
config.json records the answer (``precision``, beside ``precision_asked``),
so a resumed or reused run never changes precision.
Standard library only: the app resolves it before its first frame.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

# config.json of runs made before this setting existed: they trained in float32.
LEGACY = "float32"
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU does bf16 math in hardware (x86 avx512_bf16 / amx_bf16, Arm bf16)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    except OSError:
        pass
    return False


def resolve(precision: str, backend: str) -> str:
    """``auto`` -> the concrete precision for ``backend`` on this machine; others unchanged."""
    if precision != "auto":
        return precision
    return "bfloat16" if backend == "tensorflow" and cpu_has_bf16() else "float32"


@contextlib.contextmanager
def building_in(keras: Any, precision: str) -> Iterator[None]:
    """Layers built inside compute in ``precision``; Keras's global policy is put back after.

    Each layer keeps (and saves) its own dtype policy, so the model stays in
    its precision; nothing else built later in the process is touched.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(_POLICIES[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
