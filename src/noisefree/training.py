"""Training: one loop, read top to bottom.

``train(config)`` makes a run folder, trains, keeps the best and last checkpoints, evaluates the best one
on the held-out data and writes the report. The clean images live on the training device and the noise
is drawn there, so no data loader stands between the GPU and its work. ``train(resume=RUN_DIR)``
continues a run exactly where it stopped: weights, optimiser, scheduler, random state, best-so-far.

Run folder::

    config.yaml             the resolved configuration (RunConfig.from_yaml reads it back)
    best.safetensors/.json  best checkpoint by validation loss, with its model card
    last.safetensors/.json  checkpoint after the last finished epoch
    train_state.pt          optimiser, scheduler, RNG, history (tensors only: loaded with weights_only)
    history.csv             per-epoch losses, validation PSNR/SSIM, seconds
    metrics.csv, summary.json, report.md, figures/   evaluation of the best checkpoint
"""

from __future__ import annotations

import csv
import json
import math
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import __version__
from .checkpoint import load_checkpoint, save_checkpoint
from .config import RunConfig
from .data import ImageSet, load_dataset
from .denoiser import NetworkDenoiser, forward_padded
from .evaluation import evaluate_images, finish_output, write_results
from .metrics import psnr, ssim
from .models import build_model, get_spec
from .noise import Gaussian, TorchRandom, corrupt, eval_noisy_with_sigma, parse_noise
from .report import write_report

__all__ = ["TrainingDiverged", "pick_device", "train"]

