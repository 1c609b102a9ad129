"""Training objectives: what a network learns from, with or without clean images.

One training loop serves them all (``objective:`` in the run configuration, ``--objective`` on the command
line); each objective is a small object whose :meth:`Objective.loss` takes the network (a function of the
noisy batch), the noisy batch and, where it has one, a target:

* ``supervised`` — target: the clean image. The classic recipe; needs clean images.
* ``n2n`` — Noise2Noise (Lehtinen et al., ICML 2018). Target: a second, independent noisy image of the same
  scene. Zero-mean noise makes the expected loss that of supervised training plus a constant.
* ``n2v`` / ``n2v2`` — Noise2Void (Krull et al., CVPR 2019) and N2V2 (Höck et al., ECCV-W 2022). No target:
  a few per cent of the pixels (one per cell of a grid, at a random place in it) are replaced by a neighbour's
  value (``n2v``: a uniformly chosen one; ``n2v2``: the median of the neighbourhood without the centre) and the
  loss compares the output with the original noisy values at those pixels only. This is a blind spot: it
  works when the noise of a pixel is independent of its neighbours' (sensor shot and read noise, synthetic
  i.i.d. noise); spatially correlated noise (demosaiced colour photographs, JPEG artefacts, structured
  stripes) is learned as signal and stays. N2V2 also changes the network (no top skip, blur-pooling): train
  it with ``model: unet`` and ``model_args: {top_skip: false, blurpool: true, residual: false}``.
* ``ne2ne`` — Neighbor2Neighbor (Huang et al., CVPR 2021). No target: each 2 x 2 cell of the noisy image gives
  one pixel to each of two half-size images (two different, adjacent pixels of the cell); the network maps
  one to the other, and a regulariser of weight ``gamma`` keeps that consistent with the full-size output.
  As in the authors' code, the weight grows linearly from 0 to ``gamma`` over the run.

Self-supervised objectives learn from a fixed set of noisy images (see :mod:`noisefree.training_data`).

Supervised training on photographs whose colour was stored at half resolution (JPEG 4:2:0) can compare
colour at that resolution only (``half_chroma:``; :func:`half_resolution_chroma`), so that the network is
not taught to blur colour detail the training files never held.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

__all__ = ["OBJECTIVES", "Neighbor2Neighbor", "Noise2Noise", "Noise2Void", "Objective", "Supervised",
           "blind_spot_mask", "half_resolution_chroma", "make_objective", "neighbor_subsample", "replace_masked"]

Net = Callable[[torch.Tensor], torch.Tensor]

# RGB -> Y, Cb, Cr (ITU-R BT.601, as JPEG), without the offsets, which cancel in a difference
_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_FROM_CHROMA = torch.linalg.inv(_YCBCR)[:, 1:]  # the RGB change of a unit change in Cb or Cr, Y kept


def half_resolution_chroma(x: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """``x`` (N, 3, H, W, RGB) with the colour (Cb, Cr) of the images picked by ``which`` ((N,) bool)
    replaced by its 2 x 2 block means, luma (Y) untouched: what a JPEG 4:2:0 file can say about them. Linear,
    so a loss between two batches passed through it compares luma in full and colour at half resolution."""
    if not bool(which.any()):
        return x
    chroma = torch.einsum("ij,njhw->nihw", _YCBCR[1:].to(x.device, x.dtype), x)
    h, w = x.shape[-2:]
    blocks = F.avg_pool2d(chroma, 2, ceil_mode=True)
    blocks = blocks.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)[..., :h, :w]
    change = torch.where(which.view(-1, 1, 1, 1), blocks - chroma, torch.zeros((), dtype=x.dtype, device=x.device))
    return x + torch.einsum("ij,njhw->nihw", _FROM_CHROMA.to(x.device, x.dtype), change)


def _elementwise(kind: str):
    return {"mse": lambda a, b: (a - b).square(), "l1": lambda a, b: (a - b).abs()}[kind]


def psnr_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Minus the batch's mean PSNR in dB (peak 1, up to a constant): ``10 log10`` of each image's mean squared
    error, averaged over the images. Unlike the MSE, which a blind network's noisiest images dominate (at σ 50
    an image's error is about ten times that at σ 15), it weights each image by the inverse of its own error,
    so every noise level counts as the benchmark counts it: in mean PSNR. (BasicSR and NAFNet call it
    PSNRLoss.)"""
    per_image = (output - target).square().flatten(1).mean(dim=1)
    return 10 / math.log(10) * torch.log(per_image + 1e-10).mean()


_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "psnr": psnr_loss}


