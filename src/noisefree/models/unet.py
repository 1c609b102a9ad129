"""A DRUNet-like U-Net (Zhang et al., 2021): residual blocks, strided-conv down, transposed-conv up,
additive skips between levels; residual output (the network predicts the noise)."""

from __future__ import annotations

from torch import nn

from .dncnn import with_noise_map


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1, bias=False))

    def forward(self, x):
        return x + self.body(x)


class UNet(nn.Module):
    """``levels`` scales with widths ``width * 2**k``; ``blocks`` residual blocks per level and in the
    bottleneck. Input sizes must be multiples of ``2**(levels-1)`` (the registry pads to them). With
    ``noise_map`` the noise std is an extra input channel (DRUNet-style)."""

    def __init__(self, channels: int = 1, width: int = 32, levels: int = 4, blocks: int = 2,
                 noise_map: bool = False):
        super().__init__()
        self.noise_map = noise_map
        widths = [width * 2**k for k in range(levels)]
        self.head = nn.Conv2d(channels + int(noise_map), widths[0], 3, padding=1, bias=False)
        self.down = nn.ModuleList(
            nn.Sequential(*[ResBlock(widths[k]) for _ in range(blocks)],
                          nn.Conv2d(widths[k], widths[k + 1], 2, stride=2, bias=False))
            for k in range(levels - 1))
        self.body = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(blocks)])
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2, bias=False),
                          *[ResBlock(widths[k]) for _ in range(blocks)])
            for k in reversed(range(levels - 1)))
        self.tail = nn.Conv2d(widths[0], channels, 3, padding=1, bias=False)

    def forward(self, x, sigma=None):
        h = self.head(with_noise_map(x, sigma) if self.noise_map else x)
        skips = []
        for down in self.down:
            skips.append(h)
            h = down(h)
        h = self.body(h)
        for up in self.up:
            h = up[0](h) + skips.pop()
            h = up[1:](h)
        return x - self.tail(h)
