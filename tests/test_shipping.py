"""benchmarks/shipping.py: installing a trained run as a shipped model keeps a record of every round."""

import csv
from pathlib import Path

import pytest
import torch

import noisefree as nf
from noisefree import pretrained
from noisefree.card import ModelCard, TrainingRecord, TrainingRound
from noisefree.config import RunConfig
from noisefree.io import write_image

from .conftest import smooth_image


@pytest.fixture
def shipping(tmp_path, monkeypatch):
    """benchmarks/shipping.py writing into a scratch assets folder instead of the package's."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import shipping

    assets = tmp_path / "assets"
    for module in (pretrained, shipping):
        monkeypatch.setattr(module, "PRETRAINED_DIR", assets)
        monkeypatch.setattr(module, "MANIFEST", assets / "manifest.json")
    return shipping


def minutes(run: Path) -> float:
    with open(run / "history.csv", newline="") as f:
        return sum(float(r["seconds"]) for r in csv.DictReader(f)) / 60


def test_each_install_adds_a_round_and_a_fresh_start_replaces_them(tmp_path, shipping):
    for i in range(4):
        write_image(tmp_path / "data" / f"{i}.png", smooth_image(48, 48, seed=i), dtype="uint8")
    base = {"name": "tiny", "dataset": f"folder:{tmp_path / 'data'}", "grayscale": True, "val_fraction": 0.25,
            "patch_size": 32, "patches_per_image": 2, "noise": "gaussian:0-0.2", "clip": False, "model": "unet",
            "model_args": {"width": 4, "levels": 2, "blocks": 1}, "epochs": 2, "batch_size": 4, "lr": 1e-3,
            "seed": 1, "device": "cpu", "eval_images": 1}
    first = nf.train(RunConfig.validated(base), out=tmp_path / "runs", quiet=True)
    shipping.install(first, "tiny", hardware="machine A")
    record = ModelCard.read(pretrained.pretrained_files("tiny")[1]).training  # checksums verified here
    weights = pretrained.pretrained_files("tiny")[0]
    assert weights.stat().st_size < 0.6 * (first / "best.safetensors").stat().st_size  # half precision...
    x = torch.rand(1, 1, 32, 32)
    shipped, trained = nf.load("tiny"), nf.load(first)
    assert all(p.dtype == torch.float32 for p in shipped.model.parameters())  # ...loaded into float32
    assert 0 < (shipped(x) - trained(x)).abs().max() < 1e-3  # rounded, not retrained: all but the same
    assert len(record.rounds) == 1 and record.run == first.name and record.config["seed"] == 1
    assert record.rounds[0].hardware == "machine A"
    assert record.rounds[0].minutes == pytest.approx(minutes(first), abs=0.05)
    assert record.rounds[0].how.startswith("2 epochs of 32x32 crops at lr 1e-3, seed 1") and "from scratch" in \
        record.rounds[0].how

    tuned = {**base, "init": "tiny", "epochs": 1, "lr": 2e-4, "seed": 2, "scales": "1,0.7", "ema": 0.99,
             "warmup": 3, "model_args": {"width": 4, "levels": 2, "blocks": [1, 2]}}
    second = nf.train(RunConfig.validated(tuned), out=tmp_path / "runs", quiet=True)
    shipping.install(second, "tiny", hardware="machine B", note="one thread")
    record = ModelCard.read(pretrained.pretrained_files("tiny")[1]).training
    assert [r.hardware for r in record.rounds] == ["machine A", "machine B"]  # the first round kept
    assert record.rounds[1].how == ("1 epoch of 32x32 crops at lr 2e-4, seed 2, weight average (EMA 0.99), "
                                    "3-step warmup, at scales 1, 0.7, fine-tuned from tiny, deepened from 1 to [1, 2] "
                                    "residual blocks per level, the new blocks starting as identities; one thread")
    assert record.minutes == pytest.approx(minutes(first) + minutes(second), abs=0.1)
    assert record.summary().startswith("2 rounds, ") and "machine A; machine B" in record.summary()
    versions = TrainingRecord(rounds=[TrainingRound(minutes=10, hardware=f"CPU X, 2 cores, torch {v}")
                                      for v in ("2.14.1", "2.15.0")])
    assert versions.summary() == "2 rounds, 20 min in all (CPU X, 2 cores)"  # one machine, named once
    assert record.details()[1].startswith("round 2 (")

    shipping.install(first, "tiny", hardware="machine C")  # not a fine-tune of the shipped model: a new record
    record = ModelCard.read(pretrained.pretrained_files("tiny")[1]).training
    assert [r.hardware for r in record.rounds] == ["machine C"]
    assert record.summary() == f"{record.minutes:.0f} min on machine C"


def test_a_training_record_refuses_a_round_without_hardware():
    card = ModelCard.read(pretrained.pretrained_files("mnist")[1]).model_dump(mode="json")
    card["training"]["rounds"][0]["hardware"] = ""
    with pytest.raises(ValueError, match="training.rounds.0.hardware"):
        ModelCard.parse(card, source="mnist card")
