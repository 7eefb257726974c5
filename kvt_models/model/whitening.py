"""Data-dependent initialisation of MiniVGGNet's first convolution: patch whitening.

As in Keller Jordan's airbench and David Page's "How to train your ResNet":
the first conv's filters start as the whitening transform of the training
images' 3x3 patches -- the covariance's top eigenvectors, each scaled by the
inverse square root of its eigenvalue, once with each sign (the ReLU that
follows then keeps both halves). So the first layer sees decorrelated,
unit-variance inputs from step one. Same layer, same parameter count: only
the starting values change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FIRST_CONV = "conv1_1"


def patch_whitening_kernel(images: np.ndarray, filters: int, *, size: int = 3, eps: float = 5e-4,
                           samples: int = 5000, seed: int = 0) -> np.ndarray:
    """A ``(size, size, channels, filters)`` kernel whose filters whiten the images' patches (uint8 in)."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(images), size=min(samples, len(images)), replace=False))
    c = images.shape[-1]
    dim = size * size * c
    # The covariance, summed over chunks of images: 5,000 images' patches at once would be ~490 MB.
    total, outer, count = np.zeros(dim), np.zeros((dim, dim)), 0
    for start in range(0, len(pick), 250):
        x = images[pick[start:start + 250]].astype(np.float32) / 255.0
        windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))  # n, h', w', c, dy, dx
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, dim)  # (dy, dx, c): the kernel's order
        total += patches.sum(axis=0, dtype=np.float64)
        outer += (patches.T @ patches).astype(np.float64)
        count += len(patches)
    mean = total / count
    covariance = outer / count - np.outer(mean, mean)
    eigvals, eigvecs = np.linalg.eigh(covariance)
    top = max(1, filters // 2)
    order = np.argsort(eigvals)[::-1][:top]
    basis = eigvecs[:, order] / np.sqrt(eigvals[order] + eps)  # (size*size*c, top)
    kernel = np.concatenate([basis, -basis], axis=1)
    if kernel.shape[1] < filters:  # an odd count: one filter more, the strongest direction again
        kernel = np.concatenate([kernel, basis[:, :filters - kernel.shape[1]]], axis=1)
    return kernel[:, :filters].reshape(size, size, c, filters).astype(np.float32)


def whiten_first_conv(model: Any, images: np.ndarray, seed: int = 0) -> None:
    """Set the first conv's kernel to the patch-whitening transform of ``images``, its bias to zero."""
    layer = model.get_layer(FIRST_CONV)
    kernel, bias = layer.get_weights()
    size, _, channels, filters = kernel.shape
    if channels != images.shape[-1]:
        raise ValueError(f"The first conv sees {channels} channels, the images have {images.shape[-1]}")
    layer.set_weights([patch_whitening_kernel(images, filters, size=size, seed=seed), np.zeros_like(bias)])
