"""Evaluation protocols: how noise levels are read, whether the noisy image is clipped, how outputs are
finished before scoring. One object each, used by ``evaluate``, ``benchmark`` and training's validation.

* :data:`SMALL` (MNIST/CIFAR-style, the default): σ on the [0, 1] scale; the noisy image is clipped to
  [0, 1] when asked (``clip``); the output is clipped to [0, 1]; PSNR/SSIM on floats, data range 1.
* :data:`STANDARD` (DnCNN/FFDNet natural-image protocol): σ on the 8-bit scale (σ/255 on [0, 1]); clean
  images must be 8-bit; the noisy image is never clipped; the output is clipped and rounded to the 8-bit grid.

See docs/protocols.md for the full statement and its references.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .noise import Gaussian

__all__ = ["PROTOCOLS", "SMALL", "STANDARD", "Protocol", "get_protocol"]


@dataclass(frozen=True)
class Protocol:
    name: str
    sigma_scale: float  # a level σ given under this protocol is the std σ / sigma_scale on [0, 1]
    clip_noisy: bool | None  # None: the caller's choice; False: never clipped
    quantize: bool  # outputs rounded to the 8-bit grid before scoring
    needs_8bit: bool  # clean images must be 8-bit

    def std(self, sigma: float) -> float:
        """The [0, 1]-scale std of level ``sigma`` given on this protocol's scale; a level that fits the other
        scale (0.1 under ``standard``, 25 under ``small``) is refused with both readings."""
        sigma = float(sigma)
        if self.sigma_scale == 255.0 and 0 < sigma < 1:
            raise ValueError(f"sigma {sigma:g}: the standard protocol takes σ on the 8-bit scale (e.g. 15, 25, 50), "
                             f"so this is {sigma:g}/255; for {sigma:g} on the [0, 1] scale give {sigma * 255:g}, or "
                             "use --protocol small")
        if self.sigma_scale == 1.0 and sigma > 1:
            raise ValueError(f"sigma {sigma:g}: the small protocol takes σ on the [0, 1] scale (e.g. 0.1, 0.3); "
                             f"for {sigma:g} on the 8-bit scale give {sigma / 255:.4g}, or use --protocol standard")
        return sigma / self.sigma_scale

    def noise(self, sigma: float) -> Gaussian:
        return Gaussian(self.std(sigma))

    def clip(self, requested: bool = True) -> bool:
        """Whether the noisy image is clipped to [0, 1], given what the caller asked for."""
        return requested if self.clip_noisy is None else self.clip_noisy

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """An output as it is scored: clipped to [0, 1], and rounded to the 8-bit grid when ``quantize``."""
        x = x.clamp(0.0, 1.0)
        return torch.round(x * 255.0) / 255.0 if self.quantize else x

    @property
    def sigma_label(self) -> str:
        return "σ (8-bit)" if self.sigma_scale == 255.0 else "σ"


SMALL = Protocol("small", sigma_scale=1.0, clip_noisy=None, quantize=False, needs_8bit=False)
STANDARD = Protocol("standard", sigma_scale=255.0, clip_noisy=False, quantize=True, needs_8bit=True)
PROTOCOLS = {p.name: p for p in (SMALL, STANDARD)}


def get_protocol(protocol: str | Protocol) -> Protocol:
    """A :class:`Protocol` from its name (``small`` or ``standard``)."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[str(protocol).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; use {' or '.join(PROTOCOLS)}") from None
