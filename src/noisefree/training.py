"""Training: one loop, read top to bottom.

``train(config)`` makes a run folder, trains, keeps the best and last checkpoints, evaluates the best one
on the held-out data and writes the report. The clean images live on the training device and the noise
is drawn there, so no data loader stands between the GPU and its work. ``train(resume=RUN_DIR)``
continues a run exactly where it stopped: weights, optimiser, random state, best-so-far. With a time
budget (``minutes``) the run plans its epochs from the time they take (:func:`planned_epochs`).

Run folder::

    config.yaml             the resolved configuration (RunConfig.from_yaml reads it back)
    best.safetensors/.json  best checkpoint by validation loss, with its model card
    last.safetensors/.json  checkpoint after the last finished epoch
    train_state.pt          optimiser, RNG, history (tensors only: loaded with weights_only)
    history.csv             per-epoch losses, validation PSNR/SSIM, learning rate, seconds
    metrics.csv, summary.json, report.md, figures/   evaluation of the best checkpoint
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from .augment import check_crops_fit, dihedral, epoch_images, rescaled, saturate
from .card import ModelCard
from .checkpoint import load_checkpoint, save_checkpoint
from .config import RunConfig
from .data import ImageSet, load_dataset
from .denoiser import NetworkDenoiser, forward_padded, sigma_per_image
from .devices import bf16_autocast, pick_device
from .distributed import Dist, from_env
from .evaluation import evaluate_images, write_results
from .finetune import load_initial_weights
from .metrics import psnr, ssim
from .models import build_model, get_spec
from .noise import Gaussian, TorchRandom, corrupt, eval_noisy, parse_noise
from .objectives import Objective, half_resolution_chroma, make_objective
from .progress import Progress, console, tagged
from .protocol import SMALL
from .runs import eval_set, new_run_dir, slug, write_history
from .training_data import PAIR_SEED, TrainingData, fixed_views, match_pairs, real_views

__all__ = ["TrainingDiverged", "learning_rate", "planned_epochs", "train", "validation_psnr", "warmup_factor"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def train(config: RunConfig | None = None, *, out: str | Path = "runs", resume: str | Path | None = None,
          quiet: bool = False) -> Path:
    """Train a denoiser; returns the run folder. Give ``config`` for a new run or ``resume`` for an old one."""
    run = set_up(config, out=Path(out), resume=resume, quiet=quiet)
    with Progress(f"{run.run_dir.name}", run.steps_per_epoch * (run.planned - run.epoch), quiet=run.quiet) as bar:
        while not run.finished:
            train_one_epoch(run, bar)
            validate_and_save(run)
            bar.update(total=bar.done + run.steps_per_epoch * (run.planned - run.epoch))
    if run.tb is not None:
        run.tb.close()
    if run.dist.main:
        final_evaluation(run)
    run.dist.barrier()
    run.dist.close()
    return run.run_dir


# ---- the state of a run ----------------------------------------------------------------------------

@dataclass
class Run:
    """Everything the loop needs, made by :func:`set_up`."""

    config: RunConfig
    run_dir: Path
    device: torch.device
    model: nn.Module  # the network being optimised
    kept: nn.Module  # the weights that are validated and saved (the EMA when there is one)
    ema: torch.optim.swa_utils.AveragedModel | None
    compiled: nn.Module
    card: ModelCard
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    noise: object
    objective: Objective
    train_data: TrainingData
    val_set: ImageSet  # clean held-out images, or noisy ones when the data has no clean reference
    val_pairs: list  # fixed (clean | None, noisy, target | None, sigma) validation batches on the device
    log: object
    quiet: bool = False
    dist: Dist = field(default_factory=Dist)  # this process's rank among those training together
    half_chroma: torch.Tensor | None = None  # per training image: compare its colour at half resolution
    tb: object | None = None  # TensorBoardLog on rank 0 with --tensorboard
    history: list[dict] = field(default_factory=list)
    best_loss: float = math.inf
    bad_epochs: int = 0
    epoch: int = 0  # epochs finished
    loss_sum: torch.Tensor | None = None  # this epoch's summed loss, on the device
    epoch_start: float = 0.0

    @property
    def stopped_early(self) -> bool:
        return self.config.patience is not None and self.bad_epochs >= self.config.patience

    @property
    def finished(self) -> bool:
        return self.epoch >= self.planned or self.stopped_early

    @property
    def planned(self) -> int:
        """The epochs this run will have: ``epochs``, or those that fit its time budget."""
        return planned_epochs(self.config, self.history)

    @property
    def steps_per_epoch(self) -> int:
        n = len(self.train_data) * (self.config.patches_per_image if self.config.patch_size else 1)
        return math.ceil(n / self.config.batch_size)

    @cached_property
    def spec(self):
        return get_spec(self.config.model)

    def forward(self, model: nn.Module, x: torch.Tensor, sigma) -> torch.Tensor:
        """``model(x, sigma)`` padded to the sizes the architecture takes (networks without a map ignore σ)."""
        return forward_padded(model, self.spec, x, sigma)


# ---- set-up ------------------------------------------------------------------------------------------

def set_up(config: RunConfig | None, *, out: Path, resume, quiet: bool) -> Run:
    """Run folder, data on the device, model, optimiser; the saved state when resuming."""
    d = from_env()
    quiet = quiet or not d.main  # one process speaks
    log = (lambda *a, **k: None) if quiet else console.print
    config, run_dir, state = _open_run(config, out, resume, d, log)
    try:
        return _assemble(config, run_dir, state, d, log, quiet)
    except BaseException:
        if resume is None and d.main and {p.name for p in run_dir.iterdir()} <= {"config.yaml"}:
            shutil.rmtree(run_dir, ignore_errors=True)  # a new run that never started leaves no folder behind
        raise


def _assemble(config: RunConfig, run_dir: Path, state: dict | None, d: Dist, log, quiet: bool) -> Run:
    """The data on the device, the model, its optimiser and the saved state, as a :class:`Run`."""
    device = pick_device(config.device, local_rank=d.local_rank if d.active else None)
    if config.compile and device.type != "cuda":
        raise ValueError(f"--compile works on CUDA only; this run is on {device.type}. On a CPU, torch.compile's "
                         "first compilation made a 10-second epoch take over 100 s here, for no measured gain on "
                         "these convolution-bound networks: drop --compile")
    if device.type == "cpu":  # subnormal floats (|x| < 1.2e-38, e.g. in Adam's second moments) take the CPU's
        torch.set_flush_denormal(True)  # slow path: ref-conv4-cifar10's third epoch took 684 s with them, 62 s without
    torch.manual_seed(config.seed)

    full, pairs = _load_images(config)
    for option, value in (("saturation", config.saturation), ("half_chroma", config.half_chroma)):
        if value and full.channels != 3:
            raise ValueError(f"{option} {value} is for colour (RGB) images, and {config.dataset} has "
                             f"{full.channels} channel(s): drop it")
    train_set, val_set = _split(full, config)
    if config.patch_size is None and not train_set.stacked:
        raise ValueError(f"{config.dataset}: images differ in size; train on crops with --patch-size "
                         "(e.g. 64) or make them equal with --resize")
    noise = parse_noise(config.noise)
    objective = make_objective(config.objective, config.objective_args, loss=config.loss)

    spec = get_spec(config.model)
    sample_hw = (config.patch_size,) * 2 if config.patch_size else tuple(train_set.images.shape[-2:])
    spec.check_size(*sample_hw)
    model = build_model(config.model, channels=full.channels, **config.model_args).to(device)
    card = ModelCard(name=config.name or config.model, architecture=config.model, arguments=config.model_args,
                     channels=full.channels, noise=None if config.noisy else noise.spec, objective=config.objective,
                     clip=config.clip, dataset=config.dataset, ema=config.ema,
                     image_size=sample_hw if spec.fixed_size else None, noisefree_version=__version__)
    _check_noise_fits(config, card, spec, noise, objective, log)
    if config.noisy:
        pair_train, pair_val = pairs.split(config.val_fraction, seed=config.seed) if pairs else (None, None)
        train_data = real_views(train_set, pair_train, estimate_sigma=card.takes_sigma)
        val_pairs = _real_validation(val_set, pair_val, card.takes_sigma, config, device)
    else:
        train_data = (fixed_views(train_set, noise, seed=config.seed, clip=config.clip, pair=objective.target == "pair")
                      if config.uses_fixed_noise else TrainingData({"clean": train_set}, fresh=noise))
        val_pairs = _validation_pairs(val_set, noise, config, device, pair=objective.target == "pair")
    if config.init and state is None:
        load_initial_weights(model, config.init, card)
    model = model.to(memory_format=torch.channels_last)  # faster on CUDA and on CPUs alike (oneDNN)
    ema = (torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(
        config.ema), use_buffers=True) if config.ema else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                 fused=device.type == "cuda" or None)  # one kernel for all parameters on a GPU
    trained = (torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                         else None) if d.active else model)
    run = Run(config=config, run_dir=run_dir, device=device, model=model,
              kept=ema.module if ema is not None else model, ema=ema,
              compiled=torch.compile(trained) if config.compile else trained, card=card, optimizer=optimizer,
              generator=torch.Generator(device=device).manual_seed(_seed(config, d.rank)),
              noise=noise, objective=objective, train_data=train_data.to(device), val_set=val_set,
              val_pairs=val_pairs, log=log, quiet=quiet, dist=d)
    if config.half_chroma:  # rescaled() lists the images scale by scale; at half size the colour is full
        per_scale = len(train_set) // len(config.scales)
        run.half_chroma = torch.tensor([s > 0.5 for s in config.scales for _ in range(per_scale)], device=device)
    if state is not None:
        _restore(run, state)
    if config.tensorboard and d.main:
        from .tblog import TensorBoardLog

        run.tb = TensorBoardLog(run_dir / "tensorboard")
    n_params = sum(p.numel() for p in model.parameters())
    what = ("noisy images as they are" if config.noisy else f"noise {noise.spec}"
            + (" (one fixed realization per image)" if config.uses_fixed_noise else ""))
    listed = ", ".join(f"{s:g}" for s in config.scales)
    scales = "" if config.scales == [1.0] else f" (counting each of scales {listed})"
    log(tagged("noisefree", "bold", f"{config.model} ({n_params:,} parameters) on {config.dataset}: {len(train_set)} "
        f"training / {len(val_set)} validation images{scales}, {what}, objective {config.objective}, device {device}"))
    return run


def _load_images(config: RunConfig) -> tuple[ImageSet, ImageSet | None]:
    """The training dataset, and for n2n on real pairs the partner of each image (matched by file name)."""
    full = load_dataset(config.dataset, split=config.split, root=config.data_root, download=config.download,
                        resize=config.resize, subset=config.subset, grayscale=config.grayscale, axes=config.axes)
    if not config.pair_dataset:
        return full, None
    if not (config.dataset.startswith("folder:") and config.pair_dataset.startswith("folder:")):
        raise ValueError("n2n pairs come from two folders: --dataset folder:A --pair-dataset folder:B")
    pairs = load_dataset(config.pair_dataset, resize=config.resize, grayscale=config.grayscale, axes=config.axes,
                         unit_map=full.unit_map)  # both halves of a pair on one scale
    root_a, root_b = (Path(s[len("folder:"):]).expanduser() for s in (config.dataset, config.pair_dataset))
    everything = full if not config.subset else load_dataset(  # pairs are matched over the whole folder
        config.dataset, resize=config.resize, grayscale=config.grayscale, axes=config.axes)
    pairs = match_pairs(everything, pairs, root_a=root_a, root_b=root_b).select(
        np.arange(len(everything))[full.index])  # the same subset as the dataset's
    return full, pairs


def _split(full: ImageSet, config: RunConfig) -> tuple[ImageSet, ImageSet]:
    """Training and validation images, each at every scale of ``config.scales``: the best checkpoint (and a
    shipped model's replacement) is chosen on the same mix of scales the network trains on."""
    train_set, val_set = full.split(config.val_fraction, seed=config.seed)
    if config.scales == [1.0]:
        if config.patch_size:  # refused now, before any epoch (rescaled checks every scale)
            check_crops_fit(train_set, config.patch_size)
        return train_set, val_set
    return rescaled(train_set, config.scales, min_size=config.patch_size), rescaled(val_set, config.scales)


def _check_noise_fits(config: RunConfig, card: ModelCard, spec, noise, objective: Objective, log) -> None:
    """Refuse noise the objective cannot learn from; say where its assumptions are shaky."""
    if card.takes_sigma and not config.noisy and not isinstance(noise, Gaussian):
        raise ValueError(f"a model with noise_map learns from Gaussian noise (gaussian:S or gaussian:A-B), "
                         f"not {noise.spec!r}")
    if spec.fixed_size and config.objective == "ne2ne":
        raise ValueError(f"ne2ne trains on half-size sub-images, and {config.model} takes only "
                         f"{spec.fixed_size[0]}x{spec.fixed_size[1]} images: choose a fully convolutional model "
                         "(see `noisefree models`)")
    if not objective.self_supervised or config.noisy:
        return
    if not noise.zero_mean:
        raise ValueError(f"{config.objective} learns the expected value of the noisy image, which is the clean "
                         f"one only for zero-mean noise; {noise.spec} is not (hit pixels are replaced, not "
                         "perturbed): train it with --objective supervised")
    if config.clip:
        log(tagged("note:", "yellow", f"clipping the noisy images to [0, 1] biases dark and bright pixels, which "
            f"{config.objective} then learns; --no-clip matches the standard protocol"))


def _open_run(config: RunConfig | None, out: Path, resume, d: Dist, log) -> tuple[RunConfig, Path, dict | None]:
    """The configuration, the run folder (made by rank 0 for a new run) and the saved state to resume from."""
    state = None
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / "config.yaml").is_file():
            raise FileNotFoundError(f"{run_dir}: not a run folder (no config.yaml); nothing to resume")
        config = RunConfig.from_yaml(run_dir / "config.yaml")
        if config.nproc > 1 and not d.active:
            raise ValueError(f"{run_dir} ran on {config.nproc} processes: resume it with `noisefree train --resume "
                             f"{run_dir}` (which starts them) or under `torchrun --nproc_per_node {config.nproc}`")
        if (run_dir / "train_state.pt").is_file():
            state = torch.load(run_dir / "train_state.pt", map_location="cpu", weights_only=True)
        else:
            log(f"{run_dir}: no epoch had finished before the run stopped; starting it from the beginning")
        return config, run_dir, state
    if config is None:
        raise ValueError("train() needs a config or resume=RUN_DIR")
    if config.nproc > 1 and not d.active:
        raise ValueError(f"nproc {config.nproc} needs one process each: run `noisefree train --nproc "
                         f"{config.nproc} ...` or `torchrun --nproc_per_node {config.nproc} -m noisefree train ...`")
    if d.active:
        config = config.model_copy(update={"nproc": d.world})  # what really ran
    run_dir = d.broadcast(new_run_dir(out, config.name or f"{config.model}-{slug(config.dataset)}") if d.main
                          else None)
    if d.main:
        config.to_yaml(run_dir / "config.yaml")
    return config, run_dir, state


