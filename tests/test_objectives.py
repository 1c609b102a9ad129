"""Training objectives: the N2V blind spot, the Ne2Ne sub-sampler, and self-supervised runs that learn."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import noisefree as nf
from noisefree.config import ConfigError, RunConfig
from noisefree.io import write_image
from noisefree.objectives import (
    Neighbor2Neighbor,
    Noise2Void,
    blind_spot_mask,
    make_objective,
    neighbor_subsample,
    replace_masked,
)

from .conftest import smooth_image


def test_blind_spot_mask_is_one_pixel_per_cell():
    g = torch.Generator().manual_seed(0)
    mask = blind_spot_mask((3, 2, 70, 63), 0.02, generator=g)  # cells of 7 x 7
    assert mask.shape == (3, 1, 70, 63)
    cells = mask[:, 0].reshape(3, 10, 7, 9, 7).sum((2, 4))
    assert torch.equal(cells, torch.ones_like(cells))
    assert abs(mask.mean().item() - 1 / 49) < 1e-6


@pytest.mark.parametrize("mode", ["uniform", "median"])
def test_n2v_replaces_only_the_masked_pixels_from_their_neighbours(mode):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 24, 20, generator=g)
    mask = blind_spot_mask(x.shape, 0.05, generator=g)
    out = replace_masked(x, mask, radius=2, mode=mode, generator=g)
    changed = (out != x).any(1, keepdim=True).float()
    assert torch.equal(changed, mask)  # random values: every masked pixel changes, nothing else does
    inside = [p for p in mask[:, 0].nonzero().tolist() if 2 <= p[1] < 22 and 2 <= p[2] < 18]
    for n, y, xx in inside:
        window = x[n, :, y - 2:y + 3, xx - 2:xx + 3].reshape(3, 25)
        neighbours = torch.cat([window[:, :12], window[:, 13:]], 1)  # the 24 around the centre
        if mode == "median":
            assert torch.equal(out[n, :, y, xx], neighbours.median(1).values)
        else:  # one neighbour's value, all channels from the same pixel
            assert any(torch.equal(out[n, :, y, xx], c) for c in neighbours.T)


def test_n2v_loss_sees_only_the_masked_pixels():
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    pred = torch.zeros_like(x, requires_grad=True)
    seen = {}

    def net(inp):
        seen["input"] = inp
        return pred + 0 * inp

    objective = Noise2Void(fraction=0.04)
    objective.loss(net, x, None, generator=torch.Generator().manual_seed(5)).backward()
    mask = blind_spot_mask(x.shape, 0.04, generator=torch.Generator().manual_seed(5))
    assert torch.equal((pred.grad != 0).float(), mask)
    assert torch.equal((seen["input"] != x).float(), mask)  # the network never saw the masked values


def test_neighbor_subsampler_gives_two_half_images_from_disjoint_adjacent_pixels():
    x = torch.arange(2 * 3 * 9 * 11, dtype=torch.float32).reshape(2, 3, 9, 11)  # every value unique
    g1, g2 = neighbor_subsample(x, generator=torch.Generator().manual_seed(0))
    assert g1.shape == g2.shape == (2, 3, 4, 5)  # odd edges dropped
    for n in range(2):
        for i in range(4):
            for j in range(5):
                cell = x[n, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                (a,) = (cell == g1[n, 0, i, j]).nonzero().tolist()
                (b,) = (cell == g2[n, 0, i, j]).nonzero().tolist()
                assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1  # two different, adjacent pixels of the cell
                same_pixel = x[n, :, 0, 0] - x[n, 0, 0, 0]  # all channels from the same pixel
                assert torch.equal(g1[n, :, i, j] - g1[n, 0, i, j], same_pixel)


def test_ne2ne_regulariser_weight_grows_over_the_run():
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    net = torch.nn.Conv2d(1, 1, 3, padding=1)

    def loss(progress):
        return Neighbor2Neighbor(gamma=2.0).loss(lambda t: net(t), x, None, generator=torch.Generator().manual_seed(3),
                                                 progress=progress).item()

    g1, g2 = neighbor_subsample(x, generator=torch.Generator().manual_seed(3))
    assert loss(0.0) == pytest.approx(torch.mean((net(g1) - g2) ** 2).item(), rel=1e-6)
    assert loss(1.0) > loss(0.5) > loss(0.0)


def test_objectives_validate_their_arguments():
    assert make_objective("n2v2", {"fraction": 0.01}).replace == "median"
    with pytest.raises(ValueError, match="objective ne2ne does not take fraction; it takes gamma"):
        make_objective("ne2ne", {"fraction": 0.1})
    with pytest.raises(ValueError, match="fraction must be in"):
        make_objective("n2v", {"fraction": 0.5})
    with pytest.raises(ConfigError, match="supervised training needs clean images"):
        RunConfig.validated({"noisy": True})
    with pytest.raises(ConfigError, match="n2n on noisy images needs a second noisy image"):
        RunConfig.validated({"noisy": True, "objective": "n2n"})
    with pytest.raises(ConfigError, match="amounts to seeing the clean one"):
        RunConfig.validated({"objective": "ne2ne", "fixed_noise": False})
    assert RunConfig(objective="n2v").uses_fixed_noise and not RunConfig().uses_fixed_noise


def test_n2v_refuses_noise_that_is_not_zero_mean(tmp_path):
    with pytest.raises(ValueError, match="saltpepper:0.1 is not .*--objective supervised"):
        nf.train(RunConfig(dataset="digits", subset="0:20", noise="saltpepper:0.1", objective="n2v", model="unet",
                           model_args={"width": 4, "levels": 2, "blocks": 1}, epochs=1), out=tmp_path, quiet=True)


def _tiny(**kw) -> RunConfig:
    base = dict(model="unet", model_args={"width": 16, "levels": 2, "blocks": 1}, batch_size=8, lr=2e-3,
                patch_size=32, patches_per_image=16, augment=True, val_fraction=0.2, epochs=4, device="cpu")
    return RunConfig(**(base | kw))


def test_ne2ne_on_noisy_images_only_learns_to_denoise(tmp_path):
    """Nothing but noisy files: the run trains, keeps the best by its own loss, reports without a reference,
    and the result is closer to the clean images it never saw than its input."""
    rng = np.random.default_rng(0)
    clean = [smooth_image(48, 48, seed=i) for i in range(10)]
    noisy = [c + rng.normal(0, 0.1, c.shape).astype(np.float32) for c in clean]
    for i, im in enumerate(noisy):
        write_image(tmp_path / "noisy" / f"n{i}.tif", im, dtype="float32")
    run = nf.train(_tiny(dataset=f"folder:{tmp_path / 'noisy'}", noisy=True, objective="ne2ne"), out=tmp_path / "runs",
                   quiet=True)
    card = json.loads((run / "best.json").read_text())
    assert card["objective"] == "ne2ne" and card["noise"] is None
    history = (run / "history.csv").read_text().splitlines()
    assert "nan" in history[1].split(",")[3:5]  # no PSNR without a clean reference
    assert (run / "report.md").is_file() and "sigma_in_mean" in (run / "summary.json").read_text()
    den = nf.load(run)
    before = np.mean([np.mean((n - c) ** 2) for n, c in zip(noisy, clean)])
    after = np.mean([np.mean((den(n) - c) ** 2) for n, c in zip(noisy, clean)])
    assert after < 0.75 * before  # 1.25 dB or more, from noisy files alone


@pytest.mark.parametrize("objective", ["n2v2", "n2n"])
def test_self_supervised_on_a_clean_set_with_fixed_noise_beats_the_noisy_input(tmp_path, image_folder, objective):
    args = {"top_skip": False, "blurpool": True, "residual": False} if objective == "n2v2" else {}
    config = _tiny(dataset=f"folder:{image_folder}", noise="gaussian:0.1", clip=False, objective=objective,
                   model_args={"width": 16, "levels": 2, "blocks": 1, **args}, epochs=6)
    run = nf.train(config, out=tmp_path, quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["psnr_mean"] > summary["noisy_psnr_mean"] + 1.0
    assert json.loads((run / "best.json").read_text())["objective"] == objective


def test_n2n_pairs_are_matched_by_name_and_unmatched_names_listed(tmp_path):
    from noisefree.data import DatasetError

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        img = smooth_image(32, 32, seed=ord(name))
        write_image(tmp_path / "A" / f"{name}.png", img + rng.normal(0, 0.05, img.shape), dtype="uint8")
        write_image(tmp_path / "B" / f"{name}.tif", img + rng.normal(0, 0.05, img.shape), dtype="uint8")
    write_image(tmp_path / "B" / "stray.png", smooth_image(32, 32), dtype="uint8")
    config = _tiny(dataset=f"folder:{tmp_path / 'A'}", noisy=True, objective="n2n",
                   pair_dataset=f"folder:{tmp_path / 'B'}", epochs=1, val_fraction=0.34)
    with pytest.raises(DatasetError, match=r"1 in .*B have no partner in .*A: stray"):
        nf.train(config, out=tmp_path / "runs", quiet=True)
    (tmp_path / "B" / "stray.png").unlink()
    run = nf.train(config, out=tmp_path / "runs", quiet=True)
    assert json.loads((run / "best.json").read_text())["objective"] == "n2n"


def test_fixed_noise_is_regenerated_bit_for_bit(image_folder):
    from noisefree.data import load_dataset
    from noisefree.noise import parse_noise
    from noisefree.training_data import fixed_views

    data = load_dataset(f"folder:{image_folder}")
    noise = parse_noise("gaussian:0-0.2")
    one, two = (fixed_views(data, noise, seed=3, clip=False, pair=True) for _ in range(2))
    assert torch.equal(one.views["noisy"].images, two.views["noisy"].images)
    assert torch.equal(one.sigma, two.sigma)
    assert not torch.equal(one.views["noisy"].images, one.views["pair"].images)
    other = fixed_views(data, noise, seed=4, clip=False)
    assert not torch.equal(one.views["noisy"].images, other.views["noisy"].images)


def test_self_supervised_benchmark_resumes_a_row_that_stopped(tmp_path, monkeypatch):
    """benchmarks/self_supervised.py picks up an unfinished run of the same recipe instead of starting again,
    and a row's training time is the sum of its epochs, whatever the sittings."""
    import csv

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import self_supervised as bench

    for i in range(5):
        write_image(tmp_path / "gray" / "train400" / f"{i}.png", smooth_image(72, 72, seed=i), dtype="uint8")
    config = bench.recipe("ne2ne", "gaussian:0.1", tmp_path, 2, "cpu")
    runs = tmp_path / "runs"
    assert bench.unfinished_run(runs, config) is None
    run = nf.train(config, out=runs, quiet=True)
    assert bench.unfinished_run(runs, config) is None  # finished: scored, not resumed
    (run / "summary.json").unlink()  # as if the sitting ended before the final evaluation
    assert bench.unfinished_run(runs, config.model_copy(update={"epochs": 3})) is None  # another budget
    assert bench.unfinished_run(runs, config.model_copy(update={"device": "auto"})) == run
    again = nf.train(resume=run, quiet=True)
    assert again == run and (run / "summary.json").is_file() and bench.unfinished_run(runs, config) is None
    with open(run / "history.csv", newline="") as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    assert len(seconds) == 2 and min(seconds) > 0 and bench.training_seconds(run) == pytest.approx(sum(seconds))


