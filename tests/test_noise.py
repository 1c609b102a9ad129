import numpy as np
import pytest
import torch

from noisefree.noise import (
    Compose,
    Gaussian,
    Masking,
    NumpyRandom,
    Poisson,
    SaltPepper,
    Speckle,
    TorchRandom,
    corrupt,
    eval_noisy,
    parse_noise,
)


def rng(seed=0):
    return TorchRandom(torch.Generator().manual_seed(seed))


def test_gaussian_fixed_sigma_statistics():
    x = torch.full((4, 1, 128, 128), 0.5)
    noisy, sigma = corrupt(x, Gaussian(0.1), rng(), clip=False)
    d = noisy - x
    assert abs(d.mean().item()) < 2e-3
    assert abs(d.std().item() - 0.1) < 2e-3
    assert torch.equal(sigma, torch.full((4,), 0.1))


def test_gaussian_range_draws_sigma_per_image():
    x = torch.full((400, 1, 16, 16), 0.5)
    noisy, sigma = corrupt(x, parse_noise("gaussian:0-0.2"), rng(), clip=False)
    per_image = (noisy - x).flatten(1).std(1)
    assert (per_image - sigma).abs().max() < 0.02  # the returned std is the one each image got
    assert per_image.min() < 0.02 and per_image.max() > 0.18  # spans the range
    assert abs(per_image.mean().item() - 0.1) < 0.01  # uniform on [0, 0.2]


@pytest.mark.parametrize("cls,amount", [(SaltPepper, 0.05), (Masking, 0.3)])
def test_fraction_of_corrupted_pixels(cls, amount):
    x = torch.full((2, 3, 200, 200), 0.5)
    noisy = corrupt(x, cls(amount), rng(1), clip=True)[0]
    changed = (noisy != x).any(1).float().mean().item()
    assert abs(changed - amount) < 0.01
    if cls is SaltPepper:
        vals = noisy[noisy != 0.5]
        assert set(vals.unique().tolist()) <= {0.0, 1.0}
        assert abs((vals == 1).float().mean().item() - 0.5) < 0.03
    else:
        assert (noisy[noisy != 0.5] == 0).all()


def test_poisson_mean_and_variance():
    x = torch.full((1, 1, 300, 300), 0.4)
    noisy = corrupt(x, Poisson(50), rng(2), clip=False)[0]
    assert abs(noisy.mean().item() - 0.4) < 5e-3
    assert abs(noisy.var().item() - 0.4 / 50) < 5e-4  # Var[P(x*peak)/peak] = x/peak


def test_speckle_is_multiplicative():
    x = torch.zeros(1, 1, 64, 64)
    x[..., 32:] = 0.8
    noisy = corrupt(x, Speckle(0.2), rng(3), clip=False)[0]
    assert (noisy[..., :32] == 0).all()
    assert abs((noisy[..., 32:] - 0.8).std().item() - 0.16) < 0.01


def test_clip_is_an_explicit_option():
    x = torch.full((1, 1, 64, 64), 0.95)
    assert corrupt(x, Gaussian(0.2), rng(), clip=False)[0].max() > 1
    assert corrupt(x, Gaussian(0.2), rng(), clip=True)[0].max() <= 1


def test_parse_and_compose_round_trip():
    n = parse_noise("gaussian:0.1+saltpepper:0.02")
    assert isinstance(n, Compose) and n.spec == "gaussian:0.1+saltpepper:0.02"
    assert (Gaussian(0.1) + SaltPepper(0.02)).spec == n.spec and n.sigma == 0.1
    for spec in ["gaussian:0-0.2", "masking:0.3", "poisson:30", "speckle:0.1"]:
        assert parse_noise(spec).spec == spec
    with pytest.raises(ValueError, match="unknown noise 'blur'"):
        parse_noise("blur:3")
    with pytest.raises(ValueError, match="saltpepper"):
        parse_noise("saltpepper:2")
    with pytest.raises(ValueError, match="bad noise parameter"):
        parse_noise("gaussian:abc")
    for bad in ("gaussian:nan", "gaussian:0-inf", "poisson:inf", "speckle:-1", "masking:nan"):
        with pytest.raises(ValueError):
            parse_noise(bad)


def test_eval_noise_reproducible_and_batch_independent():
    clean = torch.rand(6, 3, 20, 24, dtype=torch.float64)
    noise = parse_noise("gaussian:0.1+saltpepper:0.05")
    seeds = list(range(100, 106))
    a, sigma = eval_noisy(clean, noise, seeds, clip=True)
    assert torch.equal(sigma, torch.full((6,), 0.1, dtype=torch.float64))
    b = torch.cat([eval_noisy(clean[i:i + 1], noise, [s], clip=True)[0] for i, s in enumerate(seeds)])
    assert torch.equal(a, b)
    c, _ = eval_noisy(clean, noise, [s + 1 for s in seeds], clip=True)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("channels", [1, 3])
def test_protocol_noise_is_bit_exact(channels):
    """Our noisy image equals the documented protocol's numpy computation, bit for bit."""
    rng_ = np.random.default_rng(5)
    shape = (17, 23) if channels == 1 else (17, 23, 3)
    clean_u8 = rng_.integers(0, 256, shape, dtype=np.uint8)
    i, sigma = 7, 25
    expected = clean_u8 / 255.0 + sigma / 255 * np.random.default_rng(i).standard_normal(shape)
    t = torch.from_numpy(clean_u8).double() / 255.0
    t = t[None, None] if channels == 1 else t.permute(2, 0, 1)[None]
    ours = eval_noisy(t, Gaussian(sigma / 255), [i], clip=False)[0][0]
    ours = ours[0].numpy() if channels == 1 else ours.permute(1, 2, 0).numpy()
    assert np.array_equal(ours, expected)


def test_numpy_random_small_protocol():
    clean = np.random.default_rng(0).random((28, 28))
    expected = np.clip(clean + 0.3 * np.random.default_rng(8123).standard_normal((28, 28)), 0, 1)
    ours, _ = corrupt(torch.from_numpy(clean)[None, None], Gaussian(0.3), NumpyRandom(np.random.default_rng(8123)),
                      clip=True)
    assert np.array_equal(ours[0, 0].numpy(), expected)
