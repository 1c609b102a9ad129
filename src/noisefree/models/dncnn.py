"""DnCNN (Zhang et al., 2017): a plain residual CNN that predicts the noise and subtracts it."""

from __future__ import annotations

from torch import nn


class DnCNN(nn.Module):
    """``depth`` 3x3 conv layers of ``width`` features: conv+ReLU, (depth-2) x conv+BN+ReLU, conv.
    The output is ``x - net(x)`` (residual learning); 17 layers, 64 features is the paper's DnCNN-S/B."""

    def __init__(self, channels: int = 1, depth: int = 17, width: int = 64):
        super().__init__()
        if depth < 3:
            raise ValueError(f"dncnn depth must be >= 3, got {depth}")
        layers = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return x - self.net(x)