def test_self_supervised_benchmark_ablation_rows_change_only_what_they_name(tmp_path, monkeypatch):
    """An ablation row of benchmarks/self_supervised.py is its objective's recipe with the named changes only,
    so the table compares like with like."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import self_supervised as bench

    for row, (objective, args, changes) in bench.VARIANTS.items():
        base = bench.recipe(objective, "gaussian:0.1", tmp_path, 3, "cpu").model_dump(exclude={"name"})
        variant = bench.recipe(row, "gaussian:0.1", tmp_path, 3, "cpu").model_dump(exclude={"name"})
        differ = {k for k in base if base[k] != variant[k]}
        assert differ == {"objective_args", *changes}, row
        assert variant["objective_args"] == args and all(variant[k] == v for k, v in changes.items())


def test_self_supervised_benchmark_command_names_its_budget_and_rows(tmp_path, monkeypatch):
    """The command printed above a self-supervised table makes that table: each budget keeps its rows in its
    own folder, and a table holding only some learned rows names them (--only)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import self_supervised as bench

    assert bench.results_folder(tmp_path, "gaussian", 30) != bench.results_folder(tmp_path, "gaussian", 90)
    baselines = {"BM3D (σ known)": {"psnr": 28.6}}
    everything = {**baselines, **{row: {"epochs": 30} for row in bench.LEARNED["gaussian"]}}
    full = bench.command("gaussian", everything, "selfsup-gaussian-30", 30)
    assert full.endswith("--noise gaussian --epochs 30 --block selfsup-gaussian-30") and "--only" not in full
    one = bench.command("gaussian", {**baselines, "ne2ne-gamma0-128": {"epochs": 90}}, None, 6)
    assert one.endswith("--epochs 90 --only ne2ne-gamma0-128")


