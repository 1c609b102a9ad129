"""Named presets: the five reference designs (../shared/reference/000-004), the demo, and a GPU
time-to-quality recipe (``gray-8min``).

Each preset is a set of :class:`~noisefree.config.RunConfig` fields plus what the reference reported;
``RunConfig.resolve(preset=NAME, overrides=...)`` turns it into a configuration.
Where a reference does not state a setting (most do not state the noise level), the value here is
noisefree's choice and ``notes`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    reference: str  # which reference design, and what it reported
    fields: dict = field(default_factory=dict)
    notes: str = ""


_ADAM = {"lr": 1e-3, "batch_size": 64, "loss": "mse"}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("demo", "pool-ae on the embedded digits, Gaussian sigma 0.3: trains in about a minute on a CPU",
           "003 design on embedded MNIST digits",
           {**_ADAM, "dataset": "digits", "model": "pool-ae", "noise": "gaussian:0.3", "epochs": 15,
            "patience": 3}),
    Preset("ref-skip-cifar10", "skip-connection conv autoencoder on CIFAR-10", "000: images only, no metric",
           {**_ADAM, "dataset": "cifar10", "model": "skip-ae", "noise": "gaussian:0.1", "epochs": 20},
           notes="000 states Adam lr 1e-3, batch 64, MSE; the noise sigma and epochs are noisefree's choice."),
    Preset("ref-conv4-cifar10", "4+4-layer conv autoencoder on CIFAR-10 resized to 28x28",
           "001: train loss 0.140 (MSE sum scale unstated), no PSNR",
           {**_ADAM, "dataset": "cifar10", "resize": 28, "model": "conv4-ae", "noise": "gaussian:0.1",
            "epochs": 250, "weight_decay": 1e-5},
           notes="001 states Adam lr 1e-3, weight decay 1e-5, batch 64, 250 epochs, resize to 28; sigma is ours."),
    Preset("ref-dense-mnist", "conv + dense bottleneck autoencoder on MNIST (exact 002 layers)",
           "002: loss curve and images only",
           {**_ADAM, "dataset": "mnist", "model": "dense-ae", "noise": "gaussian:0.3", "epochs": 10,
            "weight_decay": 1e-5},
           notes="002 states Adam lr 1e-3 (betas 0.9/0.999), weight decay 1e-5, batch 64, 10 epochs; sigma is ours."),
    Preset("ref-dense-mnist-masking", "002 with masking noise (30 % of pixels dropped), as 002 suggests",
           "002: masking mentioned, no result",
           {**_ADAM, "dataset": "mnist", "model": "dense-ae", "noise": "masking:0.3", "epochs": 10,
            "weight_decay": 1e-5}),
    Preset("ref-pool-mnist", "conv/BN/max-pool autoencoder with early stopping on MNIST",
           "003: MNIST average PSNR 20.48 dB over 100 test images",
           {**_ADAM, "dataset": "mnist", "model": "pool-ae", "noise": "gaussian:0.5", "epochs": 50,
            "patience": 5},
           notes="003 states MSE, Adam, early stopping; sigma 0.5, lr, batch and patience are ours."),
    Preset("ref-pool-cifar10", "conv/BN/max-pool autoencoder with early stopping on CIFAR-10",
           "003: CIFAR-10 curves and histograms, no number",
           {**_ADAM, "dataset": "cifar10", "model": "pool-ae", "noise": "gaussian:0.1", "epochs": 50,
            "patience": 5}),
    Preset("ref-strided-fashion-mnist", "stride-2 conv autoencoder on Fashion-MNIST",
           "004: pixel loss 0.2765 (unstated scale), images",
           {**_ADAM, "dataset": "fashion-mnist", "model": "strided-ae", "noise": "gaussian:0.2", "epochs": 10},
           notes="004 gives the layers only; sigma, epochs and optimiser settings are ours."),
    Preset("gray-8min", "blind gray denoiser (sigma 0-55 on the 8-bit scale, noise-level map) trained from "
           "scratch on train400 in an 8-minute time budget on one GPU (give --dataset folder:.../train400)",
           "issue 12's time-to-quality goal: DnCNN-B's BSD68 sigma-25 29.16 dB within 8 minutes on one H100",
           {"dataset": "folder:train400", "grayscale": True, "patch_size": 128, "patches_per_image": 64,
            "augment": True, "val_fraction": 0.1, "noise": "gaussian:0-0.216", "clip": False, "model": "unet",
            "model_args": {"width": 32, "levels": 4, "blocks": 2, "noise_map": True}, "epochs": 1000, "minutes": 8,
            "batch_size": 64, "lr": 1e-3, "schedule": "cosine", "ema": 0.999, "loss": "mse", "seed": 0},
           notes="not yet run on a GPU (none has been lent to this project): the 29.16 dB goal is unmeasured. "
                 "A U-Net of width 32 (4.25 M parameters, 270 kMAC/pixel: cheap on a GPU, slow on a CPU), "
                 "bf16 and channels-last on CUDA, the cosine schedule annealed over the epochs that fit 8 "
                 "minutes. `bash benchmarks/gpu_session.sh speedrun` trains and scores it."),
]}
