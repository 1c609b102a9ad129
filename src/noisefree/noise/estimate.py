"""Noise estimation from a single image, so a method can be given the noise level it needs."""

from __future__ import annotations

import numpy as np

__all__ = ["ESTIMATORS", "denoising_sigma", "estimate_noise_sigma", "estimate_noise_sigma_sampled",
           "estimate_poisson_gaussian"]


ESTIMATORS = ("weak-texture", "wavelet")


def estimate_noise_sigma(image: np.ndarray, *, method: str = "weak-texture") -> float:
    """Gaussian noise std of an H x W or H x W x C image, on the image's own scale (the mean over channels).

    ``method``:

    - ``"weak-texture"`` (default): the noise measured where the image has no texture. Each pixel's texture is
      the sum of its squared gradients over a 7 x 7 window; for pure noise of std s that sum follows (nearly) a
      gamma law, so pixels above its 99.9th percentile hold texture. The std of Immerkaer's Laplacian residual
      (1996; 1/6 of it for white noise) over the other pixels re-estimates s, and the selection is repeated
      until s settles. Clipping: an image on the [0, 1] scale holding exact 0s or 1s is taken as clipped
      there (as 8-bit photographs are), and s is the std whose clipped normal law's variance at each
      residual's 3 x 3 mean adds up to the residuals' (dropping the pixels near black and white instead read
      sigma 50 as 45 on 8-bit BSD68 images); in other images, pixels next to the extreme values are left out.
      The selection follows Liu, Tanaka & Okutomi, "Single-image noise level estimation for blind denoising",
      IEEE TIP 22(12), 2013. On BSD68 at sigma 15 it reads 15.05 +- 0.20 where the wavelet estimate reads
      16.14 +- 1.16 (``benchmarks/noise_estimation.py``): texture does not pass for noise.
    - ``"wavelet"``: Donoho & Johnstone's (1994) median absolute deviation of the finest diagonal wavelet
      coefficients / 0.6745 (``skimage.restoration.estimate_sigma``), which reads texture as noise.
    """
    image = _finite(np.asarray(image, dtype=np.float64))
    if method == "wavelet":
        from skimage.restoration import estimate_sigma

        return float(estimate_sigma(image, channel_axis=-1 if image.ndim == 3 else None, average_sigmas=True))
    if method != "weak-texture":
        raise ValueError(f"unknown noise estimator {method!r}: choose one of {', '.join(ESTIMATORS)}")
    if image.ndim == 3:
        return float(np.mean([_weak_texture_sigma(image[..., c]) for c in range(image.shape[-1])]))
    return _weak_texture_sigma(image)


def _finite(image: np.ndarray) -> np.ndarray:
    if not np.isfinite(image).all():
        raise ValueError(f"the image holds {int((~np.isfinite(image)).sum())} NaN or inf value(s); noise estimation "
                         "needs finite values (noisefree.intensity.to_unit fills them from their neighbours)")
    return image


_GRADIENT = np.array([-0.5, 0.0, 0.5])  # central difference: white noise of variance v gives gx^2 + gy^2 a mean of v
_LAPLACIAN = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])  # Immerkaer: std 6 s on white noise
_WINDOW = 7
_CONFIDENCE = 0.999


def _texture(plane: np.ndarray) -> np.ndarray:
    """Each pixel's texture: the mean of gx^2 + gy^2 over its window. On white noise of variance v it is v on
    average, and the sum over the window's n pixels follows (nearly) a gamma law, shape n / 2, scale 2 v."""
    from scipy.ndimage import correlate1d, uniform_filter

    gx = correlate1d(plane, _GRADIENT, axis=1, mode="reflect")
    gy = correlate1d(plane, _GRADIENT, axis=0, mode="reflect")
    return uniform_filter(gx * gx + gy * gy, _WINDOW, mode="reflect")


def _flat_limit() -> float:
    """Texture / noise variance above which a pixel holds texture: noise alone stays below it with probability
    ``_CONFIDENCE`` (the gamma law of :func:`_texture`)."""
    from scipy.special import gammaincinv

    n = _WINDOW ** 2
    return float(2 * gammaincinv(n / 2, _CONFIDENCE) / n)


