"""Classical denoisers, callable like the networks: ``den(noisy, sigma=None)``.

``sigma`` is the noise std on the [0, 1] scale; when it is None it is estimated per image with
:func:`noisefree.noise.denoising_sigma` (measured where the image has no texture, averaged over channels; for
a clipped image, the noise left after clipping).
Each method's parameter
follows a rule in sigma: linear interpolation (clamped at the ends) of a table tuned once on gray training
images (``train400``) by ``benchmarks/tune_classical.py`` and shipped as ``assets/classical_params.json``;
never tuned on benchmark test images.

| name | method | parameter tuned (function of sigma) |
|---|---|---|
| ``bm3d`` | BM3D (``bm3d`` package, optional extra; non-commercial license) | none: sigma_psd = sigma |
| ``nlm`` | non-local means (scikit-image, fast mode, 5x5 patches, 13x13 search) | h / sigma |
| ``tv`` | total variation, Chambolle (scikit-image) | weight / sigma |
| ``wavelet`` | BayesShrink soft thresholding (scikit-image, db1... default wavelet) | sigma multiplier |
| ``bilateral`` | bilateral filter (scikit-image), spatial std 1.5 px | sigma_color / sigma |
| ``median`` | median filter (scipy.ndimage) | window size |
| ``gaussian`` | Gaussian blur (scipy.ndimage) | blur std in pixels |
| ``noisy`` | identity: the reference row | none |
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np
import torch

from .denoiser import Denoiser
from .noise import denoising_sigma

__all__ = ["CLASSICAL", "ClassicalDenoiser", "method_parameter"]


@lru_cache(maxsize=1)
def _tuned() -> dict:
    with resources.files("noisefree").joinpath("assets/classical_params.json").open() as f:
        return json.load(f)


def method_parameter(method: str, sigma: float) -> float:
    """The tuned parameter of ``method`` at noise std ``sigma`` ([0, 1] scale)."""
    table = _tuned()["methods"][method]
    levels = np.asarray(table["sigma_8bit"], dtype=float) / 255.0
    return float(np.interp(sigma, levels, np.asarray(table["best"], dtype=float)))


def _axis(img):
    return -1 if img.ndim == 3 else None


def _nlm(img, sigma, p):
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(img, h=p * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True,
                            channel_axis=_axis(img))


def _tv(img, sigma, p):
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(img, weight=p * sigma, channel_axis=_axis(img))


def _wavelet(img, sigma, p):
    from skimage.restoration import denoise_wavelet

    return denoise_wavelet(img, sigma=p * sigma, method="BayesShrink", mode="soft", rescale_sigma=True,
                           channel_axis=_axis(img), convert2ycbcr=img.ndim == 3)


def _bilateral(img, sigma, p):
    from skimage.restoration import denoise_bilateral

    lo = min(float(img.min()), 0.0)  # skimage wants non-negative values; unclipped noise can go below 0
    out = denoise_bilateral(img - lo, sigma_color=max(p * sigma, 1e-6), sigma_spatial=1.5, channel_axis=_axis(img))
    return out + lo


def _median(img, sigma, p):
    from scipy.ndimage import median_filter

    k = max(1, int(round(p)) | 1)  # odd window
    return median_filter(img, size=(k, k, 1) if img.ndim == 3 else (k, k), mode="reflect")


def _gaussian(img, sigma, p):
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(img, sigma=(p, p, 0) if img.ndim == 3 else p, mode="reflect")


def _bm3d(img, sigma, p):
    _bm3d_available()
    import bm3d

    if img.ndim == 3 and img.shape[-1] == 3:
        return bm3d.bm3d_rgb(img, sigma_psd=sigma)
    return bm3d.bm3d(img, sigma_psd=sigma)


def _identity(img, sigma, p):
    return img


CLASSICAL = {
    "bm3d": (_bm3d, "BM3D (bm3d package; optional extra, non-commercial license)"),
    "nlm": (_nlm, "non-local means (scikit-image)"),
    "tv": (_tv, "total variation, Chambolle (scikit-image)"),
    "wavelet": (_wavelet, "wavelet BayesShrink (scikit-image)"),
    "bilateral": (_bilateral, "bilateral filter (scikit-image)"),
    "median": (_median, "median filter (scipy)"),
    "gaussian": (_gaussian, "Gaussian blur (scipy)"),
    "noisy": (_identity, "identity: the noisy input, for reference"),
}


class ClassicalDenoiser(Denoiser):
    """A classical method applied image by image on the CPU (float64), any number of channels."""

    channels = None

    def __init__(self, name: str, parameter: float | None = None):
        if name not in CLASSICAL:
            raise KeyError(f"unknown classical method {name!r}; known: {', '.join(CLASSICAL)}")
        self.name = name
        self.fn = CLASSICAL[name][0]
        self.parameter = parameter  # None: the tuned rule in sigma
        if name == "bm3d":
            _bm3d_available()

    @property
    def identity(self) -> str:
        """What defines this method's output: its name and parameter rule (for result caches)."""
        rule = self.parameter if self.parameter is not None else _tuned()["methods"].get(self.name, {}).get("best")
        return f"{self.name}:{json.dumps(rule)}"

    def denoise_array(self, img: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """Denoise one float H x W or H x W x C array."""
        img = np.asarray(img, dtype=np.float64)
        if sigma is None:
            sigma = denoising_sigma(img)
        sigma = max(float(sigma), 1e-6)
        p = self.parameter
        if p is None:
            p = method_parameter(self.name, sigma) if self.name in _tuned()["methods"] else 0.0
        return np.asarray(self.fn(img, sigma, p), dtype=np.float64)

    def denoise_batch(self, x: torch.Tensor, sigma=None) -> torch.Tensor:
        """Image by image; ``sigma`` is one value, one per image, or None (estimated per image)."""
        sigmas = [None] * x.shape[0] if sigma is None else torch.as_tensor(sigma, dtype=torch.float64).flatten(
            ).expand(x.shape[0]).tolist()
        out = []
        for img, s in zip(x.detach().cpu().double(), sigmas):
            arr = img.permute(1, 2, 0).numpy()
            arr = arr[..., 0] if arr.shape[-1] == 1 else arr
            res = self.denoise_array(arr, s)
            res = res[..., None] if res.ndim == 2 else res
            out.append(torch.from_numpy(np.ascontiguousarray(res)).permute(2, 0, 1))
        return torch.stack(out).to(x.dtype).to(x.device)


def _bm3d_available() -> None:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        raise ImportError("BM3D needs the optional `bm3d` package (non-commercial license): "
                          "pip install 'noisefree[bm3d]'") from None

