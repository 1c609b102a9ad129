import sys

import numpy as np
import pytest
import torch

import noisefree as nf
from noisefree.classical import CLASSICAL, ClassicalDenoiser, method_parameter
from noisefree.noise import estimate_noise_sigma

from .conftest import smooth_image

METHODS = [m for m in CLASSICAL if m != "noisy"]


def mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - b) ** 2))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_method_reduces_error_and_keeps_shape(method, channels):
    if method == "bm3d":
        pytest.importorskip("bm3d")
    clean = smooth_image(48, 40, channels=channels, seed=3)
    noisy = (clean + 0.1 * np.random.default_rng(0).standard_normal(clean.shape)).astype(np.float32)
    den = nf.load(method)
    for sigma in (0.1, None):  # given, and estimated
        out = den(noisy, sigma=sigma)
        assert out.shape == clean.shape and out.dtype == np.float32
        assert mse(out, clean) < 0.8 * mse(noisy, clean), (method, sigma)
    chw = torch.from_numpy(noisy if channels == 1 else noisy.transpose(2, 0, 1).copy())  # tensors are (C, H, W)
    t = den(chw, sigma=0.1)
    assert isinstance(t, torch.Tensor) and t.shape == chw.shape
    expected = den(noisy, sigma=0.1)
    back = t.numpy() if channels == 1 else t.numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(back, expected, atol=1e-3)  # bm3d itself varies ~1e-7 between calls


def test_noisy_is_the_identity():
    x = np.random.default_rng(0).random((10, 12)).astype(np.float32)
    assert np.array_equal(nf.load("noisy")(x), x)


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.2])
def test_sigma_estimation_within_ten_percent(sigma):
    clean = smooth_image(128, 128, seed=1).astype(np.float64)
    noisy = clean + sigma * np.random.default_rng(4).standard_normal(clean.shape)
    assert abs(estimate_noise_sigma(noisy) - sigma) < 0.1 * sigma


def test_parameters_follow_the_tuned_rule():
    # interpolation between the tuned levels, clamped at the ends
    lo, hi = method_parameter("tv", 15 / 255), method_parameter("tv", 50 / 255)
    assert method_parameter("tv", 1 / 255) == lo and method_parameter("tv", 90 / 255) == hi
    mid = method_parameter("tv", 20 / 255)
    assert min(lo, method_parameter("tv", 25 / 255)) <= mid <= max(lo, method_parameter("tv", 25 / 255))


def test_missing_bm3d_is_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # as if not installed
    with pytest.raises(ImportError, match=r"noisefree\[bm3d\]"):
        ClassicalDenoiser("bm3d")


def test_unknown_name_is_named():
    with pytest.raises(FileNotFoundError, match="nonsense"):
        nf.load("nonsense")
