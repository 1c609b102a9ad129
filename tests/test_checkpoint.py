import json

import numpy as np
import pytest
import torch

from noisefree.checkpoint import load_checkpoint, load_network, save_checkpoint
from noisefree.models import build_model


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
    den = load_network(tmp_path / "m.safetensors", device="cpu")
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        expected = model(x)
    assert torch.equal(den(x), expected)


def test_card_alone_rebuilds_model_and_metadata_is_a_fallback(tmp_path):
    model = build_model("dncnn", channels=3, depth=5, width=16)
    save_checkpoint(tmp_path / "best", model, {"architecture": "dncnn", "channels": 3,
                                               "arguments": {"depth": 5, "width": 16}, "noise": "gaussian:0.1"})
    card = json.loads((tmp_path / "best.json").read_text())
    assert card["format"] == "noisefree-model/1" and card["arguments"] == {"depth": 5, "width": 16}
    (tmp_path / "best.json").unlink()
    rebuilt, card2 = load_checkpoint(tmp_path, device="cpu")  # a folder -> best.safetensors
    assert card2["noise"] == "gaussian:0.1"
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
