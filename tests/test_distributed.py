"""Training on two processes with torchrun + DDP on the CPU (gloo), as CI can: it finishes, learns, its
checkpoint loads in one process, and it resumes."""

import csv
import os
import subprocess
import sys

import pytest
import torch

import noisefree as nf
from noisefree.distributed import Dist, launch


def noisefree(*args, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "noisefree", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.slow
def test_two_processes_train_resume_and_load_in_one(tmp_path):
    r = noisefree("train", "--dataset", "digits", "--subset", "0:600", "--model", "pool-ae", "--noise", "gaussian:0.3",
                  "--epochs", "2", "--batch-size", "32", "--eval-images", "20", "--device", "cpu", "--nproc", "2",
                  "--minutes", "60", "--schedule", "cosine", "--out", tmp_path, "-q")  # ranks plan epochs alike
    assert r.returncode == 0, r.stderr[-3000:]
    run = next(tmp_path.iterdir())
    assert r.stdout.count("run folder:") == 1  # rank 0 alone speaks
    assert "nproc: 2" in (run / "config.yaml").read_text()
    with open(run / "history.csv") as f:
        history = list(csv.DictReader(f))
    assert len(history) == 2 and float(history[1]["train_loss"]) < float(history[0]["train_loss"])
    assert [float(h["lr"]) for h in history] == pytest.approx([1e-3, 5e-4])  # cosine over the 2 planned epochs
    state = torch.load(run / "train_state.pt", weights_only=True)
    assert len(state["generators"]) == 2 and not torch.equal(*state["generators"])  # each rank its own stream
    den = nf.load(run)  # one process reads what two wrote
    assert den(torch.rand(1, 1, 28, 28)).shape == (1, 1, 28, 28)

    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("epochs: 2", "epochs: 3"))
    r = noisefree("train", "--resume", run, "-q")
    assert r.returncode == 0, r.stderr[-3000:]
    with open(run / "history.csv") as f:
        assert [h["epoch"] for h in csv.DictReader(f)] == ["1", "2", "3"]


def test_nproc_in_one_process_says_how_to_launch(tmp_path):
    with pytest.raises(ValueError, match="torchrun --nproc_per_node 2"):
        nf.train(preset="demo", nproc=2, device="cpu", out=tmp_path, quiet=True)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_launch_leaves_nproc_to_torchrun(monkeypatch):
    seen = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: seen.append(cmd) or 0)
    assert launch(2, ["train", "--nproc", "2", "--epochs", "3", "--nproc=2"]) == 0
    cmd = seen[0]
    assert cmd[cmd.index("-m", 3) + 1:] == ["noisefree", "train", "--epochs", "3"]
    assert "--nproc_per_node=2" in cmd and "--standalone" in cmd


def test_a_single_process_is_rank_zero_of_one():
    d = Dist()
    assert d.main and not d.active and d.broadcast(5) == 5 and d.gather("x") == ["x"]


def test_denoise_under_torchrun_writes_each_file_once(tmp_path):
    import numpy as np

    from noisefree.io import read_image, write_image

    from .conftest import smooth_image

    for i in range(5):
        write_image(tmp_path / "in" / f"f{i}.png", smooth_image(24, 24, seed=i), dtype="uint8")
    (tmp_path / "in" / "broken.png").write_bytes(b"no")
    # f0.gif is also written as PNG and is shared out to the other process than f0.png: planned before sharing
    from PIL import Image

    Image.fromarray((smooth_image(24, 24, seed=9) * 255).astype(np.uint8)).save(tmp_path / "in" / "f0.gif")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
                        "noisefree", "denoise", "median", tmp_path / "in", "-o", tmp_path / "out"],
                       capture_output=True, text=True, timeout=300, env=env)
    text = r.stdout + r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([f"f{i}.png" for i in range(5)]
                                                                           + ["f0_gif.png"])
    assert text.count("f0.gif is written as") == 1 and "exists" not in text
    for i in range(5):  # each file denoised by exactly one rank
        assert text.count(f"denoised {tmp_path / 'in' / f'f{i}.png'}") == 1
    assert text.count("broken.png") >= 1 and "rank 0:" in text and "rank 1:" in text
    assert np.isfinite(read_image(tmp_path / "out" / "f0.png")[0]).all()
