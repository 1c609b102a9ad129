"""Where noise comes from: a torch generator on the training device, or numpy in protocol layout.

A noise model draws through one of these (``rng.normal``, ``rng.uniform``, ``rng.poisson``):

* :class:`TorchRandom` draws on the tensor's own device (fast; used for training batches);
* :class:`NumpyRandom` draws from ``numpy.random.default_rng(seed)`` in the layout the benchmark protocols
  use (H x W for gray, H x W x 3 for color), so an evaluation image's noise is bit-for-bit reproducible
  and independent of batch size and device.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["NumpyRandom", "TorchRandom"]


class TorchRandom:
    """Randomness from a :class:`torch.Generator`, drawn on the generator's device."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def normal(self, like: torch.Tensor, shape=None) -> torch.Tensor:
        return torch.randn(shape or like.shape, generator=self.generator, device=like.device, dtype=like.dtype)

    def uniform(self, like: torch.Tensor, shape=None) -> torch.Tensor:
        return torch.rand(shape or like.shape, generator=self.generator, device=like.device, dtype=like.dtype)

    def poisson(self, rates: torch.Tensor) -> torch.Tensor:
        return torch.poisson(rates, generator=self.generator)


class NumpyRandom:
    """Randomness from ``numpy.random.Generator`` in protocol layout (per image: H x W or H x W x C).

    Per-pixel draws for a (N, C, H, W) tensor are made image by image as an array of shape (H, W) for one
    channel or (H, W, C) otherwise, then moved to (C, H, W); draws of shape (N, 1, 1, 1) (one number per
    image) are made as ``rng.random(N)``. This is what makes our evaluation noise equal the published
    protocol's: ``default_rng(i).standard_normal((H, W))`` for the i-th gray image.
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def _draw(self, fn, like: torch.Tensor, shape) -> torch.Tensor:
        shape = tuple(shape or like.shape)
        n, c, h, w = shape
        if (h, w) == (1, 1):
            arr = fn((n, c, 1, 1))
        else:
            per = [fn((h, w))[None] if c == 1 else np.moveaxis(fn((h, w, c)), -1, 0) for _ in range(n)]
            arr = np.stack(per)
        return torch.from_numpy(np.ascontiguousarray(arr)).to(device=like.device, dtype=like.dtype)

    def normal(self, like: torch.Tensor, shape=None) -> torch.Tensor:
        return self._draw(self.rng.standard_normal, like, shape)

    def uniform(self, like: torch.Tensor, shape=None) -> torch.Tensor:
        return self._draw(self.rng.random, like, shape)

    def poisson(self, rates: torch.Tensor) -> torch.Tensor:
        values = rates.detach().cpu().double().numpy()
        if rates.shape[1] == 1:
            out = np.stack([self.rng.poisson(v[0])[None] for v in values])
        else:
            out = np.stack([np.moveaxis(self.rng.poisson(np.moveaxis(v, 0, -1)), -1, 0) for v in values])
        return torch.from_numpy(out).to(device=rates.device, dtype=rates.dtype)