def _restore(run: Run, state: dict) -> None:
    """Continue from ``train_state.pt``: weights (and their average), optimiser, random state (the learning
    rate follows from the epoch and the history)."""
    if run.ema is not None:
        run.model.load_state_dict(state["model"])
        run.ema.load_state_dict(state["ema"])
    else:
        last, _ = load_checkpoint(run.run_dir / "last.safetensors", device=run.device)
        run.model.load_state_dict(last.state_dict())
    run.optimizer.load_state_dict(state["optimizer"])
    generators = state.get("generators") or [state["generator"]]
    if len(generators) == run.dist.world:
        run.generator.set_state(generators[run.dist.rank])
    else:  # another number of processes than before: fresh streams, still seeded
        run.generator.manual_seed(_seed(run.config, run.dist.rank) + 7919 * len(state["history"]))
        run.log(f"resuming with {run.dist.world} process(es) where {len(generators)} ran: the crops and noise "
                "follow new seeded streams from here on")
    run.history, run.best_loss, run.bad_epochs = state["history"], state["best_loss"], state["bad_epochs"]
    run.epoch = len(run.history)
    run.log(tagged("resuming", "bold", f"{run.run_dir} after epoch {run.epoch}"))
    if run.finished:
        run.log("that run had already finished; evaluating its best checkpoint")


