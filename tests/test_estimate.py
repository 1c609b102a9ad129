"""Noise estimation from one image, against synthetic images with known parameters, and the command."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from noisefree.cli import app
from noisefree.io import write_image
from noisefree.noise import NumpyRandom, PoissonGaussian, estimate_noise_sigma, estimate_poisson_gaussian, parse_noise


def scene(size=512):
    """Smooth shading from near black to near white, with a bright disc: many intensities, few edges."""
    y, x = np.mgrid[0:size, 0:size] / size
    img = 0.02 + 0.96 * x * np.sqrt(y)
    return np.where((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.04, 0.8, img)


@pytest.mark.parametrize("sigma", [5, 15, 25, 50])
@pytest.mark.parametrize("method,within", [("weak-texture", 0.03), ("wavelet", 0.1)])
def test_gaussian_sigma_on_a_smooth_image(sigma, method, within):
    clean = scene(256)
    noisy = clean + sigma / 255 * np.random.default_rng(sigma).standard_normal(clean.shape)  # not clipped
    assert abs(estimate_noise_sigma(noisy, method=method) * 255 - sigma) < within * sigma


def textured(size=256):
    """``scene`` with fine stripes (period 3 pixels, 0.3 peak to peak) over its left half: texture at the
    scale of noise, which the wavelet estimate reads as noise."""
    img = scene(size)
    x = np.arange(size)
    img[:, : size // 2] += 0.15 * np.sin(2 * np.pi * (x[None, : size // 2] + x[:, None]) / 3)
    return img


@pytest.mark.parametrize("sigma", [5, 15])
def test_texture_is_not_read_as_noise(sigma):
    clean = textured()
    noisy = clean + sigma / 255 * np.random.default_rng(sigma).standard_normal(clean.shape)
    weak, wavelet = (estimate_noise_sigma(noisy, method=m) * 255 for m in ("weak-texture", "wavelet"))
    assert abs(weak - sigma) < 0.05 * sigma, weak
    assert wavelet > 1.3 * sigma, wavelet  # the old default, for contrast: the stripes pass for noise


def test_clipped_noise_and_colour_and_edge_cases():
    rng = np.random.default_rng(0)
    dark = np.zeros((128, 128))
    dark[:, 64:] = 0.5  # half the image clipped to 0 after noise: those pixels carry no noise
    noisy = np.clip(dark + 20 / 255 * rng.standard_normal(dark.shape), 0, 1)
    assert abs(estimate_noise_sigma(noisy) * 255 - 20) < 1.0
    rgb = np.stack([scene(128)] * 3, -1) + rng.normal(0, [5 / 255, 10 / 255, 15 / 255], (128, 128, 3))
    assert abs(estimate_noise_sigma(rgb) * 255 - 10) < 0.5  # the mean over channels
    assert estimate_noise_sigma(np.full((32, 32), 0.3)) == 0.0
    assert estimate_noise_sigma(scene(64)) * 255 < 0.5  # clean and smooth: next to no noise
    with pytest.raises(ValueError, match="unknown noise estimator 'mad'.*weak-texture, wavelet"):
        estimate_noise_sigma(noisy, method="mad")
    with pytest.raises(ValueError, match="at least 3x3"):
        estimate_noise_sigma(np.zeros((2, 40)))


@pytest.mark.parametrize("a,b", [(0.01, 0.0004), (0.003, 0.0001), (0.02, 0.001), (0.001, 0.00005)])
@pytest.mark.parametrize("seed", [0, 1])
def test_poisson_gaussian_parameters_within_a_quarter(a, b, seed):
    clean = torch.from_numpy(scene())[None, None]
    noisy = PoissonGaussian(a, b)(clean, NumpyRandom(np.random.default_rng(seed)))[0, 0].numpy()
    ea, eb = estimate_poisson_gaussian(noisy)
    assert abs(ea - a) < 0.25 * a and abs(eb - b) < 0.25 * b, (ea, eb)


@pytest.mark.parametrize("a,b", [(0.01, 0.0004), (0.003, 0.0001)])
def test_poisson_gaussian_fit_ignores_texture(a, b):
    """Half the image striped finer than the noise's own scale: the fit keeps to the untextured half."""
    clean = torch.from_numpy(textured(512)).clamp(0, 1)[None, None]
    noisy = PoissonGaussian(a, b)(clean, NumpyRandom(np.random.default_rng(0)))[0, 0].numpy()
    ea, eb = estimate_poisson_gaussian(noisy)
    assert abs(ea - a) < 0.15 * a, (ea, eb)
    assert abs(np.sqrt(ea * 0.5 + eb) - np.sqrt(a * 0.5 + b)) < 0.05 * np.sqrt(a * 0.5 + b)  # std at mid-gray


