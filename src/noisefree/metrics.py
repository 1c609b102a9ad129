"""Image quality metrics on batched torch tensors (any device), one value per image.

Both follow scikit-image's reference definitions and agree with
``skimage.metrics.peak_signal_noise_ratio`` and ``skimage.metrics.structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=R)`` (tested to 1e-4).
They are written in torch so validation runs where training runs (GPU included).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim"]


def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image in a (N, C, H, W) batch."""
    _check(pred, target)
    mse = (pred.double() - target.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


def _gaussian_window(sigma: float, truncate: float, device) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def ssim(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity of each image in a (N, C, H, W) batch, mean over channels.

    Gaussian window of std ``sigma`` truncated at 3.5 std (11 taps for 1.5), K1 = 0.01, K2 = 0.03,
    population covariance; the mean is over the region the window covers fully, as in scikit-image.
    """
    _check(pred, target)
    x, y = pred.double(), target.double()
    n, c, h, w = x.shape
    win = _gaussian_window(sigma, 3.5, x.device)
    k = win.numel()
    if min(h, w) < k:
        raise ValueError(f"ssim: images of {h}x{w} are smaller than the {k}x{k} Gaussian window")

    def blur(t):  # separable Gaussian, 'valid' region only (= skimage's filtered image, cropped)
        t = t.reshape(n * c, 1, t.shape[-2], t.shape[-1])
        t = F.conv2d(t, win.view(1, 1, k, 1))
        return F.conv2d(t, win.view(1, 1, 1, k))

    ux, uy = blur(x), blur(y)
    vx = blur(x * x) - ux * ux
    vy = blur(y * y) - uy * uy
    vxy = blur(x * y) - ux * uy
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.reshape(n, -1).mean(1)


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"metrics need two (N, C, H, W) tensors of one shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")


def mean_std(values) -> tuple[float, float]:
    """Mean and population std of a sequence of finite floats (inf PSNR of a perfect image is skipped)."""
    vals = [float(v) for v in values if math.isfinite(float(v))]
    if not vals:
        return float("nan"), float("nan")
    m = sum(vals) / len(vals)
    return m, math.sqrt(sum((v - m) ** 2 for v in vals) / len(vals))
