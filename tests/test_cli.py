"""The command line, as a user runs it."""

import json
import shutil

import numpy as np
from typer.testing import CliRunner

from noisefree.cli import app
from noisefree.io import read_image, write_image

from .conftest import smooth_image

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def test_train_evaluate_denoise_end_to_end(tmp_path):
    r = run("train", "--dataset", "digits", "--subset", "0:1500", "--model", "pool-ae", "--noise", "gaussian:0.3",
            "--epochs", "3", "--eval-images", "50", "--device", "cpu", "--out", tmp_path / "runs", "-q")
    assert r.exit_code == 0, r.output
    run_dir = next((tmp_path / "runs").iterdir())
    assert (run_dir / "report.md").is_file() and (run_dir / "figures" / "samples.png").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["psnr_mean"] > summary["noisy_psnr_mean"]
    r = run("models", run_dir)  # a run's card: what it is and how it validated
    assert r.exit_code == 0 and "pool-ae(" in r.output and "validation (its held-out" in r.output, r.output

    # evaluate: defaults (dataset, noise) come from the model card
    r = run("evaluate", run_dir, "--max-images", "40", "-o", tmp_path / "ev")
    assert r.exit_code == 0, r.output
    assert "evaluating on digits test, held out from training" in r.output  # the run trained on digits train
    rows = (tmp_path / "ev" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 41 and rows[0].startswith("index,file,psnr,ssim")
    assert (tmp_path / "ev" / "report.md").is_file()
    # two evaluations see identical noisy images -> identical numbers
    r = run("evaluate", run_dir, "--max-images", "40", "-o", tmp_path / "ev2")
    assert (tmp_path / "ev2" / "metrics.csv").read_text() == (tmp_path / "ev" / "metrics.csv").read_text()
    r = run("evaluate", run_dir, "--max-images", "10", "--sigma", "0.1,0.2", "-o", tmp_path / "ev3")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ev3" / "sigma0.1" / "summary.json").is_file()
    combined = (tmp_path / "ev3" / "report.md").read_text()  # one report over all levels, with its plot
    assert "| 0.1 |" in combined and "| 0.2 |" in combined and (tmp_path / "ev3" / "quality_vs_sigma.png").is_file()

    # denoise: a folder with a bad file; the rest finish, each output keeps depth and channels
    inputs = tmp_path / "in"
    write_image(inputs / "a.png", smooth_image(28, 28), dtype="uint8")
    write_image(inputs / "deep" / "b.tif", smooth_image(36, 30), dtype="uint16")
    write_image(inputs / "c.png", smooth_image(28, 28, channels=3), dtype="uint8")
    (inputs / "broken.png").write_bytes(b"not an image")
    r = run("denoise", run_dir / "best.safetensors", inputs, "-o", tmp_path / "out")
    assert r.exit_code == 1  # something was skipped
    assert "broken.png" in r.output and "3 image(s) written" in r.output
    assert "error: 1" not in r.output
    b, info = read_image(tmp_path / "out" / "deep" / "b.tif")
    assert b.shape == (36, 30) and info.dtype == "uint16"
    c, info = read_image(tmp_path / "out" / "c.png")
    assert c.shape == (28, 28, 3) and info.dtype == "uint8"
    # nothing already done is lost: a second run refuses to overwrite
    r = run("denoise", "--model", run_dir, inputs / "a.png", "-o", tmp_path / "out")
    assert r.exit_code == 1 and "exists" in r.output


def test_resume_from_cli(tmp_path):
    r = run("train", "--preset", "demo", "--subset", "0:200", "--epochs", "1", "--eval-images", "20",
            "--device", "cpu", "--out", tmp_path, "-q")
    assert r.exit_code == 0, r.output
    run_dir = next(tmp_path.iterdir())
    text = (run_dir / "config.yaml").read_text().replace("epochs: 1", "epochs: 2")
    (run_dir / "config.yaml").write_text(text)
    r = run("train", "--resume", run_dir, "-q")
    assert r.exit_code == 0, r.output
    assert len((run_dir / "history.csv").read_text().splitlines()) == 3


def test_config_file_and_clear_errors(tmp_path):
    r = run("train", "--dataset", "cifar10", "--data-root", tmp_path / "nothing", "--out", tmp_path)
    assert r.exit_code == 1 and "--download" in r.output and "cifar-10-batches-py" in r.output
    r = run("train", "--model", "resnet", "--out", tmp_path)
    assert r.exit_code == 1 and "unknown model" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("epoch: 3\n")
    r = run("train", "--config", bad, "--out", tmp_path)
    assert r.exit_code == 1 and "bad.yaml" in r.output and "epoch" in r.output
    r = run("denoise", tmp_path / "missing-model", tmp_path, "-o", tmp_path / "o")
    assert r.exit_code == 1 and "missing-model" in r.output
    r = run("denoise", "median", tmp_path / "ghost.png", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "ghost.png: no such file" in r.output


def test_models_and_presets_list():
    r = run("models", "--json")
    assert r.exit_code == 0
    listing = json.loads(r.output)
    rows = {m["name"]: m for m in listing["architectures"]}
    assert rows["dncnn"]["params_gray"] == 556_097 and rows["dense-ae"]["sizes"] == "28x28 only"
    assert {"gray-blind", "color-blind", "mnist", "cifar10"} <= set(listing["pretrained"])
    from noisefree.card import ModelCard
    from noisefree.pretrained import pretrained_files

    for name in ("mnist", "gray-blind"):  # how each was trained, from its card: rounds, minutes, machines
        record = ModelCard.read(pretrained_files(name)[1]).training
        assert listing["pretrained"][name]["trained"] == record.summary() and " min " in record.summary()
    r = run("presets")
    assert r.exit_code == 0 and "ref-pool-mnist" in r.output


def test_models_name_prints_the_model_card():
    from noisefree.card import ModelCard
    from noisefree.pretrained import pretrained_files

    card = ModelCard.read(pretrained_files("gray-blind")[1])
    r = run("models", "gray-blind")
    assert r.exit_code == 0, r.output
    rounds = card.training.details()
    assert rounds[0] in r.output and rounds[-1] in r.output  # every round, from the card
    assert "BSD68, standard protocol" in r.output and card.benchmarks["results"]["BSD68"]["evaluate"] in r.output
    import noisefree as nf

    params = sum(p.numel() for p in nf.load("gray-blind").model.parameters())
    assert f"{params:,} parameters" in r.output
    r = run("models", "gray-blind", "--json")
    assert r.exit_code == 0 and ModelCard.parse(r.output) == card
    r = run("models", "bm3d")
    assert r.exit_code == 1 and "bm3d is a classical method and has no model card" in r.output


def test_python_api_matches_cli(tmp_path):
    import noisefree as nf

    run_dir = nf.train(preset="demo", subset="0:1500", epochs=2, eval_images=20, device="cpu", out=tmp_path,
                       quiet=True)
    den = nf.load(run_dir)
    noisy = np.clip(smooth_image(28, 28) + 0.3 * np.random.default_rng(0).standard_normal((28, 28)), 0, 1)
    assert den(noisy.astype(np.float32)).shape == (28, 28)
    res = nf.evaluate(run_dir, dataset="digits", noise="gaussian:0.3", max_images=20)
    assert res.summary["images"] == 20 and res.summary["psnr_mean"] > res.summary["noisy_psnr_mean"]
    shutil.rmtree(run_dir)


def test_model_args_and_switches_from_the_command_line(tmp_path):
    r = run("train", "--dataset", "digits", "--subset", "0:300", "--model", "dncnn", "--model-args",
            '{"depth": 3, "width": 8, "noise_map": true}', "--noise", "gaussian:0-0.3", "--augment", "--loss", "l1",
            "--epochs", "1", "--eval-images", "10", "--device", "cpu", "--out", tmp_path, "-q")
    assert r.exit_code == 0, r.output
    run_dir = next(tmp_path.iterdir())
    card = json.loads((run_dir / "best.json").read_text())
    assert card["arguments"] == {"depth": 3, "width": 8, "noise_map": True}
    cfg = (run_dir / "config.yaml").read_text()
    assert "augment: true" in cfg and "loss: l1" in cfg
    r = run("train", "--model-args", "[1, 2]", "--out", tmp_path)
    assert r.exit_code == 1 and "JSON object" in r.output


def test_the_command_list_shows_each_summary_unbroken_and_denoise_names_its_arguments():
    r = runner.invoke(app, ["--help"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if " denoise " in ln)
    assert "TIFF stacks (Z, T, channels) are denoised plane by plane" in line  # not wrapped where the docstring is
    r = runner.invoke(app, ["denoise", "--help"], env={"COLUMNS": "400"})
    assert "denoise [OPTIONS] {INPUT}..." in r.output and "{args}" not in r.output


def test_denoise_names_the_sigma_it_estimated(tmp_path):
    """A method that takes σ and was given none says what it estimated; given --sigma, it says nothing."""
    import re

    noisy = smooth_image(96, 96, seed=3) * 0.8 + 0.1 + 20 / 255 * np.random.default_rng(0).standard_normal((96, 96))
    write_image(tmp_path / "x.png", np.clip(noisy, 0, 1), dtype="uint16")
    r = run("denoise", "median", tmp_path / "x.png", "-o", tmp_path / "a")
    found = re.search(r"denoised \S+x\.png \(σ ([0-9.]+) on the 8-bit scale, estimated\)", r.output)
    assert r.exit_code == 0 and found, r.output
    assert abs(float(found.group(1)) - 20) < 1.5
    r = run("denoise", "median", tmp_path / "x.png", "-o", tmp_path / "b", "--sigma", "0.08")
    assert r.exit_code == 0 and "estimated" not in r.output


def test_two_inputs_that_would_share_an_output_both_keep_their_results(tmp_path):
    """a.png and a.gif are both written as PNG; with --dtype float32 a.png and a.jpg both become TIFF. The file
    named for the output keeps the name, the other gains its suffix; nothing is replaced, even with --overwrite."""
    from PIL import Image

    (tmp_path / "in").mkdir()
    img = (smooth_image(32, 32) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "in" / "a.png")
    Image.fromarray(255 - img).save(tmp_path / "in" / "a.gif")
    Image.fromarray(img[::-1].copy()).save(tmp_path / "in" / "a.jpg", quality=95)
    r = run("denoise", "median", tmp_path / "in", "-o", tmp_path / "out", "--overwrite")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "a.png", "a_gif.png"]
    assert "a.gif is written as" in r.output and "a_gif.png" in r.output
    from_png, from_gif = (read_image(tmp_path / "out" / n)[0] for n in ("a.png", "a_gif.png"))
    assert np.corrcoef(from_png.ravel(), img.ravel())[0, 1] > 0.9  # each name holds its own input's result
    assert np.corrcoef(from_gif.ravel(), img.ravel())[0, 1] < -0.9
    r = run("denoise", "median", tmp_path / "in", "-o", tmp_path / "f32", "--dtype", "float32")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "f32").iterdir()) == ["a_gif.tif", "a_jpg.tif", "a_png.tif"]
    (tmp_path / "one").mkdir()  # a name noisefree cannot write gains .png: a new name, but no collision to report
    Image.fromarray(img).save(tmp_path / "one" / "photo.heic", format="PNG")
    r = run("denoise", "median", tmp_path / "one" / "photo.heic", "-o", tmp_path / "one_out")
    assert r.exit_code == 0 and "is written as" not in r.output, r.output
    assert [p.name for p in (tmp_path / "one_out").iterdir()] == ["photo.heic.png"]
    (tmp_path / "file").write_text("x")
    r = run("denoise", "median", tmp_path / "in", "-o", tmp_path / "file")
    assert r.exit_code == 1 and "a file, not a folder" in r.output
