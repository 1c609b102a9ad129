"""Other people's checkpoints: published architectures (randomly initialised here, no downloads) saved as
PyTorch state dicts load through spandrel, safely, and work like our own models."""

import importlib

import pytest
import torch
from typer.testing import CliRunner

import noisefree as nf
from noisefree.cli import app
from noisefree.io import read_image, write_image
from noisefree.resolve import resolve

from .conftest import smooth_image

pytest.importorskip("spandrel")
runner = CliRunner()


def _arch(module: str, cls: str):
    return getattr(importlib.import_module(f"spandrel.architectures.{module}"), cls)


def test_a_dncnn_state_dict_loads_with_its_licence_and_denoises_like_the_original(tmp_path):
    torch.manual_seed(0)
    net = _arch("DnCNN.__arch.network_dncnn", "DnCNN")(in_nc=1, out_nc=1, nc=8, nb=5, act_mode="BR").eval()
    torch.save({"params": net.state_dict()}, tmp_path / "dncnn.pth")  # BasicSR-style wrapping
    method = resolve(tmp_path / "dncnn.pth")
    den = method.denoiser
    assert method.kind == "thirdparty" and den.channels == 1 and not den.takes_sigma
    assert den.license.startswith("MIT") and "DnCNN" in den.name
    x = torch.rand(2, 1, 33, 47)
    with torch.no_grad():
        assert torch.allclose(den(x), net(x), atol=1e-6)
    write_image(tmp_path / "in" / "a.png", smooth_image(32, 40), dtype="uint8")
    r = runner.invoke(app, ["denoise", str(tmp_path / "dncnn.pth"), str(tmp_path / "in"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "o" / "a.png")[0].shape == (32, 40)
    assert method.identity.startswith("thirdparty:")  # benchmark caches key on the file's checksum
    r = runner.invoke(app, ["evaluate", str(tmp_path / "dncnn.pth"), "--dataset", "digits", "--split", "test",
                            "--max-images", "4", "--noise", "gaussian:0.1", "-o", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    from noisefree.benchmark import run_benchmark

    cells = run_benchmark(["median", f"published DnCNN={tmp_path / 'dncnn.pth'}"], "digits", sigmas=[0.1],
                          protocol="small", out_dir=tmp_path / "bench", max_images=4, workers=1, log=lambda *a: None)
    assert {c.method for c in cells} == {"median", "published DnCNN"}
    assert "| published DnCNN |" in (tmp_path / "bench" / "results.md").read_text()


def test_drunet_gets_the_noise_level_map_and_any_size(tmp_path):
    torch.manual_seed(0)
    net = _arch("DRUNet.__arch.network_unet", "DRUNet")(in_nc=2, out_nc=1, nc=[8, 16, 32, 64], nb=2).eval()
    torch.save(net.state_dict(), tmp_path / "drunet_gray.pth")
    den = nf.load(tmp_path / "drunet_gray.pth")
    assert den.takes_sigma and den.channels == 1
    x = torch.rand(1, 1, 30, 45)
    a, b = den(x, sigma=0.05), den(x, sigma=0.2)
    assert a.shape == x.shape and (a - b).abs().max() > 1e-5  # σ steers it
    padded = torch.nn.functional.pad(x, (0, 3, 0, 2), mode="reflect")
    with torch.no_grad():
        ref = net(torch.cat([padded, torch.full_like(padded, 0.05)], 1))[..., :30, :45]
    assert torch.allclose(a, ref, atol=1e-6)
    assert den(smooth_image(20, 20)).shape == (20, 20)  # σ estimated when not given


def test_unsafe_unknown_and_super_resolution_files_are_refused_by_name(tmp_path):
    torch.save(torch.nn.Conv2d(1, 1, 3), tmp_path / "module.pt")  # a whole pickled module: code, not weights
    with pytest.raises(ValueError, match=r"module.pt: not a file of weights that loads safely .*weights_only"):
        nf.load(tmp_path / "module.pt")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match="odd.pth: spandrel does not recognise this network"):
        nf.load(tmp_path / "odd.pth")
    sr = _arch("Compact.__arch.SRVGG", "SRVGGNetCompact")(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2)
    torch.save(sr.state_dict(), tmp_path / "sr.pth")
    with pytest.raises(ValueError, match=r"sr.pth: a .* model \(scale 2\), not a denoiser"):
        nf.load(tmp_path / "sr.pth")