def test_psnr_loss_is_minus_the_mean_psnr_and_weighs_every_image_alike():
    from noisefree.metrics import psnr
    from noisefree.objectives import psnr_loss

    gen = torch.Generator().manual_seed(0)
    target = torch.rand(2, 1, 16, 16, generator=gen)
    errors = torch.randn(2, 1, 16, 16, generator=gen) * torch.tensor([0.01, 0.1]).view(2, 1, 1, 1)
    loss = psnr_loss(target + errors, target)
    assert loss.item() == pytest.approx(-psnr(target + errors, target).mean().item(), abs=1e-4)
    # shrinking either image's error by the same factor gains the same: a quiet image counts as much as a
    # noisy one (the MSE would favour the one with ten times the error a hundredfold)
    scale = torch.ones(2, requires_grad=True)
    psnr_loss(target + scale.view(2, 1, 1, 1) * errors, target).backward()
    assert scale.grad[0].item() == pytest.approx(scale.grad[1].item(), rel=1e-4)
    scale.grad = None
    torch.nn.functional.mse_loss(target + scale.view(2, 1, 1, 1) * errors, target).backward()
    assert scale.grad[1].item() > 50 * scale.grad[0].item()


def test_psnr_loss_is_for_whole_images_only():
    assert RunConfig.validated({"loss": "psnr"}).loss == "psnr"
    assert RunConfig.validated({"loss": "psnr", "objective": "n2n", "noisy": True,
                                "pair_dataset": "folder:x"}).loss == "psnr"
    for objective in ("n2v", "n2v2", "ne2ne"):
        with pytest.raises(ConfigError, match=f"loss psnr compares whole images, and {objective} compares"):
            RunConfig.validated({"loss": "psnr", "objective": objective})


def test_a_blind_network_trained_on_the_psnr_loss_denoises(tmp_path, image_folder):
    config = _tiny(dataset=f"folder:{image_folder}", noise="gaussian:0.05-0.2", clip=False, loss="psnr", epochs=5)
    run = nf.train(config, out=tmp_path, quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["psnr_mean"] > summary["noisy_psnr_mean"] + 1.0
    history = (run / "history.csv").read_text().splitlines()
    assert float(history[1].split(",")[1]) < 0  # the loss is minus a PSNR in dB
