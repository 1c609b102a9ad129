"""What training sees of its images each epoch: the images at several scales, random crops, the 8 flips
and rotations, and (colour) random saturation.

Several aligned views of the same images (clean, noisy, a second noisy one) are cropped at the same places
and flipped the same way, so they stay aligned."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional import rgb_to_grayscale

from .data import ImageSet

__all__ = ["dihedral", "epoch_images", "orient", "rescaled", "saturate", "unorient"]


def saturate(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Each RGB image of a (N, 3, H, W) batch on [0, 1] with its saturation scaled by its own factor, drawn
    log-uniformly from [1/strength, strength]: torchvision's ``adjust_saturation`` (a blend with the image's
    gray version, clipped to [0, 1]; 0 would be gray, 1 the image itself), for the whole batch at once."""
    logs = (torch.rand(len(x), generator=generator, device=generator.device) * 2 - 1) * math.log(strength)
    factor = logs.exp().to(x.device, x.dtype).view(-1, 1, 1, 1)
    return (factor * x + (1 - factor) * rgb_to_grayscale(x)).clamp_(0, 1)


def rescaled(images: ImageSet, scales: list[float], *, min_size: int | None = None) -> ImageSet:
    """``images`` at every scale in ``scales`` (1: as they are), downscaled with antialiased bicubic
    interpolation and stored in their own dtype: one image per image and scale, scales in the given order.
    ``min_size``: refuse a scale that leaves an image smaller than this (the crop size), naming both."""
    out, index, files = [], [], []
    stride = int(images.index.max()) + 1 if len(images) else 1
    for k, s in enumerate(scales):
        for i in range(len(images)):
            im = images.images[i]
            h, w = im.shape[-2:]
            size = (max(1, round(h * s)), max(1, round(w * s)))
            name = images.files[i] if images.files else f"image {int(images.index[i])}"
            if min_size is not None and min(size) < min_size:
                raise ValueError(f"{name}: {h}x{w} at scale {s} is {size[0]}x{size[1]}, smaller than --patch-size "
                                 f"{min_size}: drop that scale or lower the patch size")
            if size != (h, w):
                small = F.interpolate(im[None].float(), size=size, mode="bicubic", antialias=True)[0]
                im = (small.round() if not im.is_floating_point() else small).clamp(0, images.max_value).to(im.dtype)
            out.append(im)
            index.append(int(images.index[i]) + k * stride)  # distinct: fixed noise is seeded by index
            files.append(name if s == 1 else f"{name} @ {s:g}")
    return ImageSet(f"{images.name} at scales {', '.join(f'{s:g}' for s in scales)}", out, images.max_value,
                    np.asarray(index, dtype=np.int64), files)


def check_crops_fit(images: ImageSet, patch_size: int) -> None:
    """Refuse a crop size larger than the smallest image, naming that image and the largest size that fits."""
    sizes = images.sizes
    i = min(range(len(sizes)), key=lambda k: min(sizes[k]))
    h, w = sizes[i]
    if min(h, w) < patch_size:
        name = images.files[i] if images.files else f"image {int(images.index[i])}"
        raise ValueError(f"{name}: {h}x{w} is smaller than --patch-size {patch_size}, the training crops' size: "
                         f"lower it to {min(h, w)} or less (the image's shorter side) or leave the image out")


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