def _weak_texture_sigma(image: np.ndarray, *, rounds: int = 10) -> float:
    """:func:`estimate_noise_sigma`'s ``weak-texture`` method on one H x W plane."""
    from scipy.ndimage import convolve, maximum_filter, uniform_filter

    if min(image.shape) < 3:
        raise ValueError(f"noise estimation needs an image of at least 3x3 pixels, got {image.shape}")
    clip = _clip_bounds(image)
    texture = _texture(image)[1:-1, 1:-1]
    residual = (convolve(image, _LAPLACIAN, mode="reflect") / 6)[1:-1, 1:-1]
    local = uniform_filter(image, 3, mode="reflect")[1:-1, 1:-1]  # the mean the residual's pixels share
    extreme = maximum_filter(((image <= image.min()) & (clip[0] is None))  # an unclipped image's extremes
                             | ((image >= image.max()) & (clip[1] is None)), 3)[1:-1, 1:-1]
    if extreme.all() or image.min() == image.max():  # a constant image (or one made only of two values)
        return 0.0
    residual, texture, local = residual[~extreme], texture[~extreme], local[~extreme]
    limit = _flat_limit()
    start = texture <= np.median(texture)  # start: the flatter half
    sigma = _sigma_of(residual[start], local[start], clip)
    for _ in range(rounds):
        flat = texture < max(sigma, 1e-6) ** 2 * limit
        if flat.sum() < 64:  # too little flat image to say more: keep the last estimate
            break
        new = _sigma_of(residual[flat], local[flat], clip)
        if abs(new - sigma) <= 1e-4 * sigma:
            return new
        sigma = new
    return sigma


def _clip_bounds(image: np.ndarray) -> tuple[float | None, float | None]:
    """Where an image on the [0, 1] scale is clipped: at 0 if it holds exact 0s, at 1 if it holds exact 1s
    (on any other scale: nowhere)."""
    lo, hi = float(image.min()), float(image.max())
    if lo < 0 or hi > 1:
        return None, None
    return 0.0 if lo == 0.0 else None, 1.0 if hi == 1.0 else None


def _sigma_of(residual: np.ndarray, local: np.ndarray, clip) -> float:
    """The noise std behind Laplacian residuals (variance that of one pixel's noise): their RMS, or for a
    clipped image the std whose clipped variance at each residual's local mean adds up to theirs."""
    from scipy.optimize import brentq

    rms = float(np.sqrt(np.mean(residual ** 2)))
    if clip == (None, None) or rms == 0:
        return rms
    counts, edges = np.histogram(local, bins=256, range=(0.0, 1.0))

    def excess(s):  # the model's mean clipped variance minus the residuals'
        return _mean_clipped_variance(counts, edges, s * s, clip) - rms ** 2

    high = 4 * rms
    if excess(rms) >= 0 or excess(high) < 0:  # nothing clipped in these pixels (up to rounding), or nearly
        return rms  # everything at a bound: nothing to say beyond the RMS
    return float(brentq(excess, rms, high, xtol=1e-5 * rms))


def estimate_noise_sigma_sampled(image: np.ndarray, *, crop: int = 256, crops: int = 16,
                                 method: str = "weak-texture") -> float:
    """:func:`estimate_noise_sigma` with bounded work and memory for images of any size: the median over up to
    ``crops`` evenly spaced ``crop`` x ``crop`` pieces (the whole image when it is small)."""
    h, w = image.shape[:2]
    if h * w <= crops * crop * crop:
        return estimate_noise_sigma(image, method=method)
    per_side = int(np.ceil(np.sqrt(crops)))
    ys = np.linspace(0, h - crop, per_side).astype(int)
    xs = np.linspace(0, w - crop, per_side).astype(int)
    pieces = [image[y:y + crop, x:x + crop] for y in ys for x in xs]
    return float(np.median([estimate_noise_sigma(piece, method=method) for piece in pieces]))


