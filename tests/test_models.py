import warnings

import numpy as np
import pytest
import torch

from noisefree.denoiser import NetworkDenoiser
from noisefree.models import build_model, get_spec, list_models

ALL = [s.name for s in list_models()]


def test_registry_lists_the_reference_designs_and_dncnn():
    assert {"skip-ae", "conv4-ae", "dense-ae", "pool-ae", "strided-ae", "dncnn", "ffdnet", "unet"} <= set(ALL)
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        get_spec("nope")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("channels", [1, 3])
def test_forward_shape_on_valid_sizes(name, channels):
    spec = get_spec(name)
    model = build_model(name, channels=channels).eval()
    den = NetworkDenoiser(model, {"architecture": name, "channels": channels})
    sizes = [(28, 28)] if spec.fixed_size else [(28, 28), (32, 32), (37, 50)]
    for h, w in sizes:
        out = den(torch.rand(2, channels, h, w))
        assert out.shape == (2, channels, h, w)
        assert torch.isfinite(out).all()


def test_dense_ae_refuses_other_sizes():
    den = NetworkDenoiser(build_model("dense-ae", channels=1), {"architecture": "dense-ae", "channels": 1})
    with pytest.raises(ValueError, match="takes only 28x28"):
        den(np.zeros((32, 32), np.float32))


def test_reference_layer_shapes():
    """002's listed layer outputs: 64x4x4 before the dense bottleneck, 28x28 out."""
    m = build_model("dense-ae", channels=1)
    x = torch.rand(3, 1, 28, 28)
    h = m.conv3(m.conv2(m.conv1(x)))
    assert h.shape == (3, 64, 4, 4)
    assert (m.l1.in_features, m.l1.out_features, m.l2.out_features) == (1024, 256, 1024)
    # 004: 28 -> 14 -> 7 -> 3
    s = build_model("strided-ae", channels=1)
    assert s.encoder(torch.rand(1, 1, 28, 28)).shape == (1, 128, 3, 3)
    # 001: 28 -> 7
    c = build_model("conv4-ae", channels=3)
    assert c.encoder(torch.rand(1, 3, 28, 28)).shape[-2:] == (7, 7)
    # dncnn: 17 conv layers
    d = build_model("dncnn", channels=1)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in d.modules()) == 17


def test_denoiser_accepts_arrays_batches_and_tensors():
    den = NetworkDenoiser(build_model("dncnn", channels=1, depth=4, width=8), {"architecture": "dncnn",
                                                                             "channels": 1})
    hw = np.random.rand(30, 33).astype(np.float32)
    assert den(hw).shape == (30, 33) and den(hw).dtype == np.float32
    assert den(hw[..., None]).shape == (30, 33, 1)
    assert den(np.random.rand(2, 30, 33, 1)).shape == (2, 30, 33, 1)
    assert den(np.random.rand(30, 33, 3)).shape == (30, 33, 3)  # gray model: channel by channel
    outs = den([hw, hw[:20]])
    assert [o.shape for o in outs] == [(30, 33), (20, 33)]
    t = torch.rand(3, 30, 33)
    assert den(t).shape == (3, 30, 33) and isinstance(den(t), torch.Tensor)
    np.testing.assert_allclose(den(hw * 1.0 + 0.0), den(torch.from_numpy(hw)).numpy(), atol=1e-6)
    with pytest.raises(TypeError, match="divide by 255"):
        den(np.zeros((8, 8), np.uint8))


def test_color_model_refuses_gray_input():
    den = NetworkDenoiser(build_model("dncnn", channels=3, depth=3, width=4), {"architecture": "dncnn",
                                                                             "channels": 3})
    with pytest.raises(ValueError, match="3-channel"):
        den(np.zeros((16, 16), np.float32))


def test_tiled_output_equals_untiled():
    torch.manual_seed(0)
    model = build_model("dncnn", channels=1, depth=5, width=8).eval()  # receptive-field radius 5
    card = {"architecture": "dncnn", "channels": 1}
    x = torch.rand(1, 1, 90, 117)
    whole = NetworkDenoiser(model, card, tile_pixels=10**9)(x)
    tiles = NetworkDenoiser(model, card, tile=40, overlap=24, tile_pixels=1000)(x)  # margin 6 >= 5
    assert (whole - tiles).abs().max() < 1e-4
    coarse = NetworkDenoiser(model, card, tile=40, overlap=8, tile_pixels=1000)(x)  # margin 2 < 5: differs
    assert (whole - coarse).abs().max() > 1e-4