@dataclass(frozen=True)
class Objective:
    """How a batch of noisy images (N, C, H, W) becomes a loss. ``target`` says what else a batch carries:
    'clean' (the clean images), 'pair' (a second noisy realization) or 'none'."""

    name: ClassVar[str] = ""
    target: ClassVar[str] = "clean"
    per_pixel: ClassVar[bool] = False  # compares chosen pixels or sub-images, so no whole-image (psnr) loss
    loss_kind: str = "mse"

    @property
    def self_supervised(self) -> bool:
        return self.target != "clean"

    def loss(self, net: Net, noisy: torch.Tensor, target: torch.Tensor | None, *, generator: torch.Generator,
             progress: float = 0.0) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Supervised(Objective):
    name: ClassVar[str] = "supervised"
    target: ClassVar[str] = "clean"

    def loss(self, net, noisy, target, *, generator, progress=0.0):
        return _LOSSES[self.loss_kind](net(noisy).float(), target)


@dataclass(frozen=True)
class Noise2Noise(Objective):
    name: ClassVar[str] = "n2n"
    target: ClassVar[str] = "pair"

    def loss(self, net, noisy, target, *, generator, progress=0.0):
        swap = torch.rand(noisy.shape[0], 1, 1, 1, generator=generator, device=generator.device) < 0.5
        a, b = torch.where(swap, target, noisy), torch.where(swap, noisy, target)  # both directions
        return _LOSSES[self.loss_kind](net(a).float(), b)


@dataclass(frozen=True)
class Noise2Void(Objective):
    """Blind-spot training; ``fraction`` of the pixels masked, neighbours within ``radius`` (a 5 x 5 window
    for 2); ``replace`` 'uniform' (N2V) or 'median' (N2V2)."""

    name: ClassVar[str] = "n2v"
    target: ClassVar[str] = "none"
    per_pixel: ClassVar[bool] = True
    fraction: float = 0.02
    radius: int = 2
    replace: str = "uniform"

    def __post_init__(self):
        if not 0 < self.fraction <= 0.25:
            raise ValueError(f"n2v fraction must be in (0, 0.25] (a few per cent, e.g. 0.02), got {self.fraction}")
        if self.radius < 1:
            raise ValueError(f"n2v radius must be >= 1, got {self.radius}")
        if self.replace not in ("uniform", "median"):
            raise ValueError(f"n2v replace must be 'uniform' or 'median', got {self.replace!r}")

    def loss(self, net, noisy, target, *, generator, progress=0.0):
        mask = blind_spot_mask(noisy.shape, self.fraction, generator=generator, device=noisy.device)
        masked = replace_masked(noisy, mask, radius=self.radius, mode=self.replace, generator=generator)
        err = _elementwise(self.loss_kind)(net(masked).float(), noisy) * mask
        return err.sum() / (mask.sum() * noisy.shape[1]).clamp(min=1)


@dataclass(frozen=True)
class Noise2Void2(Noise2Void):
    name: ClassVar[str] = "n2v2"
    replace: str = "median"


@dataclass(frozen=True)
class Neighbor2Neighbor(Objective):
    """``gamma``: the regulariser's final weight (the paper's; 2 for Gaussian noise)."""

    name: ClassVar[str] = "ne2ne"
    target: ClassVar[str] = "none"
    per_pixel: ClassVar[bool] = True
    gamma: float = 2.0

    def __post_init__(self):
        if not self.gamma >= 0:
            raise ValueError(f"ne2ne gamma must be >= 0, got {self.gamma}")

    def loss(self, net, noisy, target, *, generator, progress=0.0):
        cells = _cell_choice(noisy, generator)
        g1, g2 = neighbor_subsample(noisy, cells)
        out1 = net(g1).float()
        main = _elementwise(self.loss_kind)(out1, g2).mean()
        weight = self.gamma * min(max(progress, 0.0), 1.0)
        if weight == 0:
            return main
        with torch.no_grad():
            full = net(noisy).float()
            f1, f2 = neighbor_subsample(full, cells)
        return main + weight * ((out1 - g2) - (f1 - f2)).square().mean()


OBJECTIVES: dict[str, type[Objective]] = {o.name: o for o in (Supervised, Noise2Noise, Noise2Void, Noise2Void2,
                                                              Neighbor2Neighbor)}
_ARGS = {"supervised": (), "n2n": (), "n2v": ("fraction", "radius"), "n2v2": ("fraction", "radius"),
         "ne2ne": ("gamma",)}


def make_objective(name: str, args: dict | None = None, *, loss: str = "mse") -> Objective:
    """The objective ``name`` with its arguments (n2v/n2v2: fraction, radius; ne2ne: gamma)."""
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(OBJECTIVES)}")
    args = dict(args or {})
    unknown = sorted(set(args) - set(_ARGS[name]))
    if unknown:
        takes = ", ".join(_ARGS[name]) or "no arguments"
        raise ValueError(f"objective {name} does not take {', '.join(unknown)}; it takes {takes}")
    if loss == "psnr" and OBJECTIVES[name].per_pixel:
        raise ValueError(f"loss psnr compares whole images, and {name} compares chosen pixels or sub-images: use "
                         "loss mse or l1 with it")
    return OBJECTIVES[name](loss_kind=loss, **args)


