"""A DRUNet-like U-Net (Zhang et al., 2021): residual blocks, strided-conv down, transposed-conv up,
additive skips between levels; residual output (the network predicts the noise).

Three switches give N2V2's variant (Höck et al., 2022) for blind-spot training: ``top_skip=False`` drops the
skip at full resolution, ``blurpool=True`` low-passes before each down-sampling, and ``residual=False``
predicts the image itself; together they remove the checkerboard artefacts Noise2Void leaves."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dncnn import with_noise_map


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1, bias=False))

    def forward(self, x):
        return x + self.body(x)


class BlurPool(nn.Module):
    """A fixed [1 2 1] x [1 2 1] / 16 low-pass per channel (reflect padding), applied before down-sampling."""

    def __init__(self):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3), persistent=False)

    def forward(self, x):
        c = x.shape[1]
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel.to(x.dtype).expand(c, 1, 3, 3), groups=c)


def blocks_per_level(blocks: int | list[int], levels: int) -> list[int]:
    """``blocks`` (one count, or one per level) as a list of ``levels`` counts; a wrong one names the fix."""
    per = [blocks] * levels if isinstance(blocks, int) else list(blocks)
    if len(per) != levels or not all(isinstance(b, int) and b >= 0 for b in per):
        raise ValueError(f"unet blocks={blocks!r}: give one count of residual blocks (e.g. 2) or a list of "
                         f"{levels} counts, one per level for levels={levels} (e.g. {[2] * (levels - 1) + [4]})")
    return per


class UNet(nn.Module):
    """``levels`` scales with widths ``width * 2**k``; ``blocks`` residual blocks per level and in the
    bottleneck, or a list of ``levels`` counts, one per scale from full resolution down (the last is the
    bottleneck's): every block costs the same MACs per pixel at any scale, but coarse ones run faster.
    Input sizes must be multiples of ``2**(levels-1)`` (the registry pads to them). With ``noise_map`` the
    noise std is an extra input channel (DRUNet-style). ``top_skip``, ``blurpool`` and
    ``residual``: see the module docstring."""

    def __init__(self, channels: int = 1, width: int = 32, levels: int = 4, blocks: int | list[int] = 2,
                 noise_map: bool = False, top_skip: bool = True, blurpool: bool = False, residual: bool = True):
        super().__init__()
        self.noise_map, self.top_skip, self.residual = noise_map, top_skip, residual
        widths = [width * 2**k for k in range(levels)]
        per = blocks_per_level(blocks, levels)
        self.head = nn.Conv2d(channels + int(noise_map), widths[0], 3, padding=1, bias=False)
        self.down = nn.ModuleList(
            nn.Sequential(*[ResBlock(widths[k]) for _ in range(per[k])], *([BlurPool()] if blurpool else []),
                          nn.Conv2d(widths[k], widths[k + 1], 2, stride=2, bias=False))
            for k in range(levels - 1))
        self.body = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(per[-1])])
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2, bias=False),
                          *[ResBlock(widths[k]) for _ in range(per[k])])
            for k in reversed(range(levels - 1)))
        self.tail = nn.Conv2d(widths[0], channels, 3, padding=1, bias=False)

    def forward(self, x, sigma=None):
        h = self.head(with_noise_map(x, sigma) if self.noise_map else x)
        skips = []
        for down in self.down:
            skips.append(h)
            h = down(h)
        h = self.body(h)
        for k, up in enumerate(self.up):
            skip = skips.pop()
            h = up[0](h) + (skip if self.top_skip or k < len(self.up) - 1 else 0)
            h = up[1:](h)
        return x - self.tail(h) if self.residual else self.tail(h)