def test_large_images_report_their_tiles():
    model = build_model("dncnn", channels=1, depth=3, width=4).eval()
    den = NetworkDenoiser(model, {"architecture": "dncnn", "channels": 1, "arguments": {"depth": 3, "width": 4}},
                          tile=40, overlap=8, tile_pixels=1000)
    seen = []
    den.tile_progress = lambda done, total: seen.append((done, total))
    den(torch.rand(1, 1, 90, 117))
    assert seen == [(k, 12) for k in range(1, 13)]  # 3 rows x 4 columns of tiles, each reported once
    x = torch.rand(2, 1, 90, 117)
    one = den(x)
    den.tile_batch = 5  # tiles through the network 5 at a time: the same result
    assert (den(x) - one).abs().max() < 1e-6


def test_progress_lines_in_logs_name_the_eta():
    from rich.console import Console

    from noisefree.progress import Progress

    console = Console(file=__import__("io").StringIO(), force_terminal=False, width=200)
    with Progress("epoch 1/3", 10, every=0.0, out=console) as bar:
        for k in range(10):
            bar.update(advance=1, text=f"loss {0.1 / (k + 1):.3f}")
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("epoch 1/3: 10/10 (100 %)") and "ETA 0:00" in lines[-1]
    assert "loss 0.010" in lines[-1]


def test_tile_weights_cover_every_pixel():
    from noisefree.denoiser import tiled

    x = torch.rand(2, 3, 70, 50)
    assert torch.allclose(tiled(lambda t: t, x, tile=32, overlap=16), x, atol=1e-6)


def test_noise_map_networks_follow_the_given_sigma():
    torch.manual_seed(0)
    for arch in ("dncnn", "unet", "ffdnet"):
        kw = {"depth": 4, "width": 8} if arch != "unet" else {"width": 8, "levels": 2, "blocks": 1}
        model = build_model(arch, channels=1, noise_map=True, **kw).eval()
        den = NetworkDenoiser(model, {"architecture": arch, "channels": 1, "arguments": {**kw, "noise_map": True}})
        assert den.card.takes_sigma
        x = torch.rand(2, 1, 24, 24)
        a, b = den(x, sigma=0.05), den(x, sigma=0.2)
        assert a.shape == x.shape and not torch.allclose(a, b)  # the slider changes the result
        assert torch.allclose(den(x, sigma=[0.05, 0.2])[1], b[1], atol=1e-6)  # per-image sigma
        assert den(x).shape == x.shape  # sigma estimated when not given
        with pytest.raises(ValueError, match="pass sigma"):
            model(x)


def test_networks_without_a_noise_map_ignore_sigma_and_say_so_once():
    torch.manual_seed(0)
    for arch in ("dncnn", "pool-ae", "skip-ae", "strided-ae", "conv4-ae"):
        model = build_model(arch, channels=1).eval()
        size = get_spec(arch).padded_size(28)
        x = torch.rand(1, 1, size, size)
        with torch.no_grad():
            assert torch.equal(model(x, 0.3), model(x))  # every network takes forward(x, sigma)
        den = NetworkDenoiser(model, {"architecture": arch, "channels": 1})
        with pytest.warns(UserWarning, match=f"{arch} takes no noise level; sigma=0.3 is ignored"):
            den(x, sigma=0.3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once: the second call is silent
            assert torch.equal(den(x, sigma=0.3), den(x))


@pytest.mark.parametrize("name,left", [("dncnn", 0), ("ffdnet", 0), ("pool-ae", 0), ("skip-ae", 3)])
def test_folded_batchnorm_equals_unfolded(name, left):
    from noisefree.inference import fold_batchnorm

    torch.manual_seed(0)
    model = build_model(name, channels=1).eval()
    with torch.no_grad():
        for m in model.modules():  # statistics a trained network would have
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.3, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    folded = fold_batchnorm(model)
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert (folded(x, 0.1) - model(x, 0.1)).abs().max() < 1e-5  # sigma: for ffdnet's noise map
    norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert norms == left  # skip-ae's norms follow a max-pool, not a convolution: they stay
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) > left  # the original is untouched


