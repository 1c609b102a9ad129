"""Poisson-Gaussian data through Gaussian denoisers: variance stabilisation and its exact unbiased inverse.

For noise of variance ``a * x + b`` (:class:`noisefree.noise.PoissonGaussian`, [0, 1] scale), the generalised
Anscombe transform (Starck, Murtagh & Bijaoui, *Image Processing and Data Analysis*, 1998)

    f(z) = (2 / a) * sqrt(max(a * z + 3/8 * a**2 + b, 0))

turns the noise into (nearly) unit-variance Gaussian noise, so any Gaussian denoiser applies. Inverting
``f`` algebraically would be biased (``E[f(z)]`` is not ``f(E[z])``); the **exact unbiased inverse** of
Mäkitalo & Foi ("Optimal inversion of the generalized Anscombe transformation for Poisson-Gaussian noise",
IEEE Trans. Image Process. 22(1), 2013) maps a denoised value ``D`` to the ``x`` with ``E[f(z) | x] = D``.
Here ``E[f(z) | x]`` is computed numerically (Poisson sum times Gauss-Hermite quadrature) on a grid of ``x``
and inverted by monotone interpolation; above 200 expected photons, where it is accurate to better than
1e-6, their closed-form approximation is used instead.

:class:`VSTDenoiser` wraps any denoiser: transform, denoise at unit noise (rescaled to the [0, 1] range the
denoiser expects), invert. Without ``a`` and ``b`` it estimates them per image
(:func:`noisefree.noise.estimate_poisson_gaussian`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .denoiser import Denoiser

__all__ = ["VSTDenoiser", "anscombe", "expected_anscombe", "inverse_anscombe"]

_LAMBDA_EXACT = 200.0  # expected photon counts up to here: exact numerics; above: closed form


def anscombe(z, a: float, b: float):
    """The generalised Anscombe transform of ``z`` (array or tensor) for noise variance ``a * x + b``;
    the result has unit noise std. ``a = 0`` (pure Gaussian) is the scaling ``z / sqrt(b)``."""
    _check(a, b)
    lib = torch if isinstance(z, torch.Tensor) else np
    if a == 0:
        return z / b ** 0.5
    return (2.0 / a) * lib.sqrt(lib.clip(a * z + 0.375 * a * a + b, 0, None))


def inverse_anscombe(d, a: float, b: float):
    """The exact unbiased inverse: the ``x`` whose transformed noisy values have mean ``d``."""
    _check(a, b)
    is_tensor = isinstance(d, torch.Tensor)
    arr = d.detach().cpu().double().numpy() if is_tensor else np.asarray(d, dtype=np.float64)
    if a == 0:
        x = arr * b ** 0.5
    else:
        s = (b ** 0.5) / a  # the Gaussian std in photon units
        lam, mean = _table(round(s, 12))
        e = arr / 2.0  # in units where f(z) = 2 sqrt(z' + 3/8 + s^2), z' in photons: halve
        x_photons = np.where(e <= mean[-1], np.interp(e, mean, lam), _closed_form(2.0 * e, s))
        x = np.where(e <= mean[0], 0.0, x_photons) * a
    if is_tensor:
        return torch.from_numpy(x).to(device=d.device, dtype=d.dtype)
    return x.astype(np.result_type(np.asarray(d).dtype, np.float32)) if np.ndim(d) else float(x)


def expected_anscombe(x, a: float, b: float):
    """``E[f(z) | x]`` for clean values ``x`` (numerically, as used by :func:`inverse_anscombe`)."""
    _check(a, b)
    x = np.asarray(x, dtype=np.float64)
    if a == 0:
        return x / b ** 0.5
    s = (b ** 0.5) / a
    return 2.0 * _expected_half(x / a, s)


def _check(a: float, b: float) -> None:
    if not (a >= 0 and b >= 0) or a == b == 0:
        raise ValueError(f"Poisson-Gaussian parameters need a >= 0, b >= 0 and not both 0; got a={a}, b={b}")


def _expected_half(lam, s: float) -> np.ndarray:
    """E[sqrt(max(P + s N + 3/8 + s^2, 0))], P ~ Poisson(lam), N ~ N(0, 1), for an array of lam."""
    from scipy.stats import poisson

    shape = np.shape(lam)
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64)).ravel()
    nodes, weights = np.polynomial.hermite_e.hermegauss(48)
    weights = weights / weights.sum()
    k = np.arange(0, int(lam.max() + 12 * np.sqrt(lam.max()) + 20) + 1)
    inner = np.sqrt(np.clip(k[:, None] + s * nodes[None, :] + 0.375 + s * s, 0, None)) @ weights  # per count
    pmf = poisson.pmf(k[None, :], lam[:, None])
    pmf[lam == 0] = k == 0
    return (pmf @ inner).reshape(shape)


@lru_cache(maxsize=16)
def _table(s: float) -> tuple[np.ndarray, np.ndarray]:
    """Photon counts lam in [0, 200] (dense near 0) and E[f/2] at each, strictly increasing."""
    lam = np.concatenate([np.linspace(0, 2, 201), np.geomspace(2.02, _LAMBDA_EXACT, 600)])
    mean = _expected_half(lam, s)
    keep = np.concatenate([[True], np.diff(mean) > 0])
    return lam[keep], mean[keep]


def _closed_form(d: np.ndarray, s: float) -> np.ndarray:
    """Mäkitalo & Foi's closed-form approximation of the exact unbiased inverse, in photon units."""
    d = np.maximum(d, 1e-6)
    r = np.sqrt(1.5)
    return np.maximum(0.25 * d**2 + 0.25 * r / d - 11 / 8 / d**2 + 5 / 8 * r / d**3 - 1 / 8 - s * s, 0)


class VSTDenoiser(Denoiser):
    """Any Gaussian denoiser ``base`` applied to Poisson-Gaussian data through :func:`anscombe` and
    :func:`inverse_anscombe`. ``a``, ``b``: the noise parameters ([0, 1] scale); None estimates them per
    image. A ``sigma`` given at call time is ignored (the transform sets the noise level)."""

    def __init__(self, base: Denoiser, *, a: float | None = None, b: float | None = None):
        if (a is None) != (b is None):
            raise ValueError("give both a and b, or neither (estimated per image)")
        if a is not None:
            _check(a, b)
        self.base, self.a, self.b = base, a, b
        self.name = f"vst+{base.name}"
        self.channels = base.channels
        self.takes_sigma = False
        self.card = getattr(base, "card", None)

    def denoise_batch(self, x: torch.Tensor, sigma=None) -> torch.Tensor:
        from .noise import estimate_noise_sigma, estimate_poisson_gaussian

        out = []
        for img in x:  # parameters and value range per image
            if self.a is None:
                arr = img.permute(1, 2, 0).squeeze(-1).cpu().double().numpy()
                try:
                    a, b = estimate_poisson_gaussian(arr)
                except ValueError:  # too small or too busy to fit a line: Gaussian noise of the measured std
                    a, b = 0.0, estimate_noise_sigma(arr) ** 2
                b = max(b, 1e-8) if a == 0 else b
            else:
                a, b = self.a, self.b
            f = anscombe(img.double().cpu(), a, b)
            lo, hi = float(anscombe(torch.zeros(()), a, b)), float(anscombe(torch.ones(()), a, b))
            span = hi - lo
            u = ((f - lo) / span).float()
            den = self.base._run(u[None], 1.0 / span)[0].double()
            out.append(inverse_anscombe(den * span + lo, a, b).float())
        return torch.stack(out).to(x.device)
