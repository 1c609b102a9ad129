"""Variance stabilisation for Poisson-Gaussian noise: unit variance forward, exact unbiased inverse, and any
Gaussian denoiser applied through it."""

import numpy as np
import pytest
import torch

import noisefree as nf
from noisefree.resolve import looks_like_method
from noisefree.vst import VSTDenoiser, anscombe, expected_anscombe, inverse_anscombe

from .conftest import smooth_image

A, B = 0.01, 0.0004


def _pg(x, a, b, rng):
    return a * rng.poisson(x / a) + np.sqrt(b) * rng.standard_normal(x.shape)


@pytest.mark.parametrize("x", [0.05, 0.2, 0.5, 0.9])
def test_anscombe_makes_the_noise_unit_variance_and_the_inverse_is_unbiased(x):
    rng = np.random.default_rng(0)
    z = _pg(np.full(200_000, x), A, B, rng)
    f = anscombe(z, A, B)
    assert f.std() == pytest.approx(1.0, abs=0.03)
    assert f.mean() == pytest.approx(float(expected_anscombe(x, A, B)), abs=0.01)  # the exact expectation
    assert inverse_anscombe(f.mean(), A, B) == pytest.approx(x, abs=2e-3)  # unbiased back on the image scale
    naive = (f.mean() / 2) ** 2 * A - 3 / 8 * A - B / A  # the algebraic inverse is biased at low counts
    assert abs(inverse_anscombe(f.mean(), A, B) - x) < abs(naive - x) or x > 0.3


def test_inverse_inverts_the_expectation_everywhere():
    x = np.concatenate([np.linspace(0, 0.05, 26), np.linspace(0.05, 2.5, 50)])  # beyond 200 photons too
    for a, b in ((A, B), (0.002, 0.0), (0.05, 0.001)):
        assert np.abs(inverse_anscombe(expected_anscombe(x, a, b), a, b) - x).max() < 1e-4
    t = torch.tensor(expected_anscombe(np.array([0.3, 0.6]), A, B))
    assert torch.allclose(inverse_anscombe(t, A, B), torch.tensor([0.3, 0.6], dtype=t.dtype), atol=1e-6)
    assert anscombe(np.array([0.5]), 0.0, 0.01)[0] == pytest.approx(5.0)  # a = 0: plain Gaussian scaling
    with pytest.raises(ValueError, match="a >= 0, b >= 0 and not both 0"):
        anscombe(np.ones(2), 0.0, 0.0)


def test_vst_lets_a_gaussian_denoiser_handle_poisson_gaussian_noise():
    rng = np.random.default_rng(1)
    clean = smooth_image(128, 128)
    noisy = _pg(clean.astype(np.float64), A, B, rng).astype(np.float32)
    before = np.mean((noisy - clean) ** 2)
    known = nf.load(f"vst:{A},{B}:gaussian")
    estimated = nf.load("vst:gaussian")
    assert isinstance(known, VSTDenoiser) and known.name == "vst+gaussian"
    for den in (known, estimated):
        assert np.mean((den(noisy) - clean) ** 2) < 0.5 * before
    assert looks_like_method("vst:bm3d") and looks_like_method(f"vst:{A},{B}:gray-blind")
    assert not looks_like_method("vst:nonsense")
