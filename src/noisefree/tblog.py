"""TensorBoard logging of a training run (``--tensorboard``; the ``tensorboard`` extra).

Written to ``RUN/tensorboard/``; watch it with ``tensorboard --logdir runs``. Logged: the running training
loss (every 50 steps), and per epoch the training and validation losses, validation PSNR/SSIM where clean
references exist, the learning rate and epoch time, and up to four validation images as noisy | denoised
(| clean) strips."""

from __future__ import annotations

import math
from pathlib import Path

import torch

__all__ = ["TensorBoardLog"]


class TensorBoardLog:
    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError("--tensorboard needs the tensorboard package: pip install 'noisefree[tensorboard]'"
                              ) from None
        self.writer = SummaryWriter(str(log_dir))

    def step(self, global_step: int, loss: float) -> None:
        self.writer.add_scalar("train/loss_running", loss, global_step)

    def epoch(self, row: dict, samples: list[torch.Tensor] | None = None) -> None:
        """``row``: one line of the run's history; ``samples``: (N, C, H, W) batches shown side by side."""
        e = row["epoch"]
        for key, tag in (("train_loss", "train/loss"), ("val_loss", "val/loss"), ("val_psnr", "val/psnr"),
                         ("val_ssim", "val/ssim"), ("lr", "train/lr"), ("seconds", "train/epoch_seconds")):
            if math.isfinite(row[key]):
                self.writer.add_scalar(tag, row[key], e)
        if samples:
            strip = torch.cat([s[:4].float().clamp(0, 1).cpu() for s in samples], dim=-1)  # side by side
            self.writer.add_images("val/noisy|denoised|clean", strip if strip.shape[1] in (1, 3) else strip[:, :1], e)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
