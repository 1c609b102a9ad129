"""Making a trained network cheaper to run without changing what it computes."""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batchnorm"]


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` in which each convolution followed directly by a batch norm (inside an
    ``nn.Sequential``, as in DnCNN and the reference autoencoders) is one convolution with the norm's scale
    and shift folded into its weights and bias, and the norm is gone. Same outputs up to float rounding;
    one memory pass less per layer. ``model`` itself is left as it is (training and checkpoints use it)."""
    folded = copy.deepcopy(model).eval()
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(bn, nn.BatchNorm2d) and isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) \
                    and bn.track_running_stats and bn.running_mean is not None:
                seq._modules[a] = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d))
                seq._modules[b] = nn.Identity()
    return folded
