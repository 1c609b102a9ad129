"""Noise: models that corrupt clean images (:mod:`.models`), the random sources they draw from
(:mod:`.random`), and estimation of the noise in an image (:mod:`.estimate`)."""

from .estimate import (
    ESTIMATORS,
    denoising_sigma,
    estimate_noise_sigma,
    estimate_noise_sigma_sampled,
    estimate_poisson_gaussian,
)
from .models import (
    Compose,
    Gaussian,
    Masking,
    Noise,
    Poisson,
    PoissonGaussian,
    SaltPepper,
    Speckle,
    corrupt,
    eval_noisy,
    parse_noise,
)
from .random import NumpyRandom, TorchRandom

__all__ = ["ESTIMATORS", "Compose", "Gaussian", "Masking", "Noise", "NumpyRandom", "Poisson", "PoissonGaussian",
           "SaltPepper", "Speckle", "TorchRandom", "corrupt", "denoising_sigma", "estimate_noise_sigma",
           "estimate_noise_sigma_sampled", "estimate_poisson_gaussian", "eval_noisy", "parse_noise"]