# ---- one epoch ---------------------------------------------------------------------------------------

def train_one_epoch(run: Run, bar: Progress) -> None:
    """One pass over fresh crops of the training images, each batch with fresh (or its fixed) noise."""
    config, device, data = run.config, run.device, run.train_data
    run.model.train()
    views, owner = epoch_images(list(data.views.values()), patch_size=config.patch_size,
                                per_image=config.patches_per_image, generator=run.generator)
    scales = [v.max_value for v in data.views.values()]
    order = torch.randperm(views[0].shape[0], generator=run.generator, device=device)
    use_bf16 = config.amp and bf16_autocast(device)
    rng = TorchRandom(run.generator)
    run.loss_sum = torch.zeros((), device=device)
    run.epoch_start = time.perf_counter()
    label, shown = f"epoch {run.epoch + 1}/{run.planned}", time.monotonic()
    steps, planned = run.steps_per_epoch, run.planned
    epoch_lr = learning_rate(config, run.epoch, planned)
    for group in run.optimizer.param_groups:
        group["lr"] = epoch_lr
    for step in range(steps):
        if config.warmup and run.epoch * steps + step <= config.warmup:  # the last step restores epoch_lr
            for group in run.optimizer.param_groups:
                group["lr"] = epoch_lr * warmup_factor(config, run.epoch * steps + step)
        pick = order[step * config.batch_size:(step + 1) * config.batch_size]
        batch = [v[pick].float() / scale for v, scale in zip(views, scales)]
        if config.augment:
            batch = dihedral(batch, run.generator)
        batch = dict(zip(data.views, batch))
        if config.saturation is not None:
            batch["clean"] = saturate(batch["clean"], config.saturation, run.generator)
        if data.fresh is not None:
            batch["noisy"], sigma = corrupt(batch["clean"], data.fresh, rng, clip=config.clip)
        else:
            sigma = None if data.sigma is None else data.sigma[owner[pick]]
        noisy = batch["noisy"]
        noisy = noisy.contiguous(memory_format=torch.channels_last)

        def net(x, sigma=sigma):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                return run.forward(run.compiled, x, sigma)

        target = batch.get("clean") if run.objective.target == "clean" else batch.get("pair")
        if run.half_chroma is not None:  # colour compared where the target's files held it
            weak = run.half_chroma[owner[pick]]
            net = lambda x, net=net, weak=weak: half_resolution_chroma(net(x), weak)  # noqa: E731
            target = half_resolution_chroma(target, weak)
        loss = run.objective.loss(net, noisy, target, generator=run.generator,
                                  progress=(run.epoch + step / steps) / planned)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        if run.ema is not None:
            run.ema.update_parameters(run.model)
        run.loss_sum += loss.detach()
        if step % 50 == 49 or step == steps - 1 or time.monotonic() - shown > 2.0:  # a sync now and then
            shown, running = time.monotonic(), run.loss_sum.item() / (step + 1)
            _check_finite(run, running, step)
            if run.tb is not None:
                run.tb.step(run.epoch * steps + step + 1, running)
            bar.update(advance=1, label=label, text=f"loss {running:.5f}")
        else:
            bar.update(advance=1, label=label)


