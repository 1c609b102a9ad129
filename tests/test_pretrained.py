"""The shipped models: present, small, checksummed, loadable by name, and they remove noise."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

import noisefree as nf
from noisefree import pretrained
from noisefree.card import ModelCard
from noisefree.cli import app
from noisefree.config import ConfigError
from noisefree.io import read_image, write_image
from noisefree.metrics import psnr
from noisefree.models import list_models

from .conftest import smooth_image

SHIPPED = ["gray-blind", "color-blind", "mnist", "cifar10"]


def psnr_np(a, b):
    def nchw(x):
        t = torch.from_numpy(np.asarray(x, np.float64))
        return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]

    return float(psnr(nchw(a), nchw(b)))


def test_all_four_are_shipped_small_and_described():
    listed = pretrained.list_pretrained()
    assert set(SHIPPED) <= set(listed)
    total = 0
    for name in SHIPPED:
        weights, card_path = pretrained.pretrained_files(name)  # checksums verified here
        size = weights.stat().st_size
        assert size <= 5e6, f"{name}: {size / 1e6:.1f} MB"
        total += size
        with safe_open(str(weights), framework="pt") as f:  # stored in half precision, loaded into float32
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}, name
        assert all(p.dtype == torch.float32 for p in nf.load(name).model.parameters())
        typed = ModelCard.read(card_path)  # every shipped card validates against the typed card
        assert typed.name == name and typed.architecture in {s.name for s in list_models()}
        card = json.loads(card_path.read_text())
        assert card["name"] == name and card["channels"] == listed[name]["channels"]
        assert card["noise"].startswith("gaussian:0-")  # blind: a sigma range
        assert card["training"]["config"]["dataset"]  # the last round's recipe...
        assert typed.training.rounds and typed.training.minutes > 0  # ...and every round's time and hardware
        bench = card["benchmarks"]  # measured, with the command that measured it
        assert bench["command"].startswith("python benchmarks/pretrained_quality.py") and bench["results"]
    assert total <= 15e6


@pytest.mark.parametrize("name,channels", [("gray-blind", 1), ("color-blind", 3)])
def test_natural_image_models_follow_the_sigma_slider(name, channels):
    den = nf.load(name, device="cpu")
    assert den.takes_sigma and den.card.takes_sigma  # a noise-level map, FFDNet/DRUNet style
    clean = smooth_image(96, 96, channels=channels, seed=4)
    noisy = (clean + 25 / 255 * np.random.default_rng(2).standard_normal(clean.shape)).astype(np.float32)
    gentle, strong = den(noisy, sigma=5 / 255), den(noisy, sigma=50 / 255)
    assert np.abs(strong - gentle).mean() > 1e-3  # the slider changes the result...
    rough = lambda img: np.abs(np.diff(img, axis=1)).mean()  # noqa: E731
    assert rough(strong) < rough(gentle)  # ...and more sigma smooths more
    right, estimated = den(noisy, sigma=25 / 255), den(noisy)  # sigma estimated per image when not given
    assert psnr_np(np.clip(estimated, 0, 1), clean) > psnr_np(np.clip(noisy, 0, 1), clean) + 5
    assert psnr_np(np.clip(right, 0, 1), clean) > psnr_np(np.clip(gentle, 0, 1), clean)


def test_a_blind_model_ignores_sigma_and_says_so(tmp_path):
    den = nf.load("cifar10", device="cpu")
    assert not den.takes_sigma
    with pytest.warns(UserWarning, match="cifar10 takes no noise level"):
        den(smooth_image(32, 32, channels=3), sigma=0.1)
    import warnings

    with warnings.catch_warnings(record=True) as seen:  # wrapped: one warning, in the wrapper's name
        warnings.simplefilter("always")
        nf.load("x8:cifar10")(smooth_image(32, 32, channels=3), sigma=0.1)
        nf.load("vst:median")(smooth_image(32, 32), sigma=0.1)  # the transform sets the level
    assert [str(w.message).split(";")[0] for w in seen] == ["x8:cifar10 takes no noise level",
                                                            "vst+median takes no noise level"]
    for i in range(2):
        write_image(tmp_path / "in" / f"{i}.png", smooth_image(32, 32, channels=3, seed=i), dtype="uint8")
    r = CliRunner().invoke(app, ["denoise", "cifar10", str(tmp_path / "in"), "--sigma", "0.1",
                                 "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output  # on the command line: once, one line, no Python source line
    assert r.output.count("warning: cifar10 takes no noise level") == 1 and "UserWarning" not in r.output


@pytest.mark.parametrize("name,channels,sigma,size", [("gray-blind", 1, 25 / 255, 96),
                                                       ("color-blind", 3, 25 / 255, 96),
                                                       ("cifar10", 3, 0.2, 32)])
def test_natural_image_models_reduce_noise(name, channels, sigma, size):
    den = nf.load(name, device="cpu")
    clean = smooth_image(size, size, channels=channels, seed=3)
    noisy = (clean + sigma * np.random.default_rng(1).standard_normal(clean.shape)).astype(np.float32)
    if name == "cifar10":
        noisy = np.clip(noisy, 0, 1)
    out = den(noisy)
    assert out.shape == clean.shape
    assert psnr_np(np.clip(out, 0, 1), clean) > psnr_np(np.clip(noisy, 0, 1), clean) + 5


def test_mnist_model_restores_a_drawn_digit():
    y, x = np.mgrid[0:28, 0:28]
    ring = np.abs(np.hypot(y - 14, x - 14) - 7) < 1.8  # a zero, drawn like MNIST: white strokes on black
    clean = ring.astype(np.float32)
    noisy = np.clip(clean + 0.3 * np.random.default_rng(2).standard_normal(clean.shape), 0, 1).astype(np.float32)
    out = nf.load("mnist", device="cpu")(noisy)
    assert psnr_np(np.clip(out, 0, 1), clean) > psnr_np(noisy, clean) + 5


def test_damaged_files_are_refused(tmp_path, monkeypatch):
    copy = tmp_path / "pretrained"
    shutil.copytree(pretrained.PRETRAINED_DIR, copy)
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", copy)
    monkeypatch.setattr(pretrained, "MANIFEST", copy / "manifest.json")
    nf.load("mnist", device="cpu")  # the intact copy loads
    data = bytearray((copy / "mnist.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "mnist.safetensors").write_bytes(bytes(data))
    with pytest.raises(pretrained.PretrainedError, match="mnist.safetensors: checksum mismatch"):
        nf.load("mnist", device="cpu")
    with pytest.raises(FileNotFoundError, match="shipped: cifar10, color-blind, gray-blind, mnist"):
        nf.load("gray-blnd")


def test_denoise_without_model_picks_by_channels(tmp_path):
    rng = np.random.default_rng(0)
    gray = smooth_image(64, 80, seed=1)
    rgba = np.concatenate([smooth_image(64, 80, channels=3, seed=2), np.linspace(0, 1, 64 * 80).reshape(64, 80, 1)],
                          -1)
    write_image(tmp_path / "in" / "gray.png", np.clip(gray + 0.1 * rng.standard_normal(gray.shape), 0, 1),
                dtype="uint8")
    noisy_rgba = rgba.copy()
    noisy_rgba[..., :3] = np.clip(rgba[..., :3] + 0.1 * rng.standard_normal(rgba[..., :3].shape), 0, 1)
    write_image(tmp_path / "in" / "photo.png", noisy_rgba, dtype="uint16")
    result = CliRunner().invoke(app, ["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    out_gray, info = read_image(tmp_path / "out" / "gray.png")
    assert out_gray.shape == gray.shape and info.dtype == "uint8"
    assert psnr_np(out_gray, gray) > psnr_np(read_image(tmp_path / "in" / "gray.png")[0], gray) + 3
    out_rgb, info = read_image(tmp_path / "out" / "photo.png")
    assert out_rgb.shape == (64, 80, 3) and info.dtype == "uint16" and info.alpha is not None
    assert np.array_equal(info.alpha, read_image(tmp_path / "in" / "photo.png")[1].alpha)  # alpha untouched
    assert psnr_np(out_rgb, rgba[..., :3]) > psnr_np(noisy_rgba[..., :3], rgba[..., :3]) + 3
    auto = nf.load("auto", device="cpu")
    assert auto.pick(1).name == "gray-blind" and auto.pick(3).name == "color-blind"
    with pytest.raises(ValueError, match="no shipped model for 2-channel"):
        auto(np.zeros((8, 8, 2), np.float32))


def test_shipped_names_work_in_evaluate_and_benchmark(tmp_path):
    r = CliRunner().invoke(app, ["evaluate", "mnist", "--dataset", "digits", "--max-images", "16", "--sigma", "0.3",
                                 "-o", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "ev" / "sigma0.3" / "summary.json").read_text())
    assert summary["method"] == "mnist" and summary["psnr_mean"] > summary["noisy_psnr_mean"] + 5
    r = CliRunner().invoke(app, ["benchmark", "--methods", "noisy,mnist", "--dataset", "digits", "--protocol",
                                 "small", "--sigma", "0.2", "--max-images", "8", "-o", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert "| mnist |" in (tmp_path / "b" / "results.md").read_text()


RECIPES = Path(__file__).resolve().parent.parent / "benchmarks" / "pretrained"


@pytest.mark.parametrize("recipe", sorted(str(p.relative_to(RECIPES)) for p in RECIPES.rglob("*.yaml")))
def test_every_recipe_of_a_shipped_model_validates_and_builds(recipe):
    """The CPU recipes and the GPU ones waiting for a GPU session: each is a valid run configuration whose
    network builds, whose name is a shipped model, and whose `init` (when set) is that model, so a GPU session
    can start them without a surprise."""
    import yaml

    from noisefree.config import RunConfig
    from noisefree.models import build_model

    path = RECIPES / recipe
    config = RunConfig.validated(yaml.safe_load(path.read_text()), source=str(path))
    assert config.name in SHIPPED and config.name == path.stem
    channels = pretrained.list_pretrained()[config.name]["channels"]
    model = build_model(config.model, channels=channels, **config.model_args)
    if config.init:
        assert config.init == config.name
        from noisefree.finetune import load_initial_weights

        card = ModelCard(name=config.name, architecture=config.model, arguments=config.model_args, channels=channels)
        load_initial_weights(model, config.init, card)  # the shipped weights fit (a noise map may be added)


def test_the_gpu_session_stages_fit_their_calls():
    """benchmarks/gpu_session.sh runs the GPU recipes in three stages, each one 10-minute call of a lent GPU:
    every GPU recipe has a time budget that leaves room for loading, scoring and the speed table."""
    import yaml

    budgets = {p.stem: yaml.safe_load(p.read_text()).get("minutes") for p in (RECIPES / "gpu").glob("*.yaml")}
    assert set(budgets) == set(SHIPPED)
    assert all(b is not None for b in budgets.values()), budgets
    for path in (RECIPES / "gpu").glob("*.yaml"):  # a fine-tune restarts Adam gently and keeps a weight average
        fields = yaml.safe_load(path.read_text())
        assert fields.get("init") and fields.get("warmup") and fields.get("ema"), path.name
    stages = {"gray": ["gray-blind"], "color": ["color-blind"], "small": ["mnist", "cifar10"]}
    script = (RECIPES.parent / "gpu_session.sh").read_text()
    for stage, names in stages.items():
        assert f"    {stage})" in script and sum(budgets[n] for n in names) <= 6.5, stage
    assert "    speedrun)" in script and "--preset gray-8min" in script  # the time-to-quality preset, 8 minutes
    for stage in stages:  # results are packed whatever happens to a step (a failure, the deadline)
        body = script.split(f"    {stage})")[1].split(";;")[0]
        assert "trap pack EXIT" in body and all(line.strip().startswith(("models=", "step "))
                                                for line in body.strip().splitlines()), stage


def test_scoring_a_model_needs_only_its_own_test_sets(tmp_path, monkeypatch):
    """A GPU stage carries only its own data (the gray stage: train400, BSD68, Set12), so scoring gray-blind
    must not reach for CIFAR-10; a model without test sets is named."""
    monkeypatch.syspath_prepend(str(RECIPES.parent))
    import common
    from pretrained_quality import suites

    monkeypatch.setattr(common, "OUT", tmp_path / "out")  # no CIFAR-10 extracted by an earlier run
    (label, args, protocol, sigmas), _ = suites(tmp_path, "gray-blind")
    assert label == "Set12" and args["dataset"] == f"folder:{tmp_path / 'gray' / 'set12'}" and sigmas == [15, 25, 50]
    assert suites(tmp_path, "mnist")[0][1]["subset"] == "8000:10000"
    cbsd68, photos = suites(tmp_path, "color-blind")  # judged on more than CBSD68: scikit-image's photographs
    assert cbsd68[0] == "CBSD68" and photos[0] == "photos"
    assert len(list(Path(photos[1]["dataset"][len("folder:"):]).glob("*.png"))) == 4
    with pytest.raises(FileNotFoundError, match="cifar10"):  # CIFAR-10's test folder comes from its archive
        suites(tmp_path, "cifar10")
    with pytest.raises(KeyError, match="no test sets for 'auto'"):
        suites(tmp_path, "auto")


def test_bf16_precision_runs_the_network_in_bfloat16_and_stays_close():
    from noisefree.denoiser import set_precision

    rng = np.random.default_rng(0)
    clean = smooth_image(64, 64, seed=3)
    noisy = (clean + rng.normal(0, 25 / 255, clean.shape)).astype(np.float32)
    exact = nf.load("gray-blind")(noisy, sigma=25 / 255)
    fast = set_precision(nf.load("gray-blind"), "bf16")(noisy, sigma=25 / 255)
    assert not np.array_equal(exact, fast)  # bf16 really ran (on a CPU too: autocast works there)
    assert np.abs(exact - fast).max() < 0.02
    assert abs(psnr_np(exact, clean) - psnr_np(fast, clean)) < 0.05


def test_set_precision_reaches_wrapped_networks_and_refuses_classical_methods():
    from noisefree.denoiser import set_precision
    from noisefree.resolve import resolve

    for name in ("x8:gray-blind", "vst:gray-blind", "auto"):
        den = set_precision(resolve(name).denoiser, "bf16")
        leaf = den.base if hasattr(den, "base") else den
        assert leaf.precision == "bf16", name
        if name == "auto":  # handed on to the shipped model it picks
            den(smooth_image(16, 16))
            assert den.pick(1).precision == "bf16"
    with pytest.raises(ValueError, match="bm3d"):
        set_precision(resolve("bm3d").denoiser, "bf16")
    with pytest.raises(ValueError, match="fp8"):
        set_precision(resolve("gray-blind").denoiser, "fp8")


def test_denoise_cli_takes_precision(tmp_path):
    write_image(tmp_path / "a.png", smooth_image(48, 48, seed=1))
    r = CliRunner().invoke(app, ["denoise", "gray-blind", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"),
                                 "--precision", "bf16", "-q"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "a.png").is_file()
    r = CliRunner().invoke(app, ["denoise", "bm3d", str(tmp_path / "a.png"), "-o", str(tmp_path / "out2"),
                                 "--precision", "bf16", "-q"])
    assert r.exit_code != 0 and "applies to networks" in r.output


def test_evaluate_cli_takes_precision_and_names_it_in_the_results(tmp_path):
    for i in range(3):
        write_image(tmp_path / "set" / f"{i}.png", smooth_image(40, 40, seed=i))
    common = ["evaluate", "gray-blind", "--dataset", f"folder:{tmp_path / 'set'}", "--protocol", "standard",
              "--sigma", "25", "-q"]
    for precision in ("float32", "bf16"):
        r = CliRunner().invoke(app, [*common, "--precision", precision, "-o", str(tmp_path / precision)])
        assert r.exit_code == 0, r.output
    exact, fast = (json.loads((tmp_path / p / "sigma25" / "summary.json").read_text()) for p in ("float32", "bf16"))
    assert (exact["method"], fast["method"]) == ("gray-blind", "gray-blind (bf16)")
    assert exact["psnr_mean"] != fast["psnr_mean"] and abs(exact["psnr_mean"] - fast["psnr_mean"]) < 0.05


def test_an_ablation_arm_changes_only_the_recipe_fields_it_names(monkeypatch, tmp_path):
    """`train_pretrained.py --set KEY=VALUE` trains a shipped model's recipe with some fields changed (values
    read as YAML), so both arms of an ablation run from the committed recipe."""
    monkeypatch.syspath_prepend(str(RECIPES.parent))
    import train_pretrained

    data = tmp_path / "data"  # where the data would lie: only paths are made of it
    base = train_pretrained.recipe("gray-blind", data)
    arm = train_pretrained.recipe("gray-blind", data, **train_pretrained.fields(["loss=l1", "lr=0.0002", "seed=9"]))
    assert (arm.loss, arm.lr, arm.seed) == ("l1", 0.0002, 9)
    assert arm.model_dump(exclude={"loss", "lr", "seed"}) == base.model_dump(exclude={"loss", "lr", "seed"})
    with pytest.raises(SystemExit, match="--set takes KEY=VALUE items"):
        train_pretrained.fields(["loss"])
    repeated = train_pretrained.parser().parse_args(["--set", "loss=l1", "lr=0.0002", "--set", "seed=9"])
    assert repeated.fields == ["loss=l1", "lr=0.0002", "seed=9"]  # a second --set adds, it does not replace
    with pytest.raises(ConfigError, match="loss"):
        train_pretrained.recipe("gray-blind", data, **train_pretrained.fields(["loss=huber"]))