def denoising_sigma(image: np.ndarray, sigma: float | None = None) -> float:
    """The noise std to tell a Gaussian denoiser for ``image`` (H x W or H x W x C, [0, 1] scale): ``sigma``
    (:func:`estimate_noise_sigma_sampled` when None), or, where the image is clipped (exact 0s or 1s), the RMS
    over the image of that noise after clipping, at each 4 x 4 block's mean. Clipping leaves less noise near
    black and white, and networks trained on unclipped noise do better told how much is left: ``gray-blind``
    on Set12 with noise of σ 50 clipped and stored in 8 bits scored 26.52 dB told this, 26.39 told 50
    (``benchmarks/noise_estimation.py``)."""
    image = np.asarray(image)  # no float64 copy of a large photograph
    if sigma is None:
        sigma = estimate_noise_sigma_sampled(image)
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[-1])]
    variances = []
    for plane in planes:
        clip = _clip_bounds(plane)
        h, w = plane.shape[0] // 4 * 4, plane.shape[1] // 4 * 4
        if clip == (None, None) or h == 0 or w == 0:
            variances.append(sigma ** 2)
            continue
        means = plane[:h, :w].reshape(h // 4, 4, w // 4, 4).mean(axis=(1, 3), dtype=np.float64)
        counts, edges = np.histogram(means, bins=256, range=(0.0, 1.0))
        variances.append(_mean_clipped_variance(counts, edges, sigma ** 2, clip))
    return float(np.sqrt(np.mean(variances)))


def _mean_clipped_variance(counts: np.ndarray, edges: np.ndarray, variance: float, clip) -> float:
    """The mean variance of Gaussian noise of ``variance`` after clipping at ``clip``, over local means given as
    a histogram (``counts`` per bin between ``edges``)."""
    centres = (edges[:-1] + edges[1:]) / 2
    return float(np.sum(counts * _noise_variance(centres, 0.0, variance, clip=clip)) / counts.sum())


def estimate_poisson_gaussian(image: np.ndarray, *, bins: int = 16, rounds: int = 10) -> tuple[float, float]:
    """Poisson-Gaussian parameters ``(a, b)`` of one image on the [0, 1] scale: noise variance ``a * x + b``
    at intensity ``x`` before any clipping (``a``: shot noise, the inverse photon count at full scale; ``b``:
    read-noise variance).

    After Foi, Trimeche, Katkovnik & Egiazarian, "Practical Poissonian-Gaussian noise modeling and fitting for
    single-image raw-data", IEEE Trans. Image Process. 17(10), 2008: the finest-scale wavelet detail holds the
    noise and the approximation holds the local mean, so one regresses the detail's variance on the mean where
    the image has no texture. Here: non-overlapping 2x2 blocks give the Haar diagonal detail
    ``(p - q - r + s) / 2`` (zero for any locally linear signal; variance that of one pixel's noise) and the
    block mean ``m``. Blocks are binned by ``m`` into ``bins`` equal-count groups (fewer where a group would
    hold under 50 blocks: a small image gets a coarser fit, and one with under 800 unclipped pixels none); each
    group's variance is a trimmed one (values beyond 3.5 robust deviations dropped, corrected for the
    trimming). ``(a, b) >= 0`` minimise the groups' squared relative errors, weighted by their block counts.

    Clipping: an image holding exact zeros (ones) is taken as clipped there, as 8-bit photographs and most
    camera files are. Clipped noise has less variance near the ends of the range, which a straight line would
    read as shot noise; as in Foi et al., the fit then models each group's mean and variance as those of the
    clipped normal law. Blocks within 2/255 of 0 or 1 are left out either way.

    Which blocks: as in :func:`estimate_noise_sigma`'s weak-texture method, those whose gradient energy over a
    7 x 7 window stays below what noise of the fitted variance reaches 0.1 % of the time, refitted until the
    fit settles (the first fit: the flatter half at each intensity). Color images: the mean over channels.
    """
    image = _finite(np.asarray(image, dtype=np.float64))
    if image.ndim == 3:
        fits = [estimate_poisson_gaussian(image[..., c], bins=bins, rounds=rounds) for c in range(image.shape[-1])]
        return float(np.mean([f[0] for f in fits])), float(np.mean([f[1] for f in fits]))
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    if h < 16 or w < 16:
        raise ValueError(f"noise estimation needs an image of at least 16x16 pixels, got {image.shape}")
    image = image[:h, :w]
    clip = _clip_bounds(image)
    p, q, r, s = image[0::2, 0::2], image[0::2, 1::2], image[1::2, 0::2], image[1::2, 1::2]
    detail, mean = (p - q - r + s) / 2, (p + q + r + s) / 4
    texture = _texture(image)[0::2, 0::2]
    keep = (mean > 2 / 255) & (mean < 1 - 2 / 255)  # nearly all clipped: no information
    m, d, t = mean[keep], detail[keep], texture[keep]
    if m.size < 4 * _GROUP:  # the first fit takes half of them, in at least two groups
        raise ValueError(f"too few unclipped pixels ({4 * m.size}) to estimate Poisson-Gaussian noise")
    flat = np.zeros(m.size, dtype=bool)
    for group in np.array_split(np.argsort(m), bins):  # start: at each intensity, the flatter half
        flat[group[t[group] <= np.median(t[group])]] = True
    a, b = _fit_variance(m[flat], d[flat], bins, clip)
    limit = _flat_limit()
    for _ in range(rounds):
        flat = t < np.maximum(_noise_variance(m, a, b, clip=clip), 1e-12) * limit
        if flat.sum() < 2 * _GROUP:  # too little flat image to say more: keep the last fit
            break
        new = _fit_variance(m[flat], d[flat], bins, clip)
        settled = abs(new[0] - a) <= 1e-3 * max(a, 1e-9) and abs(new[1] - b) <= 1e-3 * max(b, 1e-12)
        a, b = new
        if settled:
            break
    return a, b


def _noise_variance(mean: np.ndarray, a: float, b: float, *, clip: tuple[float | None, float | None] = (None, None)
                   ) -> np.ndarray:
    """The noise variance at observed mean intensity ``mean`` of Poisson-Gaussian noise ``(a, b)``: ``a * mean +
    b``, or, with ``clip`` bounds (lower, upper; None: unclipped), that of the clipped normal law whose clipped
    mean is ``mean``."""
    mean = np.asarray(mean, dtype=np.float64)
    if clip == (None, None):
        return a * mean + b
    y = _LEVELS  # true intensities; the clipped mean grows with y, so it is interpolated back
    m1, var = _clipped_moments(y, np.sqrt(np.maximum(a * y + b, 1e-14)), *clip)
    return np.interp(mean, m1, var)


_LEVELS = np.linspace(-0.5, 1.5, 4001)


def _clipped_moments(y: np.ndarray, s: np.ndarray, lo: float | None, hi: float | None) -> tuple[np.ndarray, ...]:
    """Mean and variance of ``clip(y + s * n, lo, hi)`` for standard normal ``n`` (a bound of None: none)."""
    from scipy.special import ndtr

    def pdf(z):
        return np.exp(-z * z / 2) / np.sqrt(2 * np.pi)

    below, above = (0.0, 0.0, 0.0), (1.0, 0.0, 0.0)  # (P(z < bound), density at bound, bound) without a bound
    if lo is not None:
        z = (lo - y) / s
        below = (ndtr(z), pdf(z), lo)
    if hi is not None:
        z = (hi - y) / s
        above = (ndtr(z), pdf(z), hi)
    (f_lo, p_lo, lo_), (f_hi, p_hi, hi_) = below, above
    inside = f_hi - f_lo
    m1 = lo_ * f_lo + hi_ * (1 - f_hi) + y * inside + s * (p_lo - p_hi)
    m2 = lo_ ** 2 * f_lo + hi_ ** 2 * (1 - f_hi) + (y * y + s * s) * inside + s * ((y + lo_) * p_lo - (y + hi_) * p_hi)
    return m1, np.maximum(m2 - m1 * m1, 0.0)


def _fit_variance(m: np.ndarray, d: np.ndarray, bins: int, clip) -> tuple[float, float]:
    """``(a, b) >= 0`` of :func:`_noise_variance` through the trimmed variances of ``d`` in ``bins`` equal-count
    groups of ``m`` (fewer where there are under 50 blocks a group): least squares of the relative errors,
    weighted by the groups' counts, from a straight line's fit."""
    from scipy.optimize import least_squares

    bins = min(bins, m.size // _GROUP)
    if bins < 2:
        raise ValueError(f"too few flat, unclipped pixels ({4 * m.size}) to fit Poisson-Gaussian noise: it needs "
                         f"{4 * 2 * _GROUP}; use a larger image")
    edges = np.quantile(m, np.linspace(0, 1, bins + 1))
    means, variances, counts = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (m >= lo) & (m <= hi)
        if sel.sum() < _GROUP:
            continue
        dd = d[sel]
        centre, scale = np.median(dd), _robust_std(dd)
        inside = np.abs(dd - centre) <= 3.5 * scale
        means.append(m[sel].mean())
        variances.append(dd[inside].var() / _TRIM_3_5)
        counts.append(inside.sum())
    x, v, wt = np.array(means), np.array(variances), np.array(counts, dtype=np.float64)
    if v.max() <= 0:  # no noise at all
        return 0.0, 0.0
    a, b = np.polyfit(x, v, 1, w=np.sqrt(wt)) if np.ptp(x) > 1e-6 else (0.0, float(np.average(v, weights=wt)))
    a, b = max(float(a), 0.0), max(float(b), 0.0)
    if a == b == 0.0:
        b = float(np.average(v, weights=wt))
    scale = np.sqrt(wt) / np.maximum(v, 1e-3 * v.max())
    fit = least_squares(lambda ab: scale * (v - _noise_variance(x, *ab, clip=clip)), [a, b],
                        bounds=([0.0, 0.0], [np.inf, np.inf]), x_scale=[max(a, 1e-4), max(b, 1e-6)])
    a, b = (float(v) if v > tiny else 0.0 for v, tiny in zip(fit.x, (1e-9, 1e-12)))  # at the bound, up to rounding
    return a, b


_GROUP = 50  # blocks a group of equal intensity needs for its variance
_TRIM_3_5 = 0.993888  # variance of a standard normal truncated to |z| <= 3.5 (scipy.stats.truncnorm(-3.5, 3.5).var())


def _robust_std(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: the std of normal data, unmoved by a minority of outliers."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))
