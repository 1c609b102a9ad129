"""Bad input, tried as a new user would: each gets a clear message that names the file or value, never a
traceback, and nothing already done is lost."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from noisefree.cli import app
from noisefree.io import ImageReadError, read_image, write_image

from .conftest import smooth_image

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_preset_with_a_name_trains(tmp_path):
    r = run("train", "--preset", "demo", "--name", "x", "--subset", "0:200", "--epochs", "1", "--eval-images", "10",
            "--device", "cpu", "--out", tmp_path, "-q")
    assert r.exit_code == 0, r.output
    run_dir = next(tmp_path.iterdir())
    assert run_dir.name.startswith("x-") and "name: x\npreset: demo" in (run_dir / "config.yaml").read_text()


def test_resume_refuses_options_it_would_ignore(tmp_path):
    (tmp_path / "config.yaml").write_text("epochs: 1\n")
    r = run("train", "--resume", tmp_path, "--epochs", "5")
    assert r.exit_code == 1 and "--epochs" in r.output and "would be ignored" in r.output


def test_torch_pickle_as_a_model_is_named_not_a_traceback(tmp_path):
    torch.save({"weight": torch.zeros(3)}, tmp_path / "model.pth")
    write_image(tmp_path / "in.png", smooth_image(16, 16), dtype="uint8")
    for args in (["denoise", tmp_path / "model.pth", tmp_path / "in.png"],
                 ["denoise", "--model", tmp_path / "model.pth", tmp_path / "in.png"],
                 ["evaluate", tmp_path / "model.pth"]):
        r = run(*args, "-o", tmp_path / "o")
        assert r.exit_code == 1, r.output
        assert "model.pth: spandrel does not recognise this network" in r.output and "Traceback" not in r.output
        assert len(r.output.splitlines()) <= 6
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "best.safetensors").write_bytes((tmp_path / "model.pth").read_bytes())
    r = run("denoise", run_dir, tmp_path / "in.png", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "best.safetensors: not a noisefree checkpoint" in r.output


def test_resume_of_a_run_stopped_before_its_first_epoch_starts_it_over(tmp_path):
    import noisefree as nf

    run_dir = nf.train(preset="demo", subset="0:200", epochs=1, eval_images=10, device="cpu", out=tmp_path, quiet=True)
    for name in ("train_state.pt", "last.safetensors", "last.json", "best.safetensors", "best.json", "history.csv"):
        (run_dir / name).unlink()  # as if killed during epoch 1
    r = run("train", "--resume", run_dir)
    assert r.exit_code == 0, r.output
    assert "no epoch had finished" in r.output and (run_dir / "best.safetensors").is_file()


def test_compile_on_cpu_is_refused_with_a_reason(tmp_path):
    r = run("train", "--preset", "demo", "--compile", "--device", "cpu", "--out", tmp_path)
    assert r.exit_code == 1 and "--compile works on CUDA only" in r.output


def test_jpeg_named_png_is_read_with_a_warning(tmp_path):
    Image.fromarray((smooth_image(20, 24) * 255).astype(np.uint8)).save(tmp_path / "photo.png", format="JPEG")
    with pytest.warns(UserWarning, match="photo.png: holds JPEG data although its name ends in .png"):
        img, info = read_image(tmp_path / "photo.png")
    assert img.shape == (20, 24) and info.format == ".jpg"


def test_file_without_extension_is_denoised_into_its_format(tmp_path):
    write_image(tmp_path / "scan.png", smooth_image(20, 20), dtype="uint16")
    (tmp_path / "scan.png").rename(tmp_path / "scan")
    r = run("denoise", "median", tmp_path / "scan", "-o", tmp_path / "o")
    assert r.exit_code == 0, r.output
    out, info = read_image(tmp_path / "o" / "scan.png")
    assert out.shape == (20, 20) and info.dtype == "uint16"


def test_a_folder_named_like_an_image_or_empty_is_an_error(tmp_path):
    (tmp_path / "x.png").mkdir()
    r = run("denoise", "median", tmp_path / "x.png", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "x.png: a folder with no image files" in r.output and "0 image(s) written" in r.output
    with pytest.raises(ImageReadError, match="x.png: a folder"):
        read_image(tmp_path / "x.png")


def test_stacks_and_animations_are_refused_by_read_image_with_where_to_go(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 16, 16), np.uint16), photometric="minisblack")  # 3 pages
    with pytest.raises(ImageReadError, match=r"stack.tif: a multi-page TIFF of 3 pages .*read_stack"):
        read_image(tmp_path / "stack.tif")
    tifffile.imwrite(tmp_path / "planes.tif", np.zeros((5, 16, 16), np.uint8), metadata=None, contiguous=True,
                     photometric="minisblack", planarconfig="separate")
    with pytest.raises(ImageReadError, match=r"planes.tif: .*5 (planes|pages)"):
        read_image(tmp_path / "planes.tif")
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 128, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match="anim.gif: an animated/multi-frame GIF of 3 frames"):
        read_image(tmp_path / "anim.gif")
    frames[1].save(tmp_path / "still.gif")  # one frame: fine
    assert read_image(tmp_path / "still.gif")[0].shape == (8, 8)


def test_not_an_image_names_the_file_and_the_formats(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(ImageReadError, match="notes.png: not an image file noisefree can read .*PNG, JPEG, TIFF"):
        read_image(tmp_path / "notes.png")
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ImageReadError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def test_bad_sigma_and_dtype_values_are_named(tmp_path):
    write_image(tmp_path / "in.png", smooth_image(16, 16), dtype="uint8")
    r = run("denoise", "median", tmp_path / "in.png", "--sigma", "-1", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "--sigma -1" in r.output
    r = run("denoise", "median", tmp_path / "in.png", "--sigma", "25", "-o", tmp_path / "o")
    assert r.exit_code == 1 and "give --sigma 0.09804" in r.output and not (tmp_path / "o").exists()
    r = run("evaluate", "median", "--sigma", "15,abc")
    assert r.exit_code == 1 and "--sigma '15,abc'" in r.output
    r = run("evaluate", "median", "--protocol", "huge")
    assert r.exit_code == 1 and "unknown protocol 'huge'" in r.output


def test_importing_noisefree_has_no_side_effects():
    code = ("import matplotlib, sys; before = dict.__getitem__(matplotlib.rcParams, 'backend'); "
            "import noisefree, noisefree.report, noisefree.benchmark, noisefree.cli; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
            "assert dict.__getitem__(matplotlib.rcParams, 'backend') == before, 'backend switched'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_warnings_stay_warnings_not_errors(tmp_path):
    """A misnamed file is still denoised from the command line (the warning is shown, the file written)."""
    Image.fromarray((smooth_image(20, 24) * 255).astype(np.uint8)).save(tmp_path / "photo.png", format="JPEG")
    r = run("denoise", "median", tmp_path / "photo.png", "-o", tmp_path / "o")
    assert r.exit_code == 0, r.output
    assert "warning: " in r.output and "holds JPEG data" in r.output  # shown as one line
    assert read_image(tmp_path / "o" / "photo.png")[0].shape == (20, 24)


def test_names_print_as_they_are_not_as_markup_or_emoji(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("denoise", "median", "scan[bold].png", "-o", "o")  # rich markup would eat "[bold]"
    assert r.exit_code == 1 and "skipped scan[bold].png: no such file" in r.output
    write_image(tmp_path / "one" / "a.png", smooth_image(32, 32), dtype="uint8")
    r = run("train", "--dataset", "folder:one", "--epochs", "1", "--out", "runs", "-q")  # ":one:" is an emoji code
    assert r.exit_code == 1 and "folder:one: 1 image(s) are too few" in r.output
    assert not list((tmp_path / "runs").glob("*"))  # a run that never started leaves no folder behind


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "a.png", smooth_image(24, 24), dtype="uint8")
    for _ in range(2):  # the default output folder, ./denoised, lies inside the input "."
        r = run("denoise", "median", ".", "--overwrite")
        assert r.exit_code == 0 and "1 image(s) written" in r.output, r.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == ["a.png", "denoised/a.png"]


def test_a_sigma_on_the_other_protocols_scale_is_refused_with_both_readings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("benchmark", "--methods", "median", "--dataset", "digits", "--sigma", "0.1", "--max-images", "2")
    assert r.exit_code == 1 and "standard protocol takes σ on the 8-bit scale" in r.output and "give 25.5" in r.output
    assert not (tmp_path / "benchmark").exists()  # refused before anything was written
    r = run("evaluate", "median", "--sigma", "25", "--max-images", "2")  # evaluate's default protocol: small
    assert r.exit_code == 1 and "give 0.09804, or use --protocol standard" in r.output


def test_an_impossible_port_is_refused_before_serving():
    r = run("serve", "--port", "99999")
    assert r.exit_code == 2 and "--port" in r.output


def test_a_crop_larger_than_a_training_image_is_refused_before_training(tmp_path, monkeypatch):
    """Refused at set-up with the image and the largest crop that fits, not in the first epoch."""
    monkeypatch.chdir(tmp_path)
    for i in range(5):
        write_image(tmp_path / "imgs" / f"big{i}.png", smooth_image(40, 48), dtype="uint8")
    write_image(tmp_path / "imgs" / "small.png", smooth_image(24, 30), dtype="uint8")
    r = run("train", "--dataset", "folder:imgs", "--patch-size", "32", "--val-fraction", "0.2", "--epochs", "1",
            "--model", "dncnn", "--out", "runs", "-q")
    assert r.exit_code == 1, r.output
    assert "small.png: 24x30 is smaller than --patch-size 32" in r.output and "lower it to 24" in r.output
    assert not list((tmp_path / "runs").glob("*"))  # nothing was trained, so no run folder is left


def test_a_misspelt_model_name_is_refused_not_skipped_as_an_input(tmp_path, monkeypatch):
    """`noisefree denoise gray-blnd photo.png` used to skip "gray-blnd" as a missing file and denoise the photo
    with the default model."""
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "photo.png", smooth_image(24, 24), dtype="uint8")
    r = run("denoise", "gray-blnd", "photo.png", "-o", "o")
    assert r.exit_code == 1 and "did you mean gray-blind?" in r.output, r.output
    assert not (tmp_path / "o").exists()  # nothing denoised with a model the user did not ask for
    r = run("denoise", "holiday", "photo.png", "-o", "o")  # nothing like a model: a missing input, skipped
    assert r.exit_code == 1 and "skipped holiday: no such file" in r.output and (tmp_path / "o" / "photo.png").exists()


def test_a_bad_sigma_is_refused_or_flagged_by_value():
    import noisefree as nf

    den = nf.load("gray-blind")
    batch = np.random.default_rng(0).random((3, 24, 24, 1)).astype(np.float32)
    with pytest.raises(ValueError, match="sigma holds 2 values for 3 images"):
        den(batch, sigma=[0.1, 0.2])
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="a noise std is a finite number, 0 or more"):
            den(batch[0], sigma=bad)
    with pytest.warns(UserWarning, match="sigma=25 is over 1.*give 0.09804"):
        den(batch[0], sigma=25)
    assert den(batch, sigma=[0.05, 0.1, 0.2]).shape == batch.shape
