"""What training sees of its images each epoch: random crops, and the 8 flips and rotations."""

from __future__ import annotations

import torch

from .data import ImageSet

__all__ = ["dihedral", "epoch_images"]


def epoch_images(data: ImageSet, *, patch_size: int | None, per_image: int, generator: torch.Generator
                 ) -> torch.Tensor:
    """The images of one epoch, (N, C, H, W) in their stored dtype: the stacked set itself, or
    ``per_image`` fresh random ``patch_size`` crops of every image."""
    if patch_size is None:
        return data.images
    p = patch_size
    crops = []
    for i in range(len(data)):
        img = data.images[i]
        h, w = img.shape[-2:]
        if h < p or w < p:
            raise ValueError(f"{data.files[i] if data.files else i}: image {h}x{w} is smaller than "
                             f"--patch-size {p}")
        ys = torch.randint(0, h - p + 1, (per_image,), generator=generator, device=generator.device)
        xs = torch.randint(0, w - p + 1, (per_image,), generator=generator, device=generator.device)
        crops += [img[:, y:y + p, x:x + p] for y, x in zip(ys.tolist(), xs.tolist())]
    return torch.stack(crops)


def dihedral(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One of the 8 flips/rotations for the whole batch (square images rotate; others only flip)."""
    k = int(torch.randint(0, 8, (1,), generator=generator, device=generator.device))
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4 and x.shape[-1] == x.shape[-2]:
        x = x.transpose(-1, -2)
    return x
