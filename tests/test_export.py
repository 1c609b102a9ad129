"""ONNX export: dynamic sizes, σ as an input, the card as metadata, parity with PyTorch, and denoising through
onnxruntime from the command line."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import noisefree as nf
from noisefree.checkpoint import save_checkpoint
from noisefree.cli import app
from noisefree.io import read_image, write_image
from noisefree.models import build_model

from .conftest import smooth_image

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
runner = CliRunner()


def _checkpoint(tmp_path, name, channels=1, **args):
    torch.manual_seed(0)
    model = build_model(name, channels=channels, **args)
    for m in model.modules():  # batch norms with statistics worth folding
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    save_checkpoint(tmp_path / name, model.eval(), {"architecture": name, "channels": channels, "arguments": args,
                                                    "name": f"tiny-{name}"})
    return tmp_path / f"{name}.safetensors"


def test_noise_map_unet_exports_with_sigma_input_any_size_and_its_card(tmp_path):
    import onnx

    ckpt = _checkpoint(tmp_path, "unet", width=4, levels=3, blocks=1, noise_map=True)
    r = runner.invoke(app, ["export", str(ckpt), "-o", str(tmp_path / "m.onnx")])
    assert r.exit_code == 0, r.output
    diffs = [float(line.rsplit(" ", 1)[1]) for line in r.output.splitlines() if "max |difference|" in line]
    assert len(diffs) == 3 and max(diffs) <= 1e-4  # 64x64, 37x50 (not a multiple of 8), 96x41 (not square)
    assert sorted(p.name for p in tmp_path.glob("m.onnx*")) == ["m.onnx"]  # one file: no stray weights beside it
    graph = onnx.load(str(tmp_path / "m.onnx"))
    assert [i.name for i in graph.graph.input] == ["image", "sigma"]
    card = json.loads({p.key: p.value for p in graph.metadata_props}["noisefree_card"])
    assert card["architecture"] == "unet" and card["takes_sigma"] is True
    den = nf.load(tmp_path / "m.onnx")
    x = torch.rand(3, 1, 29, 45)
    ref = nf.load(ckpt)
    for sigma in (0.05, 0.2):  # σ steers the exported network as it does the original
        assert (den(x, sigma=sigma) - ref(x, sigma=sigma)).abs().max() <= 1e-4
    assert (den(x, sigma=0.05) - den(x, sigma=0.2)).abs().max() > 1e-4
    assert den(torch.rand(1, 1, 5, 7)).shape == (1, 1, 5, 7)  # below the padding's minimum


def test_batchnorm_network_exports_folded_and_denoise_runs_through_onnxruntime(tmp_path):
    ckpt = _checkpoint(tmp_path, "dncnn", depth=4, width=8)
    r = runner.invoke(app, ["export", str(ckpt), "-o", str(tmp_path / "d.onnx"), "--no-check"])
    assert r.exit_code == 0, r.output
    from noisefree.export import parity

    assert max(parity(ckpt, tmp_path / "d.onnx").values()) <= 1e-4
    write_image(tmp_path / "in" / "a.png", smooth_image(40, 52), dtype="uint16")
    r = runner.invoke(app, ["denoise", "--model", str(tmp_path / "d.onnx"), str(tmp_path / "in"), "-o",
                            str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    out, info = read_image(tmp_path / "out" / "a.png")
    assert out.shape == (40, 52) and info.dtype == "uint16"
    expected = nf.load(ckpt)(read_image(tmp_path / "in" / "a.png")[0])
    assert np.abs(out - np.clip(expected, 0, 1)).max() <= 1 / 65535 + 1e-6
    with pytest.warns(UserWarning, match="takes no noise level; sigma=0.1 is ignored"):  # blind, as in PyTorch
        nf.load(tmp_path / "d.onnx")(smooth_image(40, 52), sigma=0.1)


def test_fixed_size_models_export_at_their_size_and_classical_methods_are_refused(tmp_path):
    ckpt = _checkpoint(tmp_path, "dense-ae")
    from noisefree.export import export_onnx, parity

    path = export_onnx(ckpt, tmp_path / "ae.onnx")
    assert max(parity(ckpt, path).values()) <= 1e-4
    with pytest.raises(ValueError, match="takes only 28x28"):
        nf.load(path)(np.zeros((30, 30), np.float32))
    with pytest.raises(ValueError, match="classical method has no network to export"):
        export_onnx("median", tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="with the .onnx suffix"):
        export_onnx(ckpt, tmp_path / "x.bin")


def test_ffdnet_exports_with_its_pixel_unshuffle_and_noise_map(tmp_path):
    """FFDNet's 2x2 pixel-unshuffle/shuffle and its default noise map (the card says takes_sigma without a
    noise_map argument) go into the ONNX graph; odd sizes are padded inside it."""
    import onnx

    ckpt = _checkpoint(tmp_path, "ffdnet", depth=4, width=8)
    r = runner.invoke(app, ["export", str(ckpt), "-o", str(tmp_path / "f.onnx")])
    assert r.exit_code == 0, r.output
    diffs = [float(line.rsplit(" ", 1)[1]) for line in r.output.splitlines() if "max |difference|" in line]
    assert len(diffs) == 3 and max(diffs) <= 1e-4
    assert [i.name for i in onnx.load(str(tmp_path / "f.onnx")).graph.input] == ["image", "sigma"]
