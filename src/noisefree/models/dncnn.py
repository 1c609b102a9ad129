"""DnCNN (Zhang et al., 2017): a plain residual CNN that predicts the noise and subtracts it."""

from __future__ import annotations

import torch
from torch import nn


class DnCNN(nn.Module):
    """``depth`` 3x3 conv layers of ``width`` features: conv+ReLU, (depth-2) x conv+BN+ReLU, conv.
    The output is ``x - net(x)`` (residual learning); 17 layers, 64 features is the paper's DnCNN-S/B.
    With ``noise_map`` the noise std enters as an extra constant input channel (FFDNet-style), so one
    network follows a sigma given at inference."""

    def __init__(self, channels: int = 1, depth: int = 17, width: int = 64, noise_map: bool = False):
        super().__init__()
        if depth < 3:
            raise ValueError(f"dncnn depth must be >= 3, got {depth}")
        self.noise_map = noise_map
        self.net = plain_cnn(channels + int(noise_map), channels, depth=depth, width=width)

    def forward(self, x, sigma=None):
        return x - self.net(with_noise_map(x, sigma) if self.noise_map else x)


def plain_cnn(in_channels: int, out_channels: int, *, depth: int, width: int) -> nn.Sequential:
    """DnCNN's body: conv+ReLU, (depth-2) x conv+BN+ReLU, conv; all 3x3, He-initialised (FFDNet uses it too)."""
    layers = [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(width, out_channels, 3, padding=1))
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def with_noise_map(x, sigma):
    """``x`` with one more channel holding each image's noise std (``sigma``: float or (N,) tensor)."""
    if sigma is None:
        raise ValueError("this network takes the noise level as input: pass sigma")
    s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
    return torch.cat([x, s.expand(x.shape[0], 1, *x.shape[-2:])], 1)
