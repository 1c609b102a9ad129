import json

import numpy as np
import pytest
import torch

from noisefree.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from noisefree.models import build_model
from noisefree.resolve import resolve


@pytest.mark.parametrize("name", ["pool-ae", "dncnn", "skip-ae"])
def test_round_trip_gives_identical_outputs(tmp_path, name):
    torch.manual_seed(0)
    model = build_model(name, channels=1).eval()
    with torch.no_grad():  # make batch-norm statistics non-trivial
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    save_checkpoint(tmp_path / "m", model, {"architecture": name, "channels": 1, "arguments": {}})
    den = resolve(tmp_path / "m.safetensors", device="cpu").denoiser
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(den.model(x), expected)  # the weights came back exactly
    assert (den(x) - expected).abs().max() < 1e-5  # den runs them with batch norms folded


def test_card_alone_rebuilds_model_and_metadata_is_a_fallback(tmp_path):
    model = build_model("dncnn", channels=3, depth=5, width=16)
    save_checkpoint(tmp_path / "best", model, {"architecture": "dncnn", "channels": 3,
                                               "arguments": {"depth": 5, "width": 16}, "noise": "gaussian:0.1"})
    card = json.loads((tmp_path / "best.json").read_text())
    assert card["format"] == "noisefree-model/1" and card["arguments"] == {"depth": 5, "width": 16}
    (tmp_path / "best.json").unlink()
    rebuilt, card2 = load_checkpoint(tmp_path, device="cpu")  # a folder -> best.safetensors
    assert card2.noise == "gaussian:0.1" and card2.takes_sigma is False
    for k, v in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[k], v)


def test_weights_file_is_safetensors_not_pickle(tmp_path):
    save_checkpoint(tmp_path / "m", build_model("pool-ae", channels=1), {"architecture": "pool-ae", "channels": 1})
    head = (tmp_path / "m.safetensors").read_bytes()[:16]
    assert not head.startswith(b"\x80")  # pickle protocol marker
    n = int.from_bytes(head[:8], "little")
    header = json.loads((tmp_path / "m.safetensors").read_bytes()[8:8 + n])
    assert "noisefree_card" in header["__metadata__"]


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        load_checkpoint(tmp_path / "nothing.safetensors")
    np.testing.assert_equal(1, 1)


@pytest.mark.parametrize("content,what", [
    (b"PK\x03\x04" + bytes(200), "zip archive"),  # what torch.save writes
    (b"\x80\x02}q\x00." + bytes(50), "pickle"),  # an old-style torch pickle
    (b"", "empty file"),
    (bytes(range(256)) * 4, "not in the safetensors format"),
])
def test_foreign_files_are_refused_by_name_without_running_them(tmp_path, content, what):
    for name in ("model.pt", "weights.pth", "best.safetensors"):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=what) as exc:
            load_checkpoint(path)
        assert str(path) in str(exc.value) and "never runs pickled code" in str(exc.value)
    with pytest.raises(CheckpointError, match="best.safetensors"):  # a run folder holding such a file
        load_checkpoint(tmp_path)


def test_real_torch_save_file_is_refused(tmp_path):
    torch.save(build_model("pool-ae", channels=1).state_dict(), tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match="m.pth: not a noisefree checkpoint"):
        load_checkpoint(tmp_path / "m.pth")


def test_a_damaged_card_is_named(tmp_path):
    save_checkpoint(tmp_path / "m", build_model("pool-ae", channels=1), {"architecture": "pool-ae", "channels": 1})
    (tmp_path / "m.json").write_text('{"architecture": "pool-ae", "channels": "many"}')
    with pytest.raises(CheckpointError, match=r"m.json: not a valid noisefree model card: channels"):
        load_checkpoint(tmp_path / "m.safetensors")
