"""Geometric self-ensemble ("x8"): a denoiser run on the eight flips and 90-degree rotations of its input, each
result turned back and the eight averaged (Timofte et al., CVPR 2016; DRUNet's and KAIR's "x8" mode).

A network sees the same noise in eight orientations and makes partly independent errors, so the average is
usually a little better (about 0.1 dB for CNN denoisers) at eight times the cost. ``resolve("x8:NAME")`` wraps
any method; the noise level of a method that takes one is estimated once per image, not once per orientation
(a gray method on colour images estimates it per channel, as without the ensemble).
"""

from __future__ import annotations

import torch

from .augment import orient, unorient
from .denoiser import Denoiser, sigma_per_image

__all__ = ["SelfEnsemble"]


class SelfEnsemble(Denoiser):
    """``base`` averaged over the eight orientations of each image (see the module docstring)."""

    def __init__(self, base: Denoiser):
        self.base = base
        self.name = f"x8:{base.name}"
        self.channels, self.takes_sigma = base.channels, base.takes_sigma
        self.card = getattr(base, "card", None)

    @property
    def tile_progress(self):
        return self.base.tile_progress

    @tile_progress.setter
    def tile_progress(self, callback) -> None:
        self.base.tile_progress = callback

    def denoise_batch(self, x: torch.Tensor, sigma=None) -> torch.Tensor:
        if self.takes_sigma and sigma is None and self.base.channels in (None, x.shape[1]):
            sigma = sigma_per_image(x, None)  # estimated once per image, not once per orientation
        out = torch.zeros_like(x, dtype=torch.float32)
        for k in range(8):
            out += unorient(self.base._run(orient(x, k).contiguous(), sigma).float(), k)
        return out / 8
