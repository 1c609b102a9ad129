"""Shared fixtures: small generated images (no downloads, no shared data)."""

from __future__ import annotations

import numpy as np
import pytest


def smooth_image(h: int, w: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A float image in [0, 1] with gradients, a disc and a bar: structure a denoiser can keep."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    planes = []
    for c in range(channels):
        a, b = rng.uniform(0.2, 0.8, 2)
        img = 0.25 + 0.3 * (a * x + b * y)
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.25)
        img = np.where((y - cy) ** 2 + (x - cx) ** 2 < r * r, 0.85 - 0.1 * c, img)
        img[int(h * 0.7):int(h * 0.8), int(w * 0.1):int(w * 0.6)] = 0.1
        planes.append(img)
    out = np.stack(planes, -1) if channels > 1 else planes[0]
    return np.clip(out, 0, 1).astype(np.float32)


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 8-bit gray PNGs, 40x40."""
    from noisefree.io import write_image

    folder = tmp_path / "images"
    for i in range(6):
        write_image(folder / f"img{i:02d}.png", smooth_image(40, 40, seed=i), dtype="uint8")
    return folder
