"""Noise models: small objects that corrupt clean images on the [0, 1] scale.

A noise model is called as ``noise(clean, rng)`` on a float tensor of shape (N, C, H, W) and returns the
noisy tensor; ``rng`` is where the randomness comes from (:mod:`noisefree.noise.random`).

Noise specs are strings, composable with ``+``::

    gaussian:0.1            Gaussian, std 0.1
    gaussian:0-0.2          Gaussian, std drawn per image uniformly from [0, 0.2] (blind training)
    saltpepper:0.02         2 % of pixels set to 0 or 1
    masking:0.3             30 % of pixels set to 0 (dropout / masking noise)
    poisson:30              Poisson shot noise with peak 30 (photon count at intensity 1)
    poissongauss:0.01,0.0004  Poisson-Gaussian (real sensors): variance 0.01 x + 0.0004 at intensity x
    speckle:0.1             multiplicative Gaussian: x + x * n * 0.1
    gaussian:0.1+saltpepper:0.02

Clipping the noisy image to [0, 1] is not part of a noise model; it is an explicit option of
:func:`corrupt` (``clip=True``), as the protocols differ on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .random import NumpyRandom

__all__ = ["Compose", "Gaussian", "Masking", "Noise", "Poisson", "PoissonGaussian", "SaltPepper", "Speckle", "corrupt",
           "eval_noisy", "parse_noise"]


class Noise:
    """Base class: ``noise(x, rng) -> noisy``. ``spec`` round-trips through :func:`parse_noise`."""

    spec: str

    def __call__(self, x: torch.Tensor, rng) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def apply(self, x: torch.Tensor, rng) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The noisy batch and each image's Gaussian std, shape (N,), where the model has one (else None)."""
        return self(x, rng), None

    def __add__(self, other: Noise) -> Compose:
        return Compose((self, other))

    @property
    def sigma(self) -> float | None:
        """Nominal Gaussian std (upper end of a range), or None when the model has no such parameter."""
        return None

    #: E[noisy] = clean (unclipped), what Noise2Noise and the blind-spot methods need to learn the clean image
    zero_mean: bool = True


def _per_pixel_mask(x: torch.Tensor, p: float, rng) -> torch.Tensor:
    """A (N, 1, H, W) boolean mask, True with probability p, shared by all channels of a pixel."""
    n, _, h, w = x.shape
    return rng.uniform(x, (n, 1, h, w)) < p


@dataclass(frozen=True)
class Gaussian(Noise):
    """Additive white Gaussian noise of std ``sigma``, or std drawn per image from [sigma, sigma_max]."""

    sigma_min: float
    sigma_max: float | None = None

    def __post_init__(self):
        hi = self.sigma_max if self.sigma_max is not None else self.sigma_min
        if not (0 <= self.sigma_min <= hi < float("inf")):
            raise ValueError(f"gaussian: need 0 <= sigma_min <= sigma_max, got {self.sigma_min}, {hi}")

    @property
    def spec(self) -> str:
        if self.sigma_max is None:
            return f"gaussian:{self.sigma_min:g}"
        return f"gaussian:{self.sigma_min:g}-{self.sigma_max:g}"

    @property
    def sigma(self) -> float:
        return self.sigma_max if self.sigma_max is not None else self.sigma_min

    def apply(self, x: torch.Tensor, rng) -> tuple[torch.Tensor, torch.Tensor]:
        """The noisy batch and the std used for each image, shape (N,)."""
        if self.sigma_max is None:
            sigma = torch.full((x.shape[0], 1, 1, 1), self.sigma_min, device=x.device, dtype=x.dtype)
        else:
            u = rng.uniform(x, (x.shape[0], 1, 1, 1))
            sigma = self.sigma_min + (self.sigma_max - self.sigma_min) * u
        return x + sigma * rng.normal(x), sigma.flatten()

    def __call__(self, x, rng):
        return self.apply(x, rng)[0]


@dataclass(frozen=True)
class SaltPepper(Noise):
    """Impulse noise: a fraction ``amount`` of pixels set to 0 or 1 with equal probability."""

    zero_mean = False  # a hit pixel's expected value is not the clean one

    amount: float

    def __post_init__(self):
        _check_fraction("saltpepper", self.amount)

    @property
    def spec(self):
        return f"saltpepper:{self.amount:g}"

    def __call__(self, x, rng):
        hit = _per_pixel_mask(x, self.amount, rng)
        salt = _per_pixel_mask(x, 0.5, rng)
        return torch.where(hit, salt.to(x.dtype), x)


@dataclass(frozen=True)
class Masking(Noise):
    """Masking (dropout) noise: a fraction ``amount`` of pixels set to 0."""

    zero_mean = False  # a hit pixel's expected value is not the clean one

    amount: float

    def __post_init__(self):
        _check_fraction("masking", self.amount)

    @property
    def spec(self):
        return f"masking:{self.amount:g}"

    def __call__(self, x, rng):
        return x * (~_per_pixel_mask(x, self.amount, rng)).to(x.dtype)


@dataclass(frozen=True)
class Poisson(Noise):
    """Shot noise: ``Poisson(x * peak) / peak``; lower peak means stronger noise."""

    peak: float

    def __post_init__(self):
        if not 0 < self.peak < float("inf"):
            raise ValueError(f"poisson: peak must be a positive number, got {self.peak}")

    @property
    def spec(self):
        return f"poisson:{self.peak:g}"

    def __call__(self, x, rng):
        return rng.poisson(x.clamp(min=0) * self.peak) / self.peak


