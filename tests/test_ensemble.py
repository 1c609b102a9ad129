"""The x8 self-ensemble: eight orientations in, each turned back, averaged."""

import numpy as np
import pytest
import torch

from noisefree.augment import orient, unorient
from noisefree.denoiser import Denoiser
from noisefree.ensemble import SelfEnsemble
from noisefree.resolve import UnknownMethodError, resolve

from .conftest import smooth_image


class Ramp(Denoiser):
    """Adds a ramp along W: a 'denoiser' whose output depends on the orientation it is given."""
    takes_sigma = False
    channels = None

    def __init__(self):
        self.sigmas = []

    def denoise_batch(self, x, sigma=None):
        self.sigmas.append(sigma)
        return x + torch.linspace(0, 1, x.shape[-1])


def test_orient_and_unorient_are_the_eight_distinct_symmetries_and_inverses():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    seen = set()
    for k in range(8):
        y = orient(x, k)
        assert torch.equal(unorient(y, k), x)
        seen.add((tuple(y.shape), tuple(y.flatten().tolist())))
    assert len(seen) == 8


def test_x8_turns_every_result_back_before_averaging():
    x = torch.rand(2, 1, 6, 9)
    out = SelfEnsemble(Ramp())(x)
    assert out.shape == x.shape
    residual = out - x  # the ramp, averaged over the 8 orientations: symmetric under all of them
    for k in range(4):  # the flips keep the shape of a non-square image
        assert torch.allclose(orient(residual, k), residual, atol=1e-6)
    assert torch.allclose(residual.mean(), torch.tensor(0.5), atol=1e-6)


def test_x8_of_a_trained_model_through_the_resolver(tmp_path):
    clean = smooth_image(48, 40, seed=3).astype(np.float32)
    noisy = (clean + np.random.default_rng(0).normal(0, 0.1, clean.shape)).astype(np.float32)
    single, x8 = resolve("gray-blind"), resolve("x8:gray-blind")
    assert x8.kind == "x8" and x8.denoiser.takes_sigma and x8.identity.startswith("x8:shipped:gray-blind@")
    a, b = single.denoiser(noisy, sigma=0.1), x8.denoiser(noisy, sigma=0.1)
    assert b.shape == clean.shape and not np.allclose(a, b)
    mse = lambda y: float(np.mean((y - clean) ** 2))  # noqa: E731
    assert mse(b) < mse(a) < mse(noisy)
    assert resolve("vst:x8:median").name == "vst+x8:median"
    with pytest.raises(UnknownMethodError, match="x8:NAME"):
        resolve("x8:nope")


def test_x8_estimates_sigma_once_per_image():
    class Spy(Ramp):
        takes_sigma = True

    spy = Spy()
    SelfEnsemble(spy)(torch.rand(3, 1, 16, 16))
    assert len(spy.sigmas) == 8 and all(torch.equal(s, spy.sigmas[0]) for s in spy.sigmas)
    assert spy.sigmas[0].shape == (3,)