# ---- Noise2Void: the blind spot ---------------------------------------------------------------------------

def blind_spot_mask(shape, fraction: float, *, generator: torch.Generator, device=None) -> torch.Tensor:
    """A (N, 1, H, W) float mask with about ``fraction`` of the pixels set: one at a random place in each
    cell of a grid of ``round(1/sqrt(fraction))``-pixel cells (stratified, as in N2V), so masked pixels
    spread evenly. All channels of a pixel are masked together."""
    n, _, h, w = shape
    step = max(1, round(1 / math.sqrt(fraction)))
    gy, gx = math.ceil(h / step), math.ceil(w / step)
    dev = generator.device
    ys = torch.arange(gy, device=dev).view(1, gy, 1) * step + torch.randint(0, step, (n, gy, gx), generator=generator,
                                                                            device=dev)
    xs = torch.arange(gx, device=dev).view(1, 1, gx) * step + torch.randint(0, step, (n, gy, gx), generator=generator,
                                                                            device=dev)
    keep = (ys < h) & (xs < w)
    mask = torch.zeros(n, 1, h, w, device=dev)
    img = torch.arange(n, device=dev).view(n, 1, 1).expand_as(ys)
    mask[img[keep], 0, ys[keep], xs[keep]] = 1.0
    return mask.to(device) if device is not None else mask


def replace_masked(x: torch.Tensor, mask: torch.Tensor, *, radius: int, mode: str,
                   generator: torch.Generator) -> torch.Tensor:
    """``x`` with each masked pixel replaced from the (2r+1)^2 - 1 neighbours around it (mirrored at borders):
    a uniformly chosen one (``'uniform'``) or their median (``'median'``). Other pixels are untouched."""
    n, c, h, w = x.shape
    idx = mask[:, 0].nonzero(as_tuple=True)  # (image, y, x) of each masked pixel
    r = radius
    offsets = torch.tensor([(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy or dx],
                           device=x.device)
    yy = _mirror(idx[1][:, None], offsets[:, 0], h)  # (K, 8r(r+1))
    xx = _mirror(idx[2][:, None], offsets[:, 1], w)
    values = x[idx[0][:, None], :, yy, xx]  # (K, neighbours, C)
    if mode == "median":
        chosen = values.median(dim=1).values
    else:
        pick = torch.randint(0, len(offsets), (len(yy),), generator=generator, device=generator.device).to(x.device)
        chosen = values[torch.arange(len(yy), device=x.device), pick]
    out = x.clone()
    out[idx[0], :, idx[1], idx[2]] = chosen.to(x.dtype)
    return out


def _mirror(pos: torch.Tensor, offset: torch.Tensor, size: int) -> torch.Tensor:
    """``pos + offset``, or ``pos - offset`` where that leaves the image (mirrored about the pixel itself, so a
    neighbour is never the pixel), clamped for images smaller than the window."""
    out = pos + offset
    out = torch.where((out < 0) | (out >= size), pos - offset, out)
    return out.clamp(0, size - 1)


# ---- Neighbor2Neighbor: two half-size images from one -----------------------------------------------------

_NEIGHBOURS = torch.tensor([[1, 2], [0, 3], [0, 3], [1, 2]])  # cell positions 0 1 / 2 3: the adjacent ones


def _cell_choice(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """For every 2 x 2 cell of every image, two different adjacent positions (0..3), each (N, H/2, W/2)."""
    n, _, h, w = x.shape
    shape = (n, h // 2, w // 2)
    first = torch.randint(0, 4, shape, generator=generator, device=generator.device)
    second = _NEIGHBOURS.to(first.device)[first, torch.randint(0, 2, shape, generator=generator,
                                                                    device=generator.device)]
    return first.to(x.device), second.to(x.device)


def neighbor_subsample(x: torch.Tensor, cells: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (N, C, H/2, W/2) images from a (N, C, H, W) one (odd edges dropped): from each 2 x 2 cell, the
    first takes one pixel and the second an adjacent, different pixel, the same for all channels.
    ``cells`` (from the same draw) lets the output of the network be sampled like its input."""
    if cells is None:
        cells = _cell_choice(x, generator)
    n, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    blocks = x[..., :2 * h2, :2 * w2].reshape(n, c, h2, 2, w2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h2, w2, 4)
    return tuple(blocks.gather(-1, k[:, None, ..., None].expand(n, c, h2, w2, 1))[..., 0] for k in cells)
