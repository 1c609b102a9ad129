"""The five reference denoising autoencoders (../shared/reference/000-004), written out layer by layer.

Like every noisefree network they are called as ``model(x, sigma=None)``; they take no noise level and ignore it.

All take images on the [0, 1] scale and end in a sigmoid, as the references do.
"""

from __future__ import annotations

import torch
from torch import nn


class SkipAE(nn.Module):
    """000: fully convolutional encoder (3x3 conv -> 2x2 max-pool -> batch norm -> ReLU per level) and a
    symmetric transposed-conv decoder, with additive skip connections between levels of equal size."""

    def __init__(self, channels: int = 3, widths: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        widths = tuple(widths)
        self.down = nn.ModuleList()
        c = channels
        for w in widths:
            self.down.append(nn.Sequential(nn.Conv2d(c, w, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(w),
                                           nn.ReLU(inplace=True)))
            c = w
        self.up = nn.ModuleList()
        for w_in, w_out in zip(widths[::-1], (*widths[::-1][1:], None)):
            last = w_out is None
            out = channels if last else w_out
            layers = [nn.ConvTranspose2d(w_in, out, 3, stride=2, padding=1, output_padding=1)]
            if not last:
                layers += [nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            self.up.append(nn.Sequential(*layers))

    def forward(self, x, sigma=None):  # no noise-level input: sigma is ignored
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        skips = skips[:-1][::-1]  # features matching each decoder output but the last
        for i, block in enumerate(self.up):
            h = block(h)
            h = h + skips[i] if i < len(skips) else h + x  # the last level's partner is the input
        return torch.sigmoid(h)


class Conv4AE(nn.Module):
    """001: 4 conv layers 28 -> 7 (two of stride 2) and 4 transposed-conv layers 7 -> 28."""

    def __init__(self, channels: int = 3, width: int = 32):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, w // 2, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w // 2, w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * w, w, 3, stride=2, padding=1, output_padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w, w // 2, 3, padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w // 2, channels, 3, stride=2, padding=1, output_padding=1),
        )

    def forward(self, x, sigma=None):  # no noise-level input: sigma is ignored
        return torch.sigmoid(self.decoder(self.encoder(x)))


class DenseAE(nn.Module):
    """002: exactly the listed layers. Stride-2 convs to 64x4x4, Linear 1024 -> 256 -> 1024, transposed
    convs back to 28x28; ReLU after every conv, sigmoid output. Takes only 28x28 images."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, stride=2, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.l1 = nn.Linear(1024, 256)
        self.l2 = nn.Linear(256, 1024)
        self.conv4 = nn.ConvTranspose2d(64, 32, 3, stride=3, padding=2)
        self.conv5 = nn.ConvTranspose2d(32, 16, 3, stride=3, padding=4)
        self.conv6 = nn.ConvTranspose2d(16, channels, 3, stride=2, padding=3, output_padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x, sigma=None):  # no noise-level input: sigma is ignored
        h = self.act(self.conv3(self.act(self.conv2(self.act(self.conv1(x))))))
        h = self.l2(self.l1(h.flatten(1))).view(-1, 64, 4, 4)
        h = self.act(self.conv5(self.act(self.conv4(h))))
        return torch.sigmoid(self.conv6(h))


class PoolAE(nn.Module):
    """003: conv + batch norm + max-pool encoder, conv + upsampling decoder, sigmoid output."""

    def __init__(self, channels: int = 1, widths: tuple[int, int] = (32, 64)):
        super().__init__()
        a, b = widths
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, a, 3, padding=1), nn.BatchNorm2d(a), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(b, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(inplace=True), nn.Upsample(scale_factor=2),
            nn.Conv2d(b, a, 3, padding=1), nn.BatchNorm2d(a), nn.ReLU(inplace=True), nn.Upsample(scale_factor=2),
            nn.Conv2d(a, channels, 3, padding=1),
        )

    def forward(self, x, sigma=None):  # no noise-level input: sigma is ignored
        return torch.sigmoid(self.decoder(self.encoder(x)))


class StridedAE(nn.Module):
    """004: stride-2 convs 28 -> 14 -> 7 -> 3 (32, 64, 128 channels), transposed convs 3 -> 7 -> 14 -> 28."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(64, 128, 3, stride=2), nn.ReLU(inplace=True),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 3, stride=2), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(32, channels, 3, stride=2, padding=1, output_padding=1),
        )

    def forward(self, x, sigma=None):  # no noise-level input: sigma is ignored
        return torch.sigmoid(self.decoder(self.encoder(x)))
