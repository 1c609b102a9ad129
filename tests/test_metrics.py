import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from noisefree.metrics import psnr, ssim


def to_t(a):
    return torch.from_numpy(a if a.ndim == 3 else a[..., None]).permute(2, 0, 1)[None]


@pytest.mark.parametrize("shape,data_range", [((28, 28), 1.0), ((45, 61, 3), 1.0), ((33, 40), 255.0)])
def test_agree_with_scikit_image(shape, data_range):
    rng = np.random.default_rng(1)
    clean = rng.random(shape) * data_range
    noisy = np.clip(clean + 0.08 * data_range * rng.standard_normal(shape), 0, data_range)
    ref_p = peak_signal_noise_ratio(clean, noisy, data_range=data_range)
    ref_s = structural_similarity(clean, noisy, data_range=data_range, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, channel_axis=-1 if len(shape) == 3 else None)
    ours_p = psnr(to_t(noisy), to_t(clean), data_range=data_range).item()
    ours_s = ssim(to_t(noisy), to_t(clean), data_range=data_range).item()
    assert abs(ours_p - ref_p) < 1e-3
    assert abs(ours_s - ref_s) < 1e-4


def test_batch_gives_one_value_per_image():
    x = torch.rand(5, 1, 32, 32)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    p, s = psnr(y, x), ssim(y, x)
    assert p.shape == s.shape == (5,)
    assert torch.allclose(p[2], psnr(y[2:3], x[2:3])[0])
    assert ssim(x, x).allclose(torch.ones(5, dtype=torch.float64))


def test_too_small_for_ssim_window():
    with pytest.raises(ValueError, match="smaller than"):
        ssim(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


def test_zoomed_crops_go_where_the_detail_is():
    import numpy as np

    from noisefree.report import detailed_region

    img = np.zeros((120, 200))
    img[70:100, 20:60] = np.random.default_rng(0).random((30, 40))  # texture bottom left, flat elsewhere
    y, x = detailed_region(img, 40, 60)
    assert 40 <= y <= 70 and 0 <= x <= 20  # the 40x60 window covers the textured patch
    assert detailed_region(np.zeros((50, 50)), 50, 50) == (0, 0)