def test_a_list_of_images_is_denoised_in_batches_of_equal_size():
    model = build_model("dncnn", channels=1, depth=3, width=4).eval()
    den = NetworkDenoiser(model, {"architecture": "dncnn", "channels": 1, "arguments": {"depth": 3, "width": 4}})
    calls = []
    real = den.denoise_batch
    den.denoise_batch = lambda x, sigma=None: (calls.append(x.shape[0]), real(x, sigma))[1]
    rng = np.random.default_rng(0)
    items = [rng.random((24, 24), dtype=np.float32) for _ in range(5)] + [rng.random((16, 20), dtype=np.float32),
                                                                           torch.rand(1, 24, 24)]
    together = den(items)
    assert sorted(calls) == [1, 6]  # the 24x24 arrays and the 1x24x24 tensor in one batch; the odd size alone
    calls.clear()
    one_by_one = [den(item) for item in items]
    for a, b in zip(together, one_by_one):
        assert type(a) is type(b) and a.shape == b.shape
        assert np.allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_classical_methods_take_one_sigma_per_image_in_a_list():
    from noisefree.classical import ClassicalDenoiser

    den = ClassicalDenoiser("gaussian")
    rng = np.random.default_rng(0)
    items = [rng.random((20, 20)).astype(np.float32) for _ in range(3)]
    together = den(items, sigma=[0.01, 0.1, 0.3])
    for item, s, out in zip(items, [0.01, 0.1, 0.3], together):
        assert np.allclose(out, den(item, sigma=s), atol=1e-6)


def test_ffdnet_works_on_the_pixel_unshuffled_image():
    """FFDNet: the paper's 15 layers of 64 features at a quarter of the pixels (about 121 kMAC per pixel, a
    little over a fifth of DnCNN's 554), and its card says it takes sigma without being told."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model("ffdnet", channels=1).eval()
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 15
    assert model.net[0].in_channels == 5 and model.net[-1].out_channels == 4
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, 0.1)
    assert 115e3 < counter.get_total_flops() / 2 / 64**2 < 125e3
    assert NetworkDenoiser(model, {"architecture": "ffdnet", "channels": 1}).card.takes_sigma
    blind = build_model("ffdnet", channels=3, noise_map=False, depth=3, width=8)
    assert not NetworkDenoiser(blind, {"architecture": "ffdnet", "channels": 3,
                                       "arguments": {"noise_map": False, "depth": 3, "width": 8}}).card.takes_sigma
    assert blind(torch.rand(2, 3, 10, 12)).shape == (2, 3, 10, 12)
    with pytest.raises(ValueError, match="ffdnet depth must be >= 3"):
        build_model("ffdnet", channels=1, depth=2)


@pytest.mark.parametrize("arch,kw", [("unet", {"width": 8, "levels": 3, "blocks": 1, "noise_map": True}),
                                     ("ffdnet", {"depth": 4, "width": 8}), ("dense-ae", {})])
def test_inference_in_channels_last_equals_the_plain_network(arch, kw):
    """Denoisers run the network in the channels-last layout (faster on CPU and GPU); the numbers must not
    change beyond float rounding, and what comes back is an ordinary contiguous tensor."""
    torch.manual_seed(0)
    model = build_model(arch, channels=1, **kw).eval()
    den = NetworkDenoiser(model, {"architecture": arch, "channels": 1, "arguments": kw})
    x = torch.rand(3, 1, 28, 28) if arch == "dense-ae" else torch.rand(3, 1, 32, 32)  # sizes that need no padding
    out = den(x, sigma=0.1) if den.takes_sigma else den(x)
    first = next(m for m in den.inference_model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        plain = model(x, torch.tensor([0.1] * 3) if den.takes_sigma else None)
    assert out.is_contiguous() and (out - plain).abs().max() < 1e-5


def test_unet_takes_one_block_count_per_level_and_refuses_a_wrong_list():
    from noisefree.models.unet import ResBlock

    def counts(net):
        stages = [*net.down, net.body, *net.up]
        return [sum(isinstance(m, ResBlock) for m in stage) for stage in stages]

    assert counts(build_model("unet", channels=1, width=4, levels=3, blocks=[1, 2, 5])) == [1, 2, 5, 2, 1]
    assert counts(build_model("unet", channels=1, width=4, levels=3, blocks=2)) == [2] * 5
    net = build_model("unet", channels=1, width=4, levels=3, blocks=[0, 1, 3])  # a level may have none
    assert net(torch.rand(1, 1, 16, 16)).shape == (1, 1, 16, 16)
    for wrong in ([2, 2], [2, -1, 2], [2, 2.5, 2]):
        with pytest.raises(ValueError, match=r"blocks=.*list of 3 counts"):
            build_model("unet", channels=1, width=4, levels=3, blocks=wrong)
