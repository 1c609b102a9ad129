"""Noise estimation from a single image, so a method can be given the noise level it needs."""

from __future__ import annotations

import numpy as np

__all__ = ["estimate_noise_sigma"]


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Gaussian noise std of an H x W or H x W x C image, on the image's own scale.

    The robust wavelet estimator of Donoho & Johnstone (1994): the median absolute deviation of the finest
    diagonal wavelet coefficients / 0.6745 (``skimage.restoration.estimate_sigma``), averaged over channels.
    """
    from skimage.restoration import estimate_sigma

    image = np.asarray(image, dtype=np.float64)
    return float(estimate_sigma(image, channel_axis=-1 if image.ndim == 3 else None, average_sigmas=True))