def test_poisson_gaussian_noise_has_the_stated_mean_and_variance():
    noise = parse_noise("poissongauss:0.01,0.0004")
    assert noise == PoissonGaussian(0.01, 0.0004) and noise.spec == "poissongauss:0.01,0.0004"
    for level in (0.1, 0.6):
        x = torch.full((1, 1, 400, 400), level, dtype=torch.float64)
        y = noise(x, NumpyRandom(np.random.default_rng(3)))
        assert abs(y.mean().item() - level) < 2e-3
        assert abs(y.var().item() - (0.01 * level + 0.0004)) < 0.03 * (0.01 * level + 0.0004)
    for bad in ("poissongauss:0.01", "poissongauss:-1,0", "poissongauss:a,b"):
        with pytest.raises(ValueError, match="poissongauss:A,B"):
            parse_noise(bad)


def test_estimate_command(tmp_path):
    clean = scene(256)
    write_image(tmp_path / "a.png", np.clip(clean + 15 / 255 * np.random.default_rng(0).standard_normal(clean.shape),
                                            0, 1), dtype="uint16")
    (tmp_path / "b.png").write_text("not an image")
    r = CliRunner().invoke(app, ["estimate", str(tmp_path), "--json"])
    rows = json.loads(r.output[r.output.index("["):])
    assert len(rows) == 1 and abs(rows[0]["sigma_8bit"] - 15) < 1.5 and rows[0]["bits"] == "uint16"
    assert "b.png" in r.output  # the unreadable one is named
    r = CliRunner().invoke(app, ["estimate", str(tmp_path / "a.png")])
    assert r.exit_code == 0 and "σ (8-bit)" in r.output and "Foi et al. 2008" in r.output and "Liu" in r.output
    r = CliRunner().invoke(app, ["estimate", str(tmp_path / "a.png"), "--method", "wavelet"])
    assert r.exit_code == 0 and "Donoho" in r.output
    r = CliRunner().invoke(app, ["estimate", str(tmp_path / "a.png"), "--method", "mad"])
    assert r.exit_code != 0 and "--method 'mad'" in r.output and "weak-texture, wavelet" in r.output
    r = CliRunner().invoke(app, ["estimate", str(tmp_path / "b.png")])  # nothing readable: an error, no table
    assert r.exit_code == 1 and "nothing estimated" in r.output and "σ (8-bit)" not in r.output


def test_sigma_of_a_large_image_is_estimated_from_bounded_crops(monkeypatch):
    from noisefree.noise import estimate as est

    clean = np.tile(scene(500), (6, 6))  # 3000 x 3000
    noisy = (clean + 20 / 255 * np.random.default_rng(0).standard_normal(clean.shape)).astype(np.float32)
    seen = []
    real = est.estimate_noise_sigma
    monkeypatch.setattr(est, "estimate_noise_sigma", lambda im, **kw: (seen.append(im.size), real(im, **kw))[1])
    sigma = est.estimate_noise_sigma_sampled(noisy)
    assert abs(sigma * 255 - 20) < 2 and len(seen) == 16 and max(seen) == 256 * 256