console = Console(stderr=True, soft_wrap=True)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def train(config: RunConfig | None = None, *, out: str | Path = "runs", resume: str | Path | None = None,
          quiet: bool = False) -> Path:
    """Train a denoiser; returns the run folder. Give ``config`` for a new run or ``resume`` for an old one."""
    log = (lambda *a, **k: None) if quiet else console.print

    # ---- run folder and configuration -----------------------------------------------------------
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / "config.yaml").is_file():
            raise FileNotFoundError(f"{run_dir}: not a run folder (no config.yaml); nothing to resume")
        config = RunConfig.from_yaml(run_dir / "config.yaml")
    elif config is None:
        raise ValueError("train() needs a config or resume=RUN_DIR")
    else:
        run_dir = _new_run_dir(Path(out), config.name or f"{config.model}-{_slug(config.dataset)}")
        config.to_yaml(run_dir / "config.yaml")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)

    # ---- data: clean images on the device, a fixed validation split ----------------------------
    full = load_dataset(config.dataset, split=config.split, root=config.data_root, download=config.download,
                        resize=config.resize, subset=config.subset, grayscale=config.grayscale)
    train_set, val_set = full.split(config.val_fraction, seed=config.seed)
    if config.patch_size is None and not train_set.stacked:
        raise ValueError(f"{config.dataset}: images differ in size; train on crops with --patch-size "
                         "(e.g. 64) or make them equal with --resize")
    train_set = train_set.to(device)
    noise = parse_noise(config.noise)
    val_clean, val_noisy, val_sigma = _validation_pairs(val_set, noise, config, device)
    channels = full.channels

    # ---- model and optimiser ---------------------------------------------------------------------
    spec = get_spec(config.model)
    sample_hw = (config.patch_size,) * 2 if config.patch_size else tuple(train_set.images.shape[-2:])
    spec.check_size(*sample_hw)
    model = build_model(config.model, channels=channels, **config.model_args).to(device)
    if config.init and resume is None:
        _load_initial_weights(model, config, channels)
    channels_last = device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    compiled = torch.compile(model) if config.compile else model
    takes_sigma = getattr(model, "noise_map", False)  # FFDNet/DRUNet-style: the noise std is an input
    if takes_sigma and not isinstance(noise, Gaussian):
        raise ValueError(f"a model with noise_map learns from Gaussian noise (gaussian:S or gaussian:A-B), "
                         f"not {noise.spec!r}")

    def forward(x, sigma=None):
        return forward_padded(compiled, spec, x, sigma)

    # with --ema, checkpoints and validation use an exponential moving average of the weights
    ema = (torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(
        config.ema), use_buffers=True) if config.ema else None)
    kept = ema.module if ema is not None else model  # the weights that are validated and saved
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
                 if config.schedule == "cosine" else torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: 1.0))
    use_bf16 = config.amp and device.type == "cuda" and torch.cuda.is_bf16_supported()
    loss_fn = F.mse_loss if config.loss == "mse" else F.l1_loss
    generator = torch.Generator(device=device).manual_seed(config.seed)
    rng = TorchRandom(generator)
    history: list[dict] = []
    best_loss, bad_epochs, start_epoch = math.inf, 0, 0

    if resume is not None:
        state = torch.load(run_dir / "train_state.pt", map_location="cpu", weights_only=True)
        if ema is not None:
            model.load_state_dict(state["model"])
            ema.load_state_dict(state["ema"])
        else:
            model.load_state_dict(load_checkpoint(run_dir / "last.safetensors", device=device)[0].state_dict())
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        history, best_loss, bad_epochs = state["history"], state["best_loss"], state["bad_epochs"]
        start_epoch = len(history)
        log(f"[bold]resuming[/] {run_dir} after epoch {start_epoch}")
        if start_epoch >= config.epochs or (config.patience and bad_epochs >= config.patience):
            log("that run had already finished; evaluating its best checkpoint")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"[bold]noisefree[/] {config.model} ({n_params:,} parameters) on {config.dataset}: {len(train_set)} "
        f"training / {len(val_set)} validation images, noise {noise.spec}, device {device}")

    card = {"name": config.name or config.model, "architecture": config.model, "arguments": config.model_args,
            "channels": channels, "noise": noise.spec, "clip": config.clip, "dataset": config.dataset,
            "ema": config.ema, "image_size": list(sample_hw) if spec.fixed_size else None,
            "normalization": "[0, 1] float", "noisefree_version": __version__}

    # ---- the loop ----------------------------------------------------------------------------------
    stop = config.patience is not None and bad_epochs >= config.patience
    for epoch in range(start_epoch, config.epochs):
        if stop:
            break
        t0 = time.perf_counter()
        model.train()
        clean_epoch = _epoch_images(train_set, config, generator)  # (N, C, H, W) uint8/float on device
        n = clean_epoch.shape[0]
        order = torch.randperm(n, generator=generator, device=device)
        steps = math.ceil(n / config.batch_size)
        loss_sum = torch.zeros((), device=device)
        with _progress(quiet, f"epoch {epoch + 1}/{config.epochs}", steps) as advance:
            for step in range(steps):
                idx = order[step * config.batch_size:(step + 1) * config.batch_size]
                clean = clean_epoch[idx].float() / train_set.max_value
                if config.augment:
                    clean = _dihedral(clean, generator)
                if takes_sigma:
                    noisy, sigma = corrupt(clean, noise, rng, clip=config.clip, with_sigma=True)
                else:
                    noisy, sigma = corrupt(clean, noise, rng, clip=config.clip), None
                if channels_last:
                    noisy = noisy.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    pred = forward(noisy, sigma)
                loss = loss_fn(pred.float(), clean)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if ema is not None:
                    ema.update_parameters(model)
                loss_sum += loss.detach()
                if step % 50 == 49 or step == steps - 1:  # a sync now and then, not every step
                    running = loss_sum.item() / (step + 1)
                    if not math.isfinite(running):
                        last = run_dir / "last.safetensors"
                        saved = (f"the last good checkpoint is {last}" if last.exists() else
                                 "no epoch had finished, so there is no checkpoint")
                        raise TrainingDiverged(f"loss became {running} in epoch {epoch + 1}, step {step + 1}; "
                                               f"stopped, {saved}. Lower --lr, or check the data.")
                    advance(step + 1, running)
        scheduler.step()

        val = _validate(lambda x, s: forward_padded(kept, spec, x, s), kept, val_clean, val_noisy, val_sigma,
                        loss_fn)
        improved = val["loss"] < best_loss - config.min_delta
        bad_epochs = 0 if improved else bad_epochs + 1
        best_loss = min(best_loss, val["loss"])
        history.append({"epoch": epoch + 1, "train_loss": loss_sum.item() / steps, "val_loss": val["loss"],
                        "val_psnr": val["psnr"], "val_ssim": val["ssim"], "lr": optimizer.param_groups[0]["lr"],
                        "seconds": time.perf_counter() - t0})
        epoch_card = {**card, "epoch": epoch + 1, "metrics": {"validation": val}}
        save_checkpoint(run_dir / "last", kept, epoch_card)
        if improved:
            save_checkpoint(run_dir / "best", kept, epoch_card)
        extra = {"model": model.state_dict(), "ema": ema.state_dict()} if ema is not None else {}
        torch.save({**extra, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(), "history": history, "best_loss": best_loss,
                    "bad_epochs": bad_epochs}, run_dir / "train_state.pt")
        _write_history(history, run_dir / "history.csv")
        h = history[-1]
        log(f"epoch {h['epoch']:>3}/{config.epochs}  train {h['train_loss']:.5f}  val {h['val_loss']:.5f}  "
            f"PSNR {h['val_psnr']:.2f} dB  SSIM {h['val_ssim']:.4f}  {h['seconds']:.1f} s{'  *' if improved else ''}")
        stop = config.patience is not None and bad_epochs >= config.patience
        if stop:
            log(f"early stopping: no improvement for {config.patience} epochs")

    # ---- evaluate the best checkpoint and write the report ---------------------------------------
    best_model, best_card = load_checkpoint(run_dir / "best.safetensors", device=device)
    denoiser = NetworkDenoiser(best_model, best_card, batch_size=max(64, config.batch_size))
    test = _eval_set(config, val_set)
    result = evaluate_images(denoiser, test, noise, clip=config.clip, seed=config.seed)
    write_results(result, run_dir)
    best_card["metrics"]["test"] = {k: result.summary[k] for k in (
        "dataset", "images", "noise", "psnr_mean", "ssim_mean", "noisy_psnr_mean", "noisy_ssim_mean")}
    save_checkpoint(run_dir / "best", best_model, best_card)
    report = write_report(run_dir, result, title=f"noisefree run {run_dir.name}", history=history,
                          config_yaml=config.to_yaml())
    log(str(result))
    log(f"[bold green]report:[/] {report}")
    return run_dir


