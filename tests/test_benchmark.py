import csv
import json
import sys
from pathlib import Path

import torch
from typer.testing import CliRunner

from noisefree.benchmark import run_benchmark
from noisefree.cli import app


def test_benchmark_end_to_end_and_cache(tmp_path, image_folder, monkeypatch):
    out = tmp_path / "bench"
    logs = []
    cells = run_benchmark(["noisy", "tv", "median"], f"folder:{image_folder}", sigmas=[15, 50], out_dir=out,
                          workers=2, log=logs.append)
    assert len(cells) == 6
    for f in ["results.md", "results.csv", "per_image.csv", "psnr_vs_sigma.png", "quality_vs_time.png",
              "crops.png"]:
        assert (out / f).is_file(), f
    rows = list(csv.DictReader(open(out / "results.csv")))
    psnr = {(r["method"], float(r["sigma"])): float(r["psnr_mean"]) for r in rows}
    assert psnr[("tv", 15)] > psnr[("noisy", 15)] and psnr[("tv", 50)] > psnr[("noisy", 50)]
    assert psnr[("noisy", 15)] > psnr[("noisy", 50)]
    assert len(list(csv.DictReader(open(out / "per_image.csv")))) == 6 * 6  # 3 methods x 2 sigmas x 6 images
    assert "AMD" in (out / "results.md").read_text() or "cores" in (out / "results.md").read_text()

    # second run: every cell comes from the cache, with identical numbers
    logs.clear()
    again = run_benchmark(["noisy", "tv", "median"], f"folder:{image_folder}", sigmas=[15, 50], out_dir=out,
                          workers=2, log=logs.append)
    assert sum("cached" in m for m in logs) == 6
    assert [c.summary["psnr_mean"] for c in again] == [c.summary["psnr_mean"] for c in cells]
    # a stopped run: remove one cell, only that one is recomputed
    victim = next((out / "cache").glob("tv-s50-*.json"))
    victim.unlink()
    logs.clear()
    run_benchmark(["noisy", "tv", "median"], f"folder:{image_folder}", sigmas=[15, 50], out_dir=out,
                  workers=1, log=logs.append)
    assert sum("cached" in m for m in logs) == 5


def test_parallel_and_serial_agree(tmp_path, image_folder):
    a = run_benchmark(["nlm"], f"folder:{image_folder}", sigmas=[25], out_dir=tmp_path / "a", workers=2, log=print)
    b = run_benchmark(["nlm"], f"folder:{image_folder}", sigmas=[25], out_dir=tmp_path / "b", workers=1, log=print)
    assert [r["psnr"] for r in a[0].rows] == [r["psnr"] for r in b[0].rows]
    for run in "ab":  # a classical method's time is single-core seconds whether or not workers ran it
        assert "| nlm | " in (md := (tmp_path / run / "results.md").read_text()) and "(1 core) |" in md


def test_cli_benchmark_skips_missing_bm3d(tmp_path, image_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)
    r = CliRunner().invoke(app, ["benchmark", "--methods", "bm3d,gaussian", "--dataset", f"folder:{image_folder}",
                                 "--sigma", "25", "--workers", "1", "-o", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    md = (tmp_path / "b" / "results.md").read_text()
    assert "| gaussian |" in md and "bm3d | not run" in md and "noisefree[bm3d]" in md
    summary = json.loads(next((tmp_path / "b" / "cache").glob("*.json")).read_text())["summary"]
    assert summary["method"] == "gaussian"


def test_networks_sit_beside_classical_methods_under_a_label(tmp_path, image_folder):
    from noisefree.checkpoint import save_checkpoint
    from noisefree.models import build_model

    ckpt = save_checkpoint(tmp_path / "net", build_model("dncnn", channels=1, depth=3, width=4),
                           {"architecture": "dncnn", "channels": 1, "arguments": {"depth": 3, "width": 4}})
    cells = run_benchmark(["gaussian", f"tiny dncnn={ckpt}"], f"folder:{image_folder}", sigmas=[25],
                          out_dir=tmp_path / "b", workers=1, log=print)
    assert [c.method for c in cells] == ["gaussian", "tiny dncnn"]
    md = (tmp_path / "b" / "results.md").read_text()
    assert "| tiny dncnn |" in md and str(ckpt) not in md.split("\n", 1)[1]


def test_cache_key_follows_the_tuned_rule(monkeypatch):
    from noisefree import benchmark, classical
    from noisefree.resolve import resolve

    def key():
        return benchmark._cache_key(resolve("tv").identity, "tv", "folder:x", 25, {"n": 3})

    before = key()
    assert before == key()
    tuned = classical._tuned()
    changed = {**tuned, "methods": {**tuned["methods"], "tv": {**tuned["methods"]["tv"], "best": [9, 9, 9]}}}
    monkeypatch.setattr(classical, "_tuned", lambda: changed)
    assert key() != before


def test_a_checkpoint_is_identified_by_its_content_not_its_name(tmp_path):
    from noisefree.checkpoint import save_checkpoint
    from noisefree.models import build_model
    from noisefree.resolve import resolve

    card = {"architecture": "dncnn", "channels": 1, "arguments": {"depth": 3, "width": 4}}
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "net", build_model("dncnn", channels=1, depth=3, width=4), card)
    first = resolve(tmp_path / "net.safetensors").identity
    assert resolve(tmp_path / "net.safetensors").identity == first
    save_checkpoint(tmp_path / "net", build_model("dncnn", channels=1, depth=3, width=4), card)  # new weights
    assert resolve(tmp_path / "net.safetensors").identity != first


def test_preset_table_keeps_the_rows_it_did_not_rerun(tmp_path, monkeypatch):
    """benchmarks/presets.py --only X rewrites the README's preset table with X's new rows and keeps the other
    rows as they were (their results live on another machine), naming both machines."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import presets as bench

    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- presets:start -->\n| preset | h |\n|---|---|\n| `ref-pool-cifar10` | old cifar row |\n"
                      "| `ref-pool-mnist` | old mnist row |\n\nTimes measured on: Old CPU.\n<!-- presets:end -->\ny\n")
    new = {"ref-pool-mnist": {"epochs_run": 2, "epochs_preset": 50, "seconds_per_epoch": 1.0, "hardware": "New CPU",
                              "images": 10, "noise": "gaussian:0.5", "psnr_mean": 20.0, "ssim_mean": 0.8,
                              "noisy_psnr_mean": 9.0, "noisy_ssim_mean": 0.4, "command": "python presets.py"}}
    bench.write_table(new, readme)
    text = readme.read_text()
    assert "| `ref-pool-cifar10` | old cifar row |" in text and "old mnist row" not in text
    assert "**20.00 dB / 0.800**" in text and text.startswith("x\n") and text.endswith("y\n")
    assert "Times measured on: New CPU (ref-pool-mnist); Old CPU (ref-pool-cifar10)." in text