def test_small_images_get_a_fit_or_a_reason_and_the_command_keeps_their_sigma(tmp_path):
    """A 64 x 64 image has too little flat area for 16 intensity groups: the fit uses fewer (it crashed with
    'zero-size array' before); a 20 x 20 one is too small for any fit, which says so, and `noisefree estimate`
    still reports its σ."""
    rng = np.random.default_rng(0)
    small = np.clip(scene(64) + 0.05 * rng.standard_normal((64, 64)), 0, 1)
    a, b = estimate_poisson_gaussian(small)
    assert np.isfinite(a) and np.isfinite(b) and abs(np.sqrt(a * 0.5 + b) - 0.05) < 0.02  # the std at mid-gray
    tiny = np.clip(0.5 + 0.05 * rng.standard_normal((20, 20)), 0, 1)
    with pytest.raises(ValueError, match=r"too few unclipped pixels \(400\)"):
        estimate_poisson_gaussian(tiny)
    write_image(tmp_path / "tiny.png", tiny)
    r = CliRunner().invoke(app, ["estimate", str(tmp_path / "tiny.png"), "--json"])
    rows = json.loads(r.output[r.output.index("["):])
    assert r.exit_code == 0 and len(rows) == 1 and rows[0]["a"] is None and rows[0]["b"] is None
    assert abs(rows[0]["sigma_8bit"] - 12.75) < 3 and "no Poisson-Gaussian a, b" in r.output
    r = CliRunner().invoke(app, ["estimate", str(tmp_path / "tiny.png")])
    assert r.exit_code == 0 and "—" in r.output and "tiny.png" in r.output


@pytest.mark.parametrize("a,b", [(0.0, (25 / 255) ** 2), (0.01, 0.0004)])
def test_clipped_noise_is_not_read_as_shot_noise(a, b):
    """Noise clipped to [0, 1], as in 8-bit photographs, has less variance near black and white; the fit models
    the clipping (a straight line read Gaussian noise of std 25 here as shot noise, a = 0.0035)."""
    clean = np.clip((scene() - 0.02) / 0.96, 0, 1)  # from black to white
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + np.sqrt(a * clean + b) * rng.standard_normal(clean.shape), 0, 1)
    ea, eb = estimate_poisson_gaussian(noisy)
    if a == 0:
        assert ea < 0.02 * b and abs(eb - b) < 0.05 * b, (ea, eb)
    else:
        assert abs(ea - a) < 0.15 * a and abs(eb - b) < 0.25 * b, (ea, eb)


@pytest.mark.parametrize("sigma", [25, 50])
def test_clipped_gaussian_sigma_is_not_underestimated(sigma):
    """Clipping to [0, 1] takes variance from noise near black and white; sigma models it (it read 50 as 45 on
    8-bit BSD68 images before) rather than dropping those pixels."""
    clean = np.clip((scene(256) - 0.02) / 0.96, 0, 1)
    noisy = np.clip(clean + sigma / 255 * np.random.default_rng(sigma).standard_normal(clean.shape), 0, 1)
    noisy = np.round(noisy * 255) / 255  # stored in 8 bits
    assert abs(estimate_noise_sigma(noisy) * 255 - sigma) < 0.03 * sigma


def test_denoisers_are_told_the_noise_left_after_clipping():
    """Blind denoising tells a clipped image's denoiser the RMS of the noise clipping left (checked against many
    noise draws on the same image); an unclipped image's, the estimate itself."""
    from noisefree.denoiser import sigma_per_image
    from noisefree.noise import denoising_sigma, estimate_noise_sigma_sampled

    clean = np.clip((scene(256) - 0.02) / 0.96, 0, 1)
    rng = np.random.default_rng(0)
    draws = np.clip(clean + 50 / 255 * rng.standard_normal((40, *clean.shape)), 0, 1)
    left = np.sqrt(np.mean(draws.var(axis=0, ddof=1)))  # the clipped noise's std, pixel by pixel, as an RMS
    noisy = draws[0]
    told = denoising_sigma(noisy)
    assert abs(told - left) < 0.02 * left and told < 0.97 * estimate_noise_sigma_sampled(noisy), (told, left)
    assert sigma_per_image(torch.from_numpy(noisy)[None, None], None).item() == pytest.approx(told, rel=1e-5)
    unclipped = clean + 50 / 255 * rng.standard_normal(clean.shape)
    assert denoising_sigma(unclipped) == estimate_noise_sigma_sampled(unclipped)


@pytest.mark.parametrize("seed", range(6))
def test_an_image_clipped_far_from_its_flat_parts_gets_their_rms(seed):
    """One clipped pixel makes the image 'clipped', while its flat parts lie far from 0 and 1: the clipped model
    then equals the plain RMS (a root search between equal ends failed on a photograph here before)."""
    rng = np.random.default_rng(seed)
    img = 0.5 + 5 / 255 * rng.standard_normal((96, 96))
    img[0, 0] = 0.0
    assert abs(estimate_noise_sigma(img) * 255 - 5) < 0.3
