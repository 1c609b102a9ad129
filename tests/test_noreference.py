"""Real noisy images without a clean reference: nothing is added, and what is measured means what it says."""

import json

import numpy as np
from typer.testing import CliRunner

from noisefree.cli import app
from noisefree.data import load_dataset
from noisefree.io import write_image
from noisefree.noreference import evaluate_without_reference
from noisefree.resolve import resolve

from .conftest import smooth_image


def noisy_folder(tmp_path, sigma=20):
    folder = tmp_path / "noisy"
    rng = np.random.default_rng(0)
    for i in range(4):
        img = smooth_image(96, 96, seed=i) + sigma / 255 * rng.standard_normal((96, 96))
        write_image(folder / f"n{i}.png", np.clip(img, 0, 1).astype(np.float32), dtype="uint8")
    return folder


def test_indicators_tell_doing_nothing_from_denoising(tmp_path):
    data = load_dataset(f"folder:{noisy_folder(tmp_path)}")
    nothing = evaluate_without_reference(resolve("noisy").denoiser, data).summary
    assert abs(nothing["sigma_in_mean"] * 255 - 20) < 3  # the images' own noise, nothing added
    assert nothing["sigma_out_mean"] == nothing["sigma_in_mean"] and nothing["removed_ratio_mean"] == 0
    blurred = evaluate_without_reference(resolve("gaussian").denoiser, data).summary
    assert blurred["sigma_out_mean"] < 0.5 * blurred["sigma_in_mean"]  # the noise is gone...
    assert blurred["removed_ratio_mean"] > 0.8 and blurred["edge_corr_mean"] > 0.1  # ...and edges went with it


def test_evaluate_noisy_from_the_command_line(tmp_path):
    folder = noisy_folder(tmp_path)
    r = CliRunner().invoke(app, ["evaluate", "tv", "--dataset", f"folder:{folder}", "--noisy", "-o", tmp_path / "ev"])
    assert r.exit_code == 0, r.output
    assert "no reference" in r.output and "noise σ" in r.output
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["images"] == 4 and summary["reference"].startswith("none")
    assert (tmp_path / "ev" / "report.md").is_file() and (tmp_path / "ev" / "figures" / "samples.png").is_file()
    assert "sigma_in" in (tmp_path / "ev" / "metrics.csv").read_text().splitlines()[0]
    r = CliRunner().invoke(app, ["evaluate", "tv", "--noisy"])
    assert r.exit_code == 1 and "--noisy needs --dataset" in r.output
    r = CliRunner().invoke(app, ["evaluate", "tv", "--dataset", f"folder:{folder}", "--noisy", "--sigma", "25"])
    assert r.exit_code == 1 and "would add synthetic noise" in r.output
