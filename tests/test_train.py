"""Training: end to end on the embedded digits, exact resume, divergence guard."""

import csv
import json

import pytest
import torch

import noisefree as nf
from noisefree import training as train_module
from noisefree.checkpoint import load_checkpoint
from noisefree.config import RunConfig
from noisefree.models import build_model
from noisefree.models.unet import ResBlock


def small_config(**kw):
    base = dict(dataset="digits", subset="0:960", model="dncnn", model_args={"depth": 4, "width": 16}, lr=3e-3,
                noise="gaussian:0.3", epochs=2, batch_size=32, eval_images=64, device="cpu", seed=1)
    return RunConfig(**{**base, **kw})


def test_train_writes_run_and_beats_noisy_input(tmp_path):
    run = nf.train(small_config(epochs=3), out=tmp_path, quiet=True)
    for f in ["config.yaml", "best.safetensors", "best.json", "last.safetensors", "train_state.pt", "history.csv",
              "metrics.csv", "summary.json", "report.md", "figures/loss_curves.png", "figures/samples.png",
              "figures/histograms.png"]:
        assert (run / f).is_file(), f
    summary = json.loads((run / "summary.json").read_text())
    assert summary["images"] == 64 and summary["dataset"] == "digits"
    assert summary["psnr_mean"] > summary["noisy_psnr_mean"] + 3
    card = json.loads((run / "best.json").read_text())
    assert card["metrics"]["test"]["psnr_mean"] == pytest.approx(summary["psnr_mean"])
    assert RunConfig.from_yaml(run / "config.yaml") == small_config(epochs=3)
    with open(run / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 3


def test_cpu_training_flushes_subnormal_floats(tmp_path):
    """Subnormal numbers (below 1.2e-38) take the CPU's slow path; a CPU run flushes them to zero."""
    torch.set_flush_denormal(False)
    assert (torch.tensor([1e-39]) * 1.0).item() != 0.0
    try:
        nf.train(small_config(epochs=1), out=tmp_path, quiet=True)
        assert (torch.tensor([1e-39]) * 1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)


def test_cpu_flags_say_where_bf16_autocast_pays():
    from noisefree.devices import cpuinfo_has_bf16

    assert cpuinfo_has_bf16("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert cpuinfo_has_bf16("flags\t\t: fpu avx2 amx_bf16 amx_tile\n")
    assert not cpuinfo_has_bf16("flags\t\t: fpu sse2 avx2 avx512f avx512bw\n")  # bf16 would be emulated: slower
    assert not cpuinfo_has_bf16("Features\t: fp asimd\n")


@pytest.mark.parametrize("native", [True, False])
def test_amp_trains_in_bf16_on_a_cpu_only_where_it_has_native_bf16(tmp_path, monkeypatch, native):
    from noisefree import devices

    monkeypatch.setattr(devices, "_cpu_has_bf16", lambda: native)
    runs = [nf.train(small_config(epochs=1, amp=amp), out=tmp_path / str(amp), quiet=True) for amp in (True, False)]
    a, b = (load_checkpoint(run / "last.safetensors")[0].state_dict() for run in runs)
    same = all(torch.equal(v, b[k]) for k, v in a.items())
    assert same != native  # bf16 rounding changes the weights; without it amp changes nothing


def test_resume_continues_exactly(tmp_path):
    straight = nf.train(small_config(epochs=2), out=tmp_path / "a", quiet=True)
    first = nf.train(small_config(epochs=1), out=tmp_path / "b", quiet=True)
    # the same run, asked for one more epoch: edit its config and resume
    cfg = RunConfig.from_yaml(first / "config.yaml").model_copy(update={"epochs": 2})
    cfg.to_yaml(first / "config.yaml")
    nf.train(resume=first, quiet=True)
    a, _ = load_checkpoint(straight / "last.safetensors")
    b, _ = load_checkpoint(first / "last.safetensors")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_ema_checkpoints_hold_the_average_and_resume_exactly(tmp_path):
    straight = nf.train(small_config(epochs=2, ema=0.9), out=tmp_path / "a", quiet=True)
    first = nf.train(small_config(epochs=1, ema=0.9), out=tmp_path / "b", quiet=True)
    cfg = RunConfig.from_yaml(first / "config.yaml").model_copy(update={"epochs": 2})
    cfg.to_yaml(first / "config.yaml")
    nf.train(resume=first, quiet=True)
    a, card = load_checkpoint(straight / "last.safetensors")
    b, _ = load_checkpoint(first / "last.safetensors")
    assert card.ema == 0.9
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    # the saved weights are the average, not the raw weights the optimiser left
    state = torch.load(straight / "train_state.pt", weights_only=True)
    raw = state["model"]["net.0.weight"]
    assert not torch.equal(raw, a.state_dict()["net.0.weight"])
    assert torch.equal(state["ema"]["module.net.0.weight"], a.state_dict()["net.0.weight"])


def test_cosine_schedule_runs_over_the_epochs(tmp_path):
    run = nf.train(small_config(epochs=3, schedule="cosine"), out=tmp_path, quiet=True)
    with open(run / "history.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]
    assert lrs == pytest.approx([3e-3, 3e-3 * 0.75, 3e-3 * 0.25])  # the rate each epoch trained at


def test_warmup_raises_the_learning_rate_linearly_over_its_steps(tmp_path):
    cfg = small_config(epochs=2, warmup=40)
    assert [train_module.warmup_factor(cfg, s) for s in (0, 19, 39, 40, 500)] == [1 / 40, 0.5, 1.0, 1.0, 1.0]
    assert train_module.warmup_factor(small_config(), 0) == 1.0  # none by default
    run = nf.train(cfg, out=tmp_path, quiet=True)
    with open(run / "history.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]  # the rate of each epoch's last step
    steps = round(lrs[0] / 3e-3 * 40)  # 27 steps an epoch: 864 training digits in batches of 32
    assert steps == 27 and lrs == pytest.approx([3e-3 * 27 / 40, 3e-3])


def test_time_budget_plans_epochs_from_their_measured_time():
    cfg = small_config(epochs=100, minutes=1.0, schedule="cosine")
    assert train_module.planned_epochs(cfg, []) == 100  # nothing measured yet
    assert train_module.planned_epochs(cfg, [{"seconds": 10.0}] * 3) == 6  # 30 s left at 10 s an epoch
    assert train_module.planned_epochs(cfg, [{"seconds": 40.0}, {"seconds": 5.0}, {"seconds": 5.0},
                                             {"seconds": 5.0}]) == 4 + 1  # the pace of the last three
    assert train_module.planned_epochs(cfg, [{"seconds": 100.0}]) == 1  # over budget: stop now
    assert train_module.planned_epochs(cfg.model_copy(update={"epochs": 5}), [{"seconds": 1.0}]) == 5
    assert train_module.planned_epochs(cfg.model_copy(update={"minutes": None}), [{"seconds": 1e9}]) == 100
    assert train_module.learning_rate(cfg, 0, 6) == 3e-3
    assert train_module.learning_rate(cfg, 3, 6) == pytest.approx(1.5e-3)
    assert train_module.learning_rate(cfg, 7, 6) == 0.0


def test_time_budget_stops_the_run_and_resume_keeps_it_stopped(tmp_path):
    run = nf.train(small_config(epochs=50, minutes=1e-4), out=tmp_path, quiet=True)  # 6 ms: one epoch only
    with open(run / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 1
    assert (run / "summary.json").is_file()
    nf.train(resume=run, quiet=True)
    with open(run / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 1


def test_early_stopping_stops(tmp_path):
    run = nf.train(small_config(epochs=6, patience=1, min_delta=10.0), out=tmp_path, quiet=True)
    with open(run / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 2  # epoch 1 improves on inf, epoch 2 cannot gain 10


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = train_module.corrupt

    def failing(clean, noise, rng, *, clip):  # from the second epoch on, the data turn bad
        calls["n"] += 1
        noisy, sigma = real(clean, noise, rng, clip=clip)
        return (noisy * float("nan") if calls["n"] > steps_per_epoch + 2 else noisy), sigma

    steps_per_epoch = -(-int(960 * 0.9) // 32)

    monkeypatch.setattr(train_module, "corrupt", failing)
    with pytest.raises(train_module.TrainingDiverged, match="last good checkpoint"):
        nf.train(small_config(epochs=3), out=tmp_path, quiet=True)
    run = next(tmp_path.iterdir())
    model, card = load_checkpoint(run / "last.safetensors")
    assert card.epoch == 1
    assert all(torch.isfinite(v.float()).all() for v in model.state_dict().values())


def test_variable_size_folder_needs_patches(tmp_path, image_folder):
    from noisefree.io import write_image

    from .conftest import smooth_image

    write_image(image_folder / "big.png", smooth_image(50, 60), dtype="uint8")
    cfg = small_config(dataset=f"folder:{image_folder}", subset=None, model="dncnn",
                       model_args={"depth": 3, "width": 8}, epochs=1, val_fraction=0.3)
    with pytest.raises(ValueError, match="--patch-size"):
        nf.train(cfg, out=tmp_path / "runs", quiet=True)
    run = nf.train(cfg.model_copy(update={"patch_size": 24, "augment": True}), out=tmp_path / "runs", quiet=True)
    assert (run / "report.md").is_file()


def test_noise_map_model_trains_blind(tmp_path):
    cfg = small_config(model="dncnn", model_args={"depth": 4, "width": 16, "noise_map": True},
                       noise="gaussian:0.1-0.3", epochs=2)
    run = nf.train(cfg, out=tmp_path, quiet=True)
    den = nf.load(run)
    assert den.takes_sigma and den.model.noise_map
    with pytest.raises(ValueError, match="Gaussian noise"):
        nf.train(cfg.model_copy(update={"noise": "saltpepper:0.1"}), out=tmp_path, quiet=True)


def test_init_fine_tunes_from_a_run_and_checks_the_architecture(tmp_path):
    base = nf.train(small_config(epochs=1), out=tmp_path / "a", quiet=True)
    tuned = nf.train(small_config(epochs=1, init=str(base), lr=1e-12), out=tmp_path / "b", quiet=True)
    a, _ = load_checkpoint(base / "best.safetensors")
    b, _ = load_checkpoint(tuned / "last.safetensors")
    for k, v in a.state_dict().items():  # a vanishing learning rate keeps the starting weights
        if v.is_floating_point() and "running" not in k:
            assert torch.allclose(v, b.state_dict()[k], atol=1e-6), k
    with pytest.raises(ValueError, match="--model-args"):
        nf.train(small_config(epochs=1, init=str(base), model_args={"depth": 5, "width": 16}), out=tmp_path / "c",
                 quiet=True)


def test_init_turns_a_blind_network_into_a_noise_map_one_that_starts_equal(tmp_path):
    unet = {"width": 8, "levels": 2, "blocks": 1}  # no batch norm: weights alone decide the output
    base = nf.train(small_config(epochs=1, model="unet", model_args=unet, noise="gaussian:0-0.3"),
                    out=tmp_path / "a", quiet=True)
    tuned = nf.train(small_config(epochs=1, model="unet", model_args={**unet, "noise_map": True}, init=str(base),
                                  noise="gaussian:0-0.3", lr=1e-12), out=tmp_path / "b", quiet=True)
    blind, grown = nf.load(base), nf.load(tuned)
    assert not blind.takes_sigma and grown.takes_sigma and grown.card.takes_sigma
    x = torch.rand(2, 1, 28, 28)
    for sigma in (0.05, 0.3):  # the sigma channel starts with zero weights: same output at any level
        assert torch.allclose(grown(x, sigma=sigma), blind(x), atol=1e-4)


@pytest.mark.parametrize("blocks,count", [(3, 9), ([1, 3], 5)])  # everywhere, or only in the bottleneck
def test_init_deepens_a_unet_that_starts_equal_and_then_learns(tmp_path, blocks, count):
    unet = {"width": 8, "levels": 2, "blocks": 1}
    base = nf.train(small_config(epochs=1, model="unet", model_args=unet, noise="gaussian:0-0.3"),
                    out=tmp_path / "a", quiet=True)
    deeper = {**unet, "blocks": blocks, "noise_map": True}  # more blocks and a noise map at once
    start = small_config(epochs=1, model="unet", model_args=deeper, init=str(base), noise="gaussian:0-0.3")
    same = nf.train(start.model_copy(update={"lr": 1e-12}), out=tmp_path / "b", quiet=True)
    shallow, grown = nf.load(base), nf.load(same)
    assert sum(isinstance(m, ResBlock) for m in grown.model.modules()) == count
    x = torch.rand(2, 1, 28, 28)
    for sigma in (0.05, 0.3):  # extra blocks start as identities, the map with zero weights
        assert torch.allclose(grown(x, sigma=sigma), shallow(x), atol=1e-4)
    learned = nf.load(nf.train(start.model_copy(update={"lr": 1e-3}), out=tmp_path / "c", quiet=True))
    blocks = [m for m in learned.model.modules() if isinstance(m, ResBlock)]
    assert all(b.body[2].weight.abs().sum() > 0 for b in blocks)  # the new blocks' zero convolutions moved
    fewer = {**deeper, "blocks": [2, 2]} if blocks == [1, 3] else {**unet, "blocks": 1, "noise_map": True}
    with pytest.raises(ValueError, match="blocks"):  # fewer blocks at any level than the start: refused, with the fix
        nf.train(small_config(epochs=1, model="unet", model_args=fewer, init=str(same), noise="gaussian:0-0.3"),
                 out=tmp_path / "d", quiet=True)


def test_tensorboard_logs_losses_scores_lr_and_images(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = nf.train(RunConfig(dataset="digits", subset="0:120", model="unet", model_args={"width": 4, "levels": 2,
                             "blocks": 1}, epochs=2, batch_size=8, eval_images=8, tensorboard=True, device="cpu"),
                   out=tmp_path, quiet=True)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 10}).Reload()
    tags = events.Tags()
    for tag in ("train/loss", "val/loss", "val/psnr", "val/ssim", "train/lr", "train/loss_running"):
        assert tag in tags["scalars"], tags
    assert [e.step for e in events.Scalars("val/psnr")] == [1, 2]
    assert "val/noisy|denoised|clean" in tags["images"]


def test_validation_psnr_scores_a_model_as_its_run_validated_it(tmp_path):
    run = nf.train(small_config(epochs=2), out=tmp_path, quiet=True)
    config = RunConfig.from_yaml(run / "config.yaml")
    best, card = load_checkpoint(run / "best.safetensors")
    assert train_module.validation_psnr(best, config) == pytest.approx(card.metrics["validation"]["psnr"], abs=1e-4)
    untrained = build_model(config.model, channels=1, **config.model_args)
    assert train_module.validation_psnr(untrained, config) < card.metrics["validation"]["psnr"] - 3


def test_rescaled_adds_antialiased_smaller_copies_with_their_own_seeds(image_folder):
    from noisefree.augment import rescaled
    from noisefree.data import load_dataset

    images = load_dataset(f"folder:{image_folder}")
    images.images[0][:] = torch.tensor([[0, 255], [255, 0]], dtype=torch.uint8).repeat(20, 20)  # a checkerboard
    both = rescaled(images, [1.0, 0.5])
    assert len(both) == 2 * len(images) and both.sizes[:6] == images.sizes and set(both.sizes[6:]) == {(20, 20)}
    assert both.images[6].dtype == torch.uint8 and torch.equal(both.images[0], images.images[0])
    assert abs(both.images[6].float().mean() - 127.5) < 2 and both.images[6].float().std() < 10  # averaged, not picked
    assert len(set(both.index.tolist())) == 12 and both.files[6].endswith("img00.png @ 0.5")
    with pytest.raises(ValueError, match=r"img00\.png: 40x40 at scale 0.25 is 10x10, smaller than --patch-size 16"):
        rescaled(images, [1.0, 0.25], min_size=16)


def test_scales_train_and_validate_on_every_scale(tmp_path, image_folder):
    cfg = small_config(dataset=f"folder:{image_folder}", subset=None, model="dncnn",
                       model_args={"depth": 3, "width": 8}, epochs=1, val_fraction=0.3, patch_size=16, scales="1,0.5")
    run = nf.train(cfg, out=tmp_path, quiet=True)
    config = RunConfig.from_yaml(run / "config.yaml")
    assert config.scales == [1.0, 0.5]
    full, _ = train_module._load_images(config)
    train_set, val_set = train_module._split(full, config)
    assert (len(train_set), len(val_set)) == (8, 4) and val_set.sizes[2:] == [(20, 20)] * 2
    best, card = load_checkpoint(run / "best.safetensors")
    assert train_module.validation_psnr(best, config) == pytest.approx(card.metrics["validation"]["psnr"], abs=1e-4)
    at_one_scale = train_module.validation_psnr(best, config.model_copy(update={"scales": [1.0]}))
    assert abs(at_one_scale - card.metrics["validation"]["psnr"]) > 1e-3


@pytest.mark.parametrize(("update", "message"), [
    ({"scales": "1,1.5"}, r"distinct factors in \(0, 1\]"),
    ({"scales": "1,0.5", "patch_size": None}, "needs crops: add --patch-size"),
    ({"scales": "1,0.5", "noisy": True, "objective": "n2v2"}, "shrink their noise"),
])
def test_scales_refuse_what_cannot_work(update, message):
    from noisefree.config import ConfigError

    with pytest.raises((ValueError, ConfigError), match=message):
        RunConfig.resolve(config={**small_config(patch_size=16).model_dump(), **update})


def test_saturate_scales_colour_per_image_within_its_range():
    from torchvision.transforms.v2.functional import rgb_to_grayscale

    from noisefree.augment import saturate

    from .conftest import smooth_image

    x = torch.stack([torch.from_numpy(smooth_image(24, 24, channels=3, seed=i)).permute(2, 0, 1) for i in range(64)])
    x = 0.4 + 0.2 * x  # near mid-gray, so nothing clips and the factors can be read back
    out = saturate(x, 2.5, torch.Generator().manual_seed(0))
    gray = rgb_to_grayscale(x)
    factors = ((out - gray) * (x - gray)).flatten(1).sum(1) / (x - gray).square().flatten(1).sum(1)
    assert torch.allclose(rgb_to_grayscale(out), gray, atol=1e-3)  # brightness kept, only colour moves
    assert factors.min() >= 1 / 2.5 - 1e-3 and factors.max() <= 2.5 + 1e-3
    assert factors.min() < 0.7 and factors.max() > 1.6 and len(set(factors.round(decimals=3).tolist())) > 50
    assert torch.allclose(saturate(gray.expand(-1, 3, -1, -1), 2.5, torch.Generator().manual_seed(1)),
                          gray.expand(-1, 3, -1, -1), atol=1e-3)  # gray stays gray
    assert torch.equal(out, saturate(x, 2.5, torch.Generator().manual_seed(0)))  # seeded: runs resume exactly


def test_saturation_trains_colour_and_refuses_what_it_cannot_follow(tmp_path, image_folder):
    from noisefree.io import write_image

    from .conftest import smooth_image

    colour = tmp_path / "colour"
    for i in range(5):
        write_image(colour / f"{i}.png", smooth_image(32, 32, channels=3, seed=i), dtype="uint8")
    cfg = small_config(dataset=f"folder:{colour}", subset=None, model="dncnn", model_args={"depth": 3, "width": 8},
                       epochs=1, val_fraction=0.2, patch_size=16, saturation=2.0)
    assert RunConfig.from_yaml(nf.train(cfg, out=tmp_path / "runs", quiet=True) / "config.yaml").saturation == 2.0
    with pytest.raises(ValueError, match="for colour .RGB. images"):
        nf.train(cfg.model_copy(update={"dataset": f"folder:{image_folder}"}), out=tmp_path / "runs", quiet=True)
    with pytest.raises(ValueError, match="fixed noisy"):
        RunConfig.resolve(config={**cfg.model_dump(), "objective": "ne2ne"})


def test_half_resolution_chroma_keeps_luma_and_averages_colour_in_blocks():
    from noisefree.objectives import _YCBCR, half_resolution_chroma

    x = torch.rand(3, 3, 9, 10, generator=torch.Generator().manual_seed(0))
    which = torch.tensor([True, False, True])
    out = half_resolution_chroma(x, which)
    ycc = lambda t: torch.einsum("ij,njhw->nihw", _YCBCR, t)  # noqa: E731
    assert torch.allclose(ycc(out)[:, 0], ycc(x)[:, 0], atol=1e-5)  # luma untouched
    assert torch.equal(out[1], x[1])  # images not picked: as they were
    chroma = ycc(out)[[0, 2], 1:]
    blocks = torch.nn.functional.avg_pool2d(ycc(x)[[0, 2], 1:], 2, ceil_mode=True)
    assert torch.allclose(chroma[..., ::2, ::2], blocks, atol=1e-5)  # each 2x2 block holds its mean...
    assert torch.allclose(chroma[..., 1::2, 1::2], blocks[..., :4, :], atol=1e-5)  # ...everywhere in it
    assert torch.allclose(chroma[..., 8, 1::2], blocks[..., 4, :], atol=1e-5)  # odd height: a 1x2 last block
    assert torch.allclose(half_resolution_chroma(out, which), out, atol=1e-5)  # a projection: idempotent
    assert not torch.allclose(out[0], x[0], atol=1e-3)  # and it did change the colour detail
    assert torch.equal(half_resolution_chroma(x, torch.zeros(3, dtype=torch.bool)), x)


def test_half_chroma_spares_crops_at_half_scale_and_refuses_what_it_cannot_use(tmp_path, image_folder):
    from noisefree.io import write_image

    from .conftest import smooth_image

    colour = tmp_path / "colour"
    for i in range(5):
        write_image(colour / f"{i}.png", smooth_image(40, 40, channels=3, seed=i), dtype="uint8")
    cfg = small_config(dataset=f"folder:{colour}", subset=None, model="dncnn", model_args={"depth": 3, "width": 8},
                       epochs=1, val_fraction=0.2, patch_size=16, scales="1,0.7,0.5", half_chroma=True)
    run = train_module.set_up(cfg, out=tmp_path / "runs", resume=None, quiet=True)
    train_set, _ = train_module._split(train_module._load_images(cfg)[0], cfg)
    assert run.half_chroma.tolist() == [not name.endswith("@ 0.5") for name in train_set.files]
    assert run.half_chroma.sum() == 8 and len(run.half_chroma) == 12
    trained = nf.train(cfg, out=tmp_path / "runs", quiet=True)
    assert RunConfig.from_yaml(trained / "config.yaml").half_chroma
    with pytest.raises(ValueError, match="for colour .RGB. images"):
        nf.train(cfg.model_copy(update={"dataset": f"folder:{image_folder}"}), out=tmp_path / "runs", quiet=True)
    with pytest.raises(ValueError, match="no clean target"):
        RunConfig.resolve(config={**cfg.model_dump(), "objective": "ne2ne"})
