"""What training sees of its images each epoch: random crops, and the 8 flips and rotations.

Several aligned views of the same images (clean, noisy, a second noisy one) are cropped at the same places
and flipped the same way, so they stay aligned."""

from __future__ import annotations

import torch

from .data import ImageSet

__all__ = ["dihedral", "epoch_images", "orient", "unorient"]


def epoch_images(views: ImageSet | list[ImageSet], *, patch_size: int | None, per_image: int,
                 generator: torch.Generator) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The images of one epoch for each view, (N, C, H, W) in their stored dtype: the stacked sets
    themselves, or ``per_image`` fresh random ``patch_size`` crops of every image, at the same places in
    every view. Also returns which image each crop came from, (N,)."""
    views = [views] if isinstance(views, ImageSet) else list(views)
    first = views[0]
    device = generator.device
    if patch_size is None:
        return [v.images for v in views], torch.arange(len(first), device=device)
    p = patch_size
    crops: list[list[torch.Tensor]] = [[] for _ in views]
    for i in range(len(first)):
        h, w = first.images[i].shape[-2:]
        if h < p or w < p:
            raise ValueError(f"{first.files[i] if first.files else i}: image {h}x{w} is smaller than "
                             f"--patch-size {p}")
        ys = torch.randint(0, h - p + 1, (per_image,), generator=generator, device=device)
        xs = torch.randint(0, w - p + 1, (per_image,), generator=generator, device=device)
        for y, x in zip(ys.tolist(), xs.tolist()):
            for out, v in zip(crops, views):
                out.append(v.images[i][:, y:y + p, x:x + p])
    owner = torch.arange(len(first), device=device).repeat_interleave(per_image)
    return [torch.stack(c) for c in crops], owner


def dihedral(x: torch.Tensor | list[torch.Tensor], generator: torch.Generator):
    """One of the 8 flips/rotations for the whole batch (square images rotate; others only flip); a list of
    batches all get the same one."""
    k = int(torch.randint(0, 8, (1,), generator=generator, device=generator.device))
    xs = x if isinstance(x, list) else [x]
    out = [orient(t, k if t.shape[-1] == t.shape[-2] else k & 3) for t in xs]
    return out if isinstance(x, list) else out[0]


def orient(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th (0-7) of the eight flips/rotations of the last two axes: bit 1 flips W, bit 2 flips H,
    bit 4 then transposes; 0 is ``x`` itself."""
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    return x.transpose(-1, -2) if k & 4 else x


def unorient(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`orient`: ``unorient(orient(x, k), k)`` is ``x``."""
    if k & 4:
        x = x.transpose(-1, -2)
    if k & 2:
        x = x.flip(-2)
    return x.flip(-1) if k & 1 else x
