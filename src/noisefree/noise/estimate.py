"""Noise estimation from a single image, so a method can be given the noise level it needs."""

from __future__ import annotations

import numpy as np

__all__ = ["estimate_noise_sigma", "estimate_noise_sigma_sampled", "estimate_poisson_gaussian"]


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Gaussian noise std of an H x W or H x W x C image, on the image's own scale.

    The robust wavelet estimator of Donoho & Johnstone (1994): the median absolute deviation of the finest
    diagonal wavelet coefficients / 0.6745 (``skimage.restoration.estimate_sigma``), averaged over channels.
    """
    from skimage.restoration import estimate_sigma

    image = np.asarray(image, dtype=np.float64)
    return float(estimate_sigma(image, channel_axis=-1 if image.ndim == 3 else None, average_sigmas=True))


def estimate_noise_sigma_sampled(image: np.ndarray, *, crop: int = 256, crops: int = 16) -> float:
    """:func:`estimate_noise_sigma` with bounded work and memory for images of any size: the median over up to
    ``crops`` evenly spaced ``crop`` x ``crop`` pieces (the whole image when it is small)."""
    h, w = image.shape[:2]
    if h * w <= crops * crop * crop:
        return estimate_noise_sigma(image)
    per_side = int(np.ceil(np.sqrt(crops)))
    ys = np.linspace(0, h - crop, per_side).astype(int)
    xs = np.linspace(0, w - crop, per_side).astype(int)
    return float(np.median([estimate_noise_sigma(image[y:y + crop, x:x + crop]) for y in ys for x in xs]))


def estimate_poisson_gaussian(image: np.ndarray, *, bins: int = 16) -> tuple[float, float]:
    """Poisson-Gaussian parameters ``(a, b)`` of one image on the [0, 1] scale: noise variance ``a * x + b``
    at intensity ``x`` (``a``: shot noise, the inverse photon count at full scale; ``b``: read-noise variance).

    After Foi, Trimeche, Katkovnik & Egiazarian, "Practical Poissonian-Gaussian noise modeling and fitting for
    single-image raw-data", IEEE Trans. Image Process. 17(10), 2008: the finest-scale wavelet detail holds the
    noise and the approximation holds the local mean, so one regresses the detail's variance on the mean over
    smooth regions. Here: non-overlapping 2x2 blocks give the Haar diagonal detail ``(p - q - r + s) / 2``
    (zero for any locally linear signal; variance ``a * m + b``) and the block mean ``m``; blocks on edges (whose
    smoothed-mean gradient is an outlier: above the median + 3 robust deviations) are left out; the rest are
    binned by ``m`` into ``bins`` equal-count groups; each group's variance is a trimmed one (values beyond
    3.5 robust deviations dropped, corrected for the trimming); a count-weighted least-squares line through
    them, kept non-negative, gives ``a`` and ``b``. Color images: the mean over channels.
    """
    from scipy.ndimage import gaussian_filter

    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        fits = [estimate_poisson_gaussian(image[..., c], bins=bins) for c in range(image.shape[-1])]
        return float(np.mean([f[0] for f in fits])), float(np.mean([f[1] for f in fits]))
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    if h < 16 or w < 16:
        raise ValueError(f"noise estimation needs an image of at least 16x16 pixels, got {image.shape}")
    p, q, r, s = image[0:h:2, 0:w:2], image[0:h:2, 1:w:2], image[1:h:2, 0:w:2], image[1:h:2, 1:w:2]
    detail, mean = (p - q - r + s) / 2, (p + q + r + s) / 4
    smooth = gaussian_filter(mean, 1.0)
    steep = np.hypot(*np.gradient(smooth))
    flat = steep <= np.median(steep) + 3 * _robust_std(steep)
    keep = flat & (mean > 2 / 255) & (mean < 1 - 2 / 255)  # no edges, no clipped values
    m, d = mean[keep], detail[keep]
    if m.size < 50 * bins:
        raise ValueError(f"too few smooth, unclipped pixels ({4 * m.size}) to estimate Poisson-Gaussian noise")
    edges = np.quantile(m, np.linspace(0, 1, bins + 1))
    means, variances, counts = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (m >= lo) & (m <= hi)
        if sel.sum() < 50:
            continue
        dd = d[sel]
        centre, scale = np.median(dd), _robust_std(dd)
        inside = np.abs(dd - centre) <= 3.5 * scale
        means.append(m[sel].mean())
        variances.append(dd[inside].var() / _TRIM_3_5)
        counts.append(inside.sum())
    x, v, wt = np.array(means), np.array(variances), np.array(counts, dtype=np.float64)
    a, b = np.polyfit(x, v, 1, w=np.sqrt(wt)) if np.ptp(x) > 1e-6 else (0.0, float(np.average(v, weights=wt)))
    if a < 0:  # no signal dependence measurable: all of it is read noise
        a, b = 0.0, float(np.average(v, weights=wt))
    if b < 0:  # no floor measurable: all of it is shot noise, through the origin
        a, b = float(np.sum(wt * x * v) / np.sum(wt * x * x)), 0.0
    return float(a), float(b)


_TRIM_3_5 = 0.993888  # variance of a standard normal truncated to |z| <= 3.5 (scipy.stats.truncnorm(-3.5, 3.5).var())


def _robust_std(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: the std of normal data, unmoved by a minority of outliers."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))