@dataclass(frozen=True)
class PoissonGaussian(Noise):
    """The noise of real sensors (photon shot noise plus read noise), on the [0, 1] scale of any bit depth:
    ``y = a * Poisson(x / a) + sqrt(b) * n``, so ``E[y] = x`` and ``Var[y] = a * x + b``. ``a`` is the inverse
    photon count at full scale (0 for none), ``b`` the read-noise variance (0 for none)."""

    a: float
    b: float

    def __post_init__(self):
        if not (0 <= self.a < float("inf") and 0 <= self.b < float("inf")):
            raise ValueError(f"poissongauss: a and b must be numbers >= 0, got {self.a}, {self.b}")

    @property
    def spec(self):
        return f"poissongauss:{self.a:g},{self.b:g}"

    def __call__(self, x, rng):
        y = rng.poisson(x.clamp(min=0) / self.a) * self.a if self.a > 0 else x
        return y + self.b ** 0.5 * rng.normal(x) if self.b > 0 else y


@dataclass(frozen=True)
class Speckle(Noise):
    """Multiplicative Gaussian noise: ``x + x * n * sigma`` (as ``skimage.util.random_noise('speckle')``)."""

    strength: float

    def __post_init__(self):
        if not 0 <= self.strength < float("inf"):
            raise ValueError(f"speckle: strength must be a number >= 0, got {self.strength}")

    @property
    def spec(self):
        return f"speckle:{self.strength:g}"

    def __call__(self, x, rng):
        return x + x * rng.normal(x) * self.strength


@dataclass(frozen=True)
class Compose(Noise):
    """Noise models applied in order, e.g. Gaussian then salt-and-pepper."""

    parts: tuple[Noise, ...]

    @property
    def spec(self):
        return "+".join(p.spec for p in self.parts)

    @property
    def zero_mean(self):
        return all(p.zero_mean for p in self.parts)

    @property
    def sigma(self):
        sigmas = [p.sigma for p in self.parts if p.sigma is not None]
        return max(sigmas) if sigmas else None

    def apply(self, x, rng):
        """Each part in turn; the std is the Gaussian part's (the first part that has one)."""
        sigma = None
        for part in self.parts:
            x, s = part.apply(x, rng)
            sigma = s if sigma is None else sigma
        return x, sigma

    def __call__(self, x, rng):
        return self.apply(x, rng)[0]


def _check_fraction(name: str, value: float) -> None:
    if not 0 <= value <= 1:  # NaN fails too
        raise ValueError(f"{name}: amount must be a fraction in [0, 1], got {value}")


_KINDS = {
    "gaussian": "gaussian:SIGMA or gaussian:MIN-MAX (std on the [0, 1] scale, e.g. gaussian:0.1)",
    "saltpepper": "saltpepper:FRACTION (e.g. saltpepper:0.02)",
    "masking": "masking:FRACTION (e.g. masking:0.3)",
    "poisson": "poisson:PEAK (e.g. poisson:30)",
    "poissongauss": "poissongauss:A,B (variance A x + B on the [0, 1] scale, e.g. poissongauss:0.01,0.0004)",
    "speckle": "speckle:SIGMA (e.g. speckle:0.1)",
}


def parse_noise(spec: str | Noise) -> Noise:
    """Parse a noise spec such as ``"gaussian:0-0.2+saltpepper:0.01"`` into a :class:`Noise`."""
    if isinstance(spec, Noise):
        return spec
    parts = [p.strip() for p in str(spec).split("+") if p.strip()]
    if not parts:
        raise ValueError(f"empty noise spec {spec!r}; use one of: {', '.join(_KINDS.values())}")
    models = [_parse_one(p) for p in parts]
    return models[0] if len(models) == 1 else Compose(tuple(models))


def _parse_one(part: str) -> Noise:
    kind, _, arg = part.partition(":")
    kind = kind.strip().lower().replace("-", "").replace("_", "")
    if kind not in _KINDS:
        raise ValueError(f"unknown noise {kind!r} in {part!r}; known: {', '.join(_KINDS.values())}")
    try:
        if kind == "gaussian":
            lo, sep, hi = arg.partition("-") if not arg.startswith("-") else (arg, "", "")
            return Gaussian(float(lo), float(hi)) if sep else Gaussian(float(lo))
        if kind == "poissongauss":
            a, b = arg.split(",")
            return PoissonGaussian(float(a), float(b))
        value = float(arg)
    except ValueError:
        raise ValueError(f"bad noise parameter in {part!r}; expected {_KINDS[kind]}") from None
    return {"saltpepper": SaltPepper, "masking": Masking, "poisson": Poisson, "speckle": Speckle}[kind](value)


def corrupt(clean: torch.Tensor, noise: Noise, rng, *, clip: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Apply ``noise`` to a (N, C, H, W) batch, clipped to [0, 1] when ``clip``. Returns ``(noisy, sigma)``:
    ``sigma`` is each image's Gaussian std, shape (N,), or None for noise without one (see :meth:`Noise.apply`)."""
    noisy, sigma = noise.apply(clean, rng)
    return (noisy.clamp_(0.0, 1.0) if clip else noisy), sigma


def eval_noisy(clean: torch.Tensor, noise: Noise, seeds, *, clip: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Reproducible noisy copies of ``clean`` (N, C, H, W) and their stds, as :func:`corrupt` returns them:
    image k uses ``numpy.random.default_rng(seeds[k])``. Computed in float64 on the CPU, so the result equals
    the protocol's numpy computation bit for bit (callers cast)."""
    clean64 = clean.detach().cpu().double()
    pairs = [corrupt(clean64[k : k + 1], noise, NumpyRandom(np.random.default_rng(int(s))), clip=clip)
             for k, s in enumerate(seeds)]
    if not pairs:
        return clean64.clone(), None
    noisy, sigmas = zip(*pairs)
    return torch.cat(noisy), (None if sigmas[0] is None else torch.cat(sigmas))