# ---- helpers, in the order the loop uses them -----------------------------------------------------

def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.split("/")[-1] or text)[:40]


def _new_run_dir(out: Path, name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out / f"{_slug(name)}-{stamp}"
    k = 1
    while run_dir.exists():
        k += 1
        run_dir = out / f"{_slug(name)}-{stamp}-{k}"
    run_dir.mkdir(parents=True)
    return run_dir


def _load_initial_weights(model, config: RunConfig, channels: int) -> None:
    """Fine-tuning: copy the weights of ``config.init`` (run folder, checkpoint or shipped name) into ``model``."""
    from .pretrained import list_pretrained, pretrained_files

    source = pretrained_files(config.init)[0] if config.init in list_pretrained() else config.init
    start, card = load_checkpoint(source)
    fix = (f"use --model {card['architecture']} --model-args '{json.dumps(card.get('arguments', {}))}' "
           "(see its model card)")
    if (card["architecture"], int(card["channels"])) != (config.model, channels):
        raise ValueError(f"--init {config.init}: a {card['architecture']} network for {card['channels']} "
                         f"channel(s); this run builds {config.model} for {channels}: {fix}")
    state = start.state_dict()
    if getattr(model, "noise_map", False) and not getattr(start, "noise_map", False):
        state = _add_noise_map_input(state, model.state_dict())
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise ValueError(f"--init {config.init}: its {card['architecture']} has arguments "
                         f"{card.get('arguments', {})}, this run asks for {config.model_args}: {fix}") from None


def _add_noise_map_input(state: dict, target: dict) -> dict:
    """A blind network's weights for the same network with a noise-level map: the first convolution gains
    one input channel (the map) with zero weights, so the result starts out denoising exactly as before."""
    grown = dict(state)
    for key, weight in state.items():
        want = target.get(key)
        if want is not None and weight.ndim == 4 and want.shape[1] == weight.shape[1] + 1 \
                and want.shape[0] == weight.shape[0] and want.shape[2:] == weight.shape[2:]:
            grown[key] = torch.cat([weight, weight.new_zeros(weight.shape[0], 1, *weight.shape[2:])], 1)
    return grown


def _validation_pairs(val_set: ImageSet, noise, config: RunConfig, device):
    """Fixed noisy validation images (seeded like evaluation) and their Gaussian stds (None for other
    noise), as lists of stacked batches on device."""
    if len(val_set) == 0:
        raise ValueError("validation split is empty; raise --val-fraction")
    clean, noisy, sigmas = [], [], []
    for idx in val_set.chunks(256):
        c = val_set.take(idx, torch.float64).cpu()
        seeds = [config.seed + int(val_set.index[i]) for i in idx]
        n, s = eval_noisy_with_sigma(c, noise, seeds, clip=config.clip)
        clean.append(c.float().to(device))
        noisy.append(n.float().to(device))
        sigmas.append(s.float().to(device) if s is not None else None)
    return clean, noisy, sigmas


def _epoch_images(data: ImageSet, config: RunConfig, generator: torch.Generator) -> torch.Tensor:
    """The images of one epoch: the stacked set itself, or fresh random crops of ``patch_size``."""
    if config.patch_size is None:
        return data.images
    p = config.patch_size
    crops = []
    for i in range(len(data)):
        img = data.images[i]
        h, w = img.shape[-2:]
        if h < p or w < p:
            raise ValueError(f"{data.files[i] if data.files else i}: image {h}x{w} is smaller than "
                             f"--patch-size {p}")
        ys = torch.randint(0, h - p + 1, (config.patches_per_image,), generator=generator, device=generator.device)
        xs = torch.randint(0, w - p + 1, (config.patches_per_image,), generator=generator, device=generator.device)
        crops += [img[:, y:y + p, x:x + p] for y, x in zip(ys.tolist(), xs.tolist())]
    return torch.stack(crops)


def _dihedral(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One of the 8 flips/rotations for the whole batch (square images rotate; others only flip)."""
    k = int(torch.randint(0, 8, (1,), generator=generator, device=generator.device))
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4 and x.shape[-1] == x.shape[-2]:
        x = x.transpose(-1, -2)
    return x


@torch.no_grad()
def _validate(forward, model, clean_batches, noisy_batches, sigma_batches, loss_fn) -> dict:
    model.eval()
    losses, psnrs, ssims, n = 0.0, [], [], 0
    for clean, noisy, sigma in zip(clean_batches, noisy_batches, sigma_batches):
        out = forward(noisy, sigma)
        losses += loss_fn(out.float(), clean, reduction="sum").item() / clean[0].numel()
        n += clean.shape[0]
        out = finish_output(out.float(), "small")
        psnrs += psnr(out, clean).tolist()
        ssims += ssim(out, clean).tolist() if min(clean.shape[-2:]) >= 11 else [float("nan")] * clean.shape[0]
    model.train()
    finite = [p for p in psnrs if math.isfinite(p)]
    return {"loss": losses / n, "psnr": float(np.mean(finite)) if finite else float("nan"),
            "ssim": float(np.nanmean(ssims)) if not all(map(math.isnan, ssims)) else float("nan")}


def _eval_set(config: RunConfig, val_set: ImageSet) -> ImageSet:
    """Held-out data for the final evaluation: the dataset's test split, or the validation split for
    datasets without one (folders)."""
    dataset = config.eval_dataset or config.dataset
    same = dataset == config.dataset and (config.eval_split, config.eval_subset) == (config.split, config.subset)
    if (dataset.startswith("folder:") and dataset == config.dataset) or same:
        test = val_set.to("cpu")
    else:
        test = load_dataset(dataset, split=config.eval_split, root=config.data_root, download=config.download,
                            resize=config.resize, subset=config.eval_subset, grayscale=config.grayscale)
    if config.eval_images:
        test = test.select(np.arange(min(config.eval_images, len(test))))
    return test


def _write_history(history: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


class _progress:
    """A rich progress bar with the running loss and ETA (silent when quiet)."""

    def __init__(self, quiet: bool, label: str, total: int):
        self.quiet = quiet or not console.is_terminal  # a bar only where someone watches it
        self.label, self.total = label, total

    def __enter__(self):
        if self.quiet:
            return lambda done, loss: None
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                            TextColumn("loss {task.fields[loss]:.5f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=console, transient=True)
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total, loss=float("nan"))
        return lambda done, loss: self.bar.update(task, completed=done, loss=loss)

    def __exit__(self, *exc):
        if not self.quiet:
            self.bar.__exit__(*exc)
        return False