def learning_rate(config: RunConfig, epoch: int, planned: int) -> float:
    """The learning rate of epoch ``epoch`` (0-based) of ``planned``: constant, or cosine from ``lr`` to 0."""
    if config.schedule == "constant":
        return config.lr
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(epoch / planned, 1.0)))


def warmup_factor(config: RunConfig, step: int) -> float:
    """What the learning rate of ``step`` (0-based, counted over the whole run) is multiplied by: rising
    linearly to 1 over ``warmup`` steps, then 1."""
    return min(1.0, (step + 1) / config.warmup) if config.warmup else 1.0


def planned_epochs(config: RunConfig, history: list[dict]) -> int:
    """How many epochs the run will have. Without a time budget, ``epochs``; with ``minutes``, the epochs
    done plus as many more as fit the time left at the pace of the last three (their ``seconds``: training
    and validation), never more than ``epochs``. The same on every process (rank 0's clock)."""
    if config.minutes is None or not history:
        return config.epochs
    walls = [h["seconds"] for h in history]
    left = config.minutes * 60 - sum(walls)
    pace = sum(walls[-3:]) / len(walls[-3:])
    return min(config.epochs, len(history) + max(0, int(left // pace)))


def _check_finite(run: Run, running: float, step: int) -> None:
    if not math.isfinite(running):
        last = run.run_dir / "last.safetensors"
        saved = (f"the last good checkpoint is {last}" if last.exists() else
                 "no epoch had finished, so there is no checkpoint")
        raise TrainingDiverged(f"loss became {running} in epoch {run.epoch + 1}, step {step + 1}; stopped, "
                               f"{saved}. Lower --lr, or check the data.")


# ---- validation and saved state ------------------------------------------------------------------

def validate_and_save(run: Run) -> None:
    """Score the kept weights on the fixed validation images; write checkpoints, state and history."""
    config = run.config
    val = run.dist.broadcast(_validate(run))  # the same on every rank; rank 0's decides
    improved = val["loss"] < run.best_loss - config.min_delta
    run.bad_epochs = 0 if improved else run.bad_epochs + 1
    run.best_loss = min(run.best_loss, val["loss"])
    seconds = run.dist.broadcast(time.perf_counter() - run.epoch_start)  # with validation; rank 0's clock
    run.epoch += 1
    run.history.append({"epoch": run.epoch, "train_loss": run.dist.mean(run.loss_sum).item() / run.steps_per_epoch,
                        "val_loss": val["loss"], "val_psnr": val["psnr"], "val_ssim": val["ssim"],
                        "lr": run.optimizer.param_groups[0]["lr"], "seconds": seconds})
    generators = run.dist.gather(run.generator.get_state())  # each rank's random stream, for an exact resume
    if not run.dist.main:
        return
    epoch_card = run.card.model_copy(update={"epoch": run.epoch, "metrics": {"validation": val}})
    save_checkpoint(run.run_dir / "last", run.kept, epoch_card)
    if improved:
        save_checkpoint(run.run_dir / "best", run.kept, epoch_card)
    extra = {"model": run.model.state_dict(), "ema": run.ema.state_dict()} if run.ema is not None else {}
    torch.save({**extra, "optimizer": run.optimizer.state_dict(), "generator": generators[0],
                "generators": generators, "history": run.history, "best_loss": run.best_loss,
                "bad_epochs": run.bad_epochs}, run.run_dir / "train_state.pt")
    write_history(run.history, run.run_dir / "history.csv")
    h = run.history[-1]
    scores = (f"PSNR {h['val_psnr']:.2f} dB  SSIM {h['val_ssim']:.4f}" if math.isfinite(h["val_psnr"]) else
              "(no clean reference)")
    run.log(f"epoch {h['epoch']:>3}/{run.planned}  train {h['train_loss']:.5f}  val {h['val_loss']:.5f}  {scores}  "
            f"{h['seconds']:.1f} s{'  *' if improved else ''}")
    if run.stopped_early:
        run.log(f"early stopping: no improvement for {config.patience} epochs")
    elif run.finished and run.planned < config.epochs:
        run.log(f"time budget: {config.minutes:g} min leave no room for another epoch ({h['seconds']:.0f} s the last)")
    if run.tb is not None:
        run.tb.epoch(h, _samples(run))


@torch.no_grad()
def _validate(run: Run) -> dict:
    """The objective's own loss on the fixed held-out images (its masks and sub-samplings drawn from a fixed
    seed, so epochs compare), and PSNR/SSIM where clean references exist."""
    run.kept.eval()
    losses, psnrs, ssims, n = 0.0, [], [], 0
    generator = torch.Generator(device=run.device).manual_seed(run.config.seed + 99991)
    for clean, noisy, target, sigma in run.val_pairs:
        def net(x, sigma=sigma):
            return run.forward(run.kept, x, sigma).float()

        out = net(noisy) if clean is not None else None
        if run.objective.target == "clean":  # the supervised loss is a function of that same output
            loss = run.objective.loss(lambda x, out=out: out, noisy, clean, generator=generator, progress=1.0)
        else:
            loss = run.objective.loss(net, noisy, target, generator=generator, progress=1.0)
        losses += loss.item() * noisy.shape[0]
        n += noisy.shape[0]
        if out is not None:
            out = SMALL.finish(out)
            psnrs += psnr(out, clean).tolist()
            ssims += ssim(out, clean).tolist() if min(clean.shape[-2:]) >= 11 else [float("nan")] * clean.shape[0]
    run.model.train()
    finite = [p for p in psnrs if math.isfinite(p)]
    return {"loss": losses / n, "psnr": float(np.mean(finite)) if finite else float("nan"),
            "ssim": float(np.nanmean(ssims)) if ssims and not all(map(math.isnan, ssims)) else float("nan")}


@torch.no_grad()
def _samples(run: Run) -> list[torch.Tensor]:
    """The first validation images as noisy, denoised and (where known) clean, for TensorBoard."""
    clean, noisy, _, sigma = run.val_pairs[0]
    k = min(4, noisy.shape[0])
    run.kept.eval()
    out = run.forward(run.kept, noisy[:k], None if sigma is None else sigma[:k]).float()
    run.model.train()
    return [noisy[:k], out] + ([clean[:k]] if clean is not None else [])


@torch.no_grad()
def validation_psnr(model: nn.Module, config: RunConfig, *, device: str | torch.device = "cpu") -> float:
    """Mean PSNR of ``model`` on the validation images of a run with ``config``, noised with the seeds that
    run validates with: two networks are compared (e.g. before shipping one) without touching a test set."""
    full, _ = _load_images(config)
    _, val_set = _split(full, config)
    spec, model = get_spec(config.model), model.to(device).eval()
    scores = []
    for clean, noisy, _, sigma in _validation_pairs(val_set, parse_noise(config.noise), config, device):
        out = forward_padded(model, spec, noisy, sigma).float()
        scores += psnr(SMALL.finish(out), clean).tolist()
    return float(np.mean(scores))


# ---- final evaluation ------------------------------------------------------------------------------

def final_evaluation(run: Run) -> Path:
    """Evaluate the best checkpoint on the held-out data, record it in its card, write the report."""
    from .report import write_report

    config = run.config
    best_model, best_card = load_checkpoint(run.run_dir / "best.safetensors", device=run.device)
    denoiser = NetworkDenoiser(best_model, best_card, batch_size=max(64, config.batch_size))
    if config.noisy:
        return _final_without_reference(run, denoiser)
    test = eval_set(config, run.val_set)
    with Progress("final evaluation", len(test), quiet=run.quiet) as bar:
        result = evaluate_images(denoiser, test, run.noise, clip=config.clip, seed=config.seed,
                                 progress=bar.callback)
    write_results(result, run.run_dir)
    test_metrics = {k: result.summary[k] for k in (
        "dataset", "images", "noise", "psnr_mean", "ssim_mean", "noisy_psnr_mean", "noisy_ssim_mean")}
    best_card = best_card.model_copy(update={"metrics": {**best_card.metrics, "test": test_metrics}})
    save_checkpoint(run.run_dir / "best", best_model, best_card)
    report = write_report(run.run_dir, result, title=f"noisefree run {run.run_dir.name}", history=run.history,
                          config_yaml=config.to_yaml())
    run.log(str(result))
    run.log(tagged("report:", "bold green", str(report)))
    return run.run_dir


def _final_without_reference(run: Run, denoiser: NetworkDenoiser) -> Path:
    """Noisy data without clean references: the held-out images denoised and measured without one."""
    from .evaluation import write_results
    from .noreference import evaluate_without_reference, summary_line
    from .report import write_noreference_report

    with Progress("final evaluation", len(run.val_set), quiet=run.quiet) as bar:
        result = evaluate_without_reference(denoiser, run.val_set.to("cpu"), progress=bar.callback)
    write_results(result, run.run_dir)
    report = write_noreference_report(run.run_dir, result, title=f"noisefree run {run.run_dir.name} (noisy "
                                      f"images, {run.config.objective}; no clean reference)")
    run.log(summary_line(result))
    run.log(tagged("report:", "bold green", str(report)))
    return run.run_dir


# ---- helpers -------------------------------------------------------------------------------------------

def _seed(config: RunConfig, rank: int) -> int:
    """Each process's own stream of crops and noise (rank 0: the run's seed, as in a single process)."""
    return config.seed + 1_000_003 * rank


def _validation_pairs(val_set: ImageSet, noise, config: RunConfig, device, *, pair: bool = False) -> list:
    """Fixed noisy validation images (seeded like evaluation) and their Gaussian stds (None for other
    noise), as a list of stacked (clean, noisy, second noisy | None, sigma) batches on the device."""
    if len(val_set) == 0:
        raise ValueError("validation split is empty; raise --val-fraction")
    pairs = []
    for idx in val_set.chunks(256):
        clean = val_set.take(idx, torch.float64).cpu()
        noisy, sigma = eval_noisy(clean, noise, [config.seed + int(val_set.index[i]) for i in idx], clip=config.clip)
        second = eval_noisy(clean, noise, [config.seed + PAIR_SEED + int(val_set.index[i]) for i in idx],
                            clip=config.clip)[0].float().to(device) if pair else None
        pairs.append((clean.float().to(device), noisy.float().to(device), second,
                      None if sigma is None else sigma.float().to(device)))
    return pairs


def _real_validation(val_set: ImageSet, pair_set: ImageSet | None, takes_sigma: bool, config: RunConfig,
                     device) -> list:
    """Held-out noisy images as they are (and their pairs): (None, noisy, pair | None, sigma) batches."""
    if len(val_set) == 0:
        raise ValueError("validation split is empty; raise --val-fraction")
    batches = []
    for idx in val_set.chunks(256):
        noisy = val_set.take(idx)
        sigma = sigma_per_image(noisy, None).to(device) if takes_sigma else None
        second = pair_set.take(idx).to(device) if pair_set is not None else None
        batches.append((None, noisy.to(device), second, sigma))
    return batches
