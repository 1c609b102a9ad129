"""One call for every denoiser: ``den(noisy, sigma=None)``.

``noisy`` may be a float numpy array H x W or H x W x C on the [0, 1] scale (values outside allowed), a
batch N x H x W x C, a list of such arrays, or a torch tensor (H, W), (C, H, W) or (N, C, H, W). The
result has the input's type, shape and (for tensors) device. Subclasses implement only
:meth:`Denoiser.denoise_batch` on (N, C, H, W) float tensors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .card import ModelCard
from .inference import fold_batchnorm
from .models.registry import ModelSpec, get_spec
from .noise import denoising_sigma

__all__ = ["PRECISIONS", "Denoiser", "NetworkDenoiser", "forward_padded", "innermost", "run_in_pieces", "set_precision",
           "sigma_per_image", "tiled"]


def forward_padded(model: nn.Module, spec: ModelSpec, x: torch.Tensor, sigma=None) -> torch.Tensor:
    """``model(x, sigma)`` for any (N, C, H, W) the architecture accepts after padding: reflect-pad H and W
    up to the sizes it needs, run, crop back. Fixed-size designs get a clear error for other sizes."""
    h, w = x.shape[-2:]
    spec.check_size(h, w)
    hp, wp = spec.padded_size(h), spec.padded_size(w)
    if (hp, wp) == (h, w):
        return model(x, sigma)
    mode = "reflect" if hp - h < h and wp - w < w else "replicate"
    return model(F.pad(x, (0, wp - w, 0, hp - h), mode=mode), sigma)[..., :h, :w]


def _window(length: int, margin: int, ramp: int, start_open: bool, end_open: bool) -> torch.Tensor:
    """1-D blending weights of a tile: 0 for ``margin`` pixels at an inner edge (where the tile's border
    disturbs the output), a linear ramp over ``ramp`` pixels, then 1; no fade at image borders."""
    d = torch.arange(length, dtype=torch.float32)
    w = torch.ones(length)
    for dist, open_ in ((d, start_open), (length - 1 - d, end_open)):
        if open_:
            w = torch.minimum(w, ((dist - margin + 1) / (ramp + 1)).clamp(0, 1))
    return w


def tiled(fn, x: torch.Tensor, *, tile: int, overlap: int, progress: Callable[[int, int], None] | None = None,
          batch: int = 1) -> torch.Tensor:
    """Apply ``fn`` to overlapping ``tile`` x ``tile`` pieces of ``x`` (N, C, H, W) and blend them smoothly.

    In each overlap of ``overlap`` pixels a quarter next to each tile edge gets weight 0 and the middle
    half is a linear cross-fade. The result equals ``fn(x)`` wherever ``overlap // 4`` covers the network's
    receptive-field radius. Memory: the input, the output and one tile's work (the tiles form a grid, so
    the summed blending weight is a product of two 1-D sums and needs no H x W map). All tiles have one size,
    so ``batch`` of them go through ``fn`` together (more work per call, ``batch`` tiles' memory).
    ``progress(done, total)`` is called after each tile.
    """
    n, c, h, w = x.shape
    if overlap >= tile:
        raise ValueError(f"tile overlap {overlap} must be smaller than the tile size {tile}")
    margin, ramp = overlap // 4, overlap - 2 * (overlap // 4)
    th, tw = min(tile, h), min(tile, w)

    def starts(size):
        if size <= tile:
            return [0]
        return list(range(0, size - tile, tile - overlap)) + [size - tile]

    def windows(size, length):
        return [(p, _window(length, margin, ramp, p > 0, p + length < size)) for p in starts(size)]

    rows, cols = windows(h, th), windows(w, tw)
    sum_y, sum_x = torch.zeros(h), torch.zeros(w)
    for y, wy in rows:
        sum_y[y:y + th] += wy
    for x0, wx in cols:
        sum_x[x0:x0 + tw] += wx
    out = torch.zeros((n, c, h, w), dtype=torch.float32)
    places = [(y, wy, x0, wx) for y, wy in rows for x0, wx in cols]
    for start in range(0, len(places), max(1, batch)):
        group = places[start:start + max(1, batch)]
        pieces = fn(torch.cat([x[:, :, y:y + th, x0:x0 + tw] for y, _, x0, _ in group])).float().cpu()
        for k, (y, wy, x0, wx) in enumerate(group):
            out[:, :, y:y + th, x0:x0 + tw] += pieces[k * n:(k + 1) * n] * (wy[:, None] * wx[None, :])
            if progress is not None:
                progress(start + k + 1, len(places))
    return out.div_(sum_y[:, None]).div_(sum_x)


class Denoiser:
    """Base class. ``channels`` is what the method was made for (None: any); ``takes_sigma`` says whether it
    uses the noise level it is given (evaluations give a protocol's known σ only to methods that do). A σ given
    to one that does not is ignored with a warning, once per denoiser."""

    name: str = "denoiser"
    channels: int | None = None
    takes_sigma: bool = True
    tile_progress: Callable[[int, int], None] | None = None  # networks report tiles of large images here
    precision: str = "float32"  # networks: "bf16" runs them under bf16 autocast (see set_precision)
    takes_precision: bool = False  # whether ``precision`` means anything to this method

    def denoise_batch(self, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, noisy, sigma: float | None = None):
        if sigma is not None and not self.takes_sigma and not getattr(self, "_warned_sigma", False):
            self._warned_sigma = True  # once per denoiser: a folder of images gives one warning, not one each
            warnings.warn(f"{self.name} takes no noise level; sigma={_fmt(sigma)} is ignored (it denoises "
                          "blindly)", UserWarning, stacklevel=2)
        if isinstance(noisy, (list, tuple)):
            _check_sigma(sigma, len(noisy), self)
            return self._call_many(list(noisy), sigma)
        x, restore = _as_batch(noisy)
        _check_sigma(sigma, x.shape[0], self)
        return restore(self._run(x, sigma))

    def _call_many(self, items: list, sigma) -> list:
        """A list of images, denoised in batches of equal size (one call per size, not per image); ``sigma``
        may hold one value per image."""
        per_image = sigma is not None and np.ndim(sigma) == 1 and len(sigma) == len(items) and len(items) > 1
        batches = [_as_batch(item) for item in items]
        groups: dict[tuple, list[int]] = {}
        for i, (x, _) in enumerate(batches):
            groups.setdefault((tuple(x.shape[1:]), x.shape[0] == 1), []).append(i)
        out = [None] * len(items)
        for (_, single), idx in groups.items():
            if not single:  # items that are batches themselves run as they are
                for i in idx:
                    out[i] = batches[i][1](self._run(batches[i][0], sigma[i] if per_image else sigma))
                continue
            s = [float(sigma[i]) for i in idx] if per_image else sigma
            result = self._run(torch.cat([batches[i][0] for i in idx]), s)
            for k, i in enumerate(idx):
                out[i] = batches[i][1](result[k:k + 1])
        return out

    def _run(self, x: torch.Tensor, sigma) -> torch.Tensor:
        if not getattr(self, "_warned_values", False):
            self._check_values(x)
        c = x.shape[1]
        if self.channels is None or c == self.channels:
            return self.denoise_batch(x, sigma)
        if self.channels == 1:  # a gray method on color images: channel by channel
            n, _, h, w = x.shape
            return self.denoise_batch(x.reshape(n * c, 1, h, w), sigma).reshape(n, c, h, w)
        raise ValueError(f"{self.name} denoises {self.channels}-channel images; this input has {c} "
                         f"channel(s). Use a model trained for {c}-channel images.")

    def _check_values(self, x: torch.Tensor) -> None:
        """Warn (once per denoiser) about NaN/inf, which a convolution spreads, or values far off [0, 1]."""
        lo, hi, finite = float("inf"), float("-inf"), True
        flat = x.reshape(-1)
        for start in range(0, flat.numel(), 1 << 22):  # in pieces: a 100-megapixel image gets no big temporary
            low, high = torch.aminmax(flat[start:start + (1 << 22)])
            low, high = float(low), float(high)
            finite = finite and math.isfinite(low) and math.isfinite(high)  # NaN propagates into min and max
            lo, hi = min(lo, low), max(hi, high)
        problem = ("holds NaN or inf values, which the denoiser spreads to their neighbours" if not finite
                   else f"spans {lo:.4g} to {hi:.4g}, far off the [0, 1] scale this denoiser works on"
                   if lo < -2 or hi > 3 else "")  # noise carries [0, 1] images some way beyond it
        if problem:
            self._warned_values = True
            warnings.warn(f"{self.name}: the input {problem}. noisefree.intensity.to_unit maps an image onto "
                          "[0, 1] and fills NaNs, and its map's back() restores the result's units "
                          "(`noisefree denoise` does this for float TIFFs)", UserWarning, stacklevel=4)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, channels={self.channels})"


def _as_batch(noisy) -> tuple[torch.Tensor, Callable[[torch.Tensor], object]]:
    """``noisy`` as a float (N, C, H, W) tensor, and the function that turns a result back into its form."""
    if isinstance(noisy, torch.Tensor):
        shape = noisy.shape
        if noisy.ndim not in (2, 3, 4):
            raise ValueError(f"expected a tensor (H, W), (C, H, W) or (N, C, H, W), got {tuple(shape)}")
        x = noisy.reshape((1,) * (4 - noisy.ndim) + tuple(shape)).float()
        dtype = noisy.dtype if noisy.is_floating_point() else torch.float32
        return x, lambda out: out.to(device=noisy.device, dtype=dtype).reshape(shape)
    arr = np.asarray(noisy)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"expected a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind in "iu":
        raise TypeError(f"expected a float array on the [0, 1] scale, got {arr.dtype}; divide by "
                        f"{np.iinfo(arr.dtype).max} first (or use noisefree.io.read_image)")
    if arr.ndim not in (2, 3, 4):
        raise ValueError(f"expected an array H x W, H x W x C or N x H x W x C, got shape {arr.shape}")
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    x = t[None, None] if arr.ndim == 2 else t.permute(2, 0, 1)[None] if arr.ndim == 3 else t.permute(0, 3, 1, 2)
    dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
    return x, lambda out: out.permute(0, 2, 3, 1).cpu().numpy().reshape(arr.shape).astype(dtype, copy=False)


class NetworkDenoiser(Denoiser):
    """A trained network with its :class:`~noisefree.card.ModelCard`. Pads each image (reflect) to a size the
    architecture accepts and crops back; refuses sizes a fixed-size design cannot take. Images of more than
    ``tile_pixels`` pixels are processed in overlapping ``tile`` x ``tile`` tiles blended smoothly (see
    :func:`tiled`; ``tile_progress(done, total)`` follows them), so memory stays bounded for any image size.
    Networks that take the noise level (``card.takes_sigma``) use ``sigma``, estimated per image when None;
    the others ignore it and say so once."""

    takes_precision = True

    def __init__(self, model: nn.Module, card: ModelCard | dict, *, batch_size: int = 16, tile: int = 512,
                 overlap: int = 96, tile_pixels: int = 1024 * 1024, precision: str = "float32"):
        self.model = model.eval()  # as trained: what checkpoints and fine-tuning read
        self.precision = _check_precision(precision)
        self._fast: nn.Module | None = None  # the same network with batch norms folded, made on first use
        self.card = card = ModelCard.of(card)
        self.spec: ModelSpec = get_spec(card.architecture)
        self.channels, self.takes_sigma = card.channels, card.takes_sigma
        self.name = card.name or card.architecture
        self.batch_size = batch_size
        self.tile, self.overlap, self.tile_pixels = tile, overlap, tile_pixels
        self.tile_batch: int | None = None  # tiles per network call; None: 4 on CUDA, 1 elsewhere (memory)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device) -> NetworkDenoiser:
        self.model.to(device)
        self._fast = None
        return self

    @property
    def inference_model(self) -> nn.Module:
        """:attr:`model` with its batch norms folded into the convolutions (:func:`fold_batchnorm`), in the
        channels-last layout (on this project's 2-core CPU it halves the time of ``gray-blind``)."""
        if self._fast is None:
            self._fast = fold_batchnorm(self.model).to(memory_format=torch.channels_last)
        return self._fast

    @torch.inference_mode()
    def denoise_batch(self, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        self.spec.check_size(*x.shape[-2:])
        bf16 = _check_precision(self.precision) == "bf16"

        def run(t, s):
            t = t.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                return forward_padded(self.inference_model, self.spec, t, s).float().contiguous()

        return run_in_pieces(run, x, sigma_per_image(x, sigma) if self.card.takes_sigma else None,
                             batch_size=self.batch_size, tile_pixels=0 if self.spec.fixed_size else self.tile_pixels,
                             tile=self.tile, overlap=self.overlap, progress=self.tile_progress,
                             tile_batch=self.tile_batch or (4 if self.device.type == "cuda" else 1))


PRECISIONS = ("float32", "bf16")


def _check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use float32 (exact, the default) or bf16 (faster on GPUs with "
                         "bf16 units, e.g. A100/H100, and on CPUs with native bf16; outputs differ in the third or "
                         "fourth decimal)")
    return precision


def innermost(den: Denoiser) -> Denoiser:
    """The method that ``x8:`` and ``vst:`` wrappers (``.base``) wrap; the one that holds ``precision``."""
    while getattr(den, "base", None) is not None:
        den = den.base
    return den


def set_precision(den: Denoiser, precision: str) -> Denoiser:
    """Run the network(s) inside ``den`` (also under ``x8:`` / ``vst:`` and ``auto``) in ``precision``:
    ``float32`` or ``bf16`` (autocast: convolutions in bfloat16, output float32). Classical methods have no
    such setting and are refused with a message."""
    _check_precision(precision)
    leaf = innermost(den)
    if not leaf.takes_precision:
        raise ValueError(f"{den.name}: precision {precision} applies to networks, and {leaf.name} is not one")
    leaf.precision = precision
    return den


def sigma_per_image(x: torch.Tensor, sigma) -> torch.Tensor:
    """Each image's noise std for networks that take one: ``sigma`` as given (one value or one per image), or
    estimated from each image of ``x`` (N, C, H, W) when None (:func:`noisefree.noise.denoising_sigma`: for a
    clipped image, the noise left after clipping)."""
    if sigma is not None:
        return torch.as_tensor(sigma, dtype=torch.float32).flatten().expand(x.shape[0]).clone()
    est = [denoising_sigma(im.permute(1, 2, 0).squeeze(-1).cpu().numpy()) for im in x]
    return torch.tensor(est, dtype=torch.float32)


def run_in_pieces(run, x: torch.Tensor, sigmas: torch.Tensor | None, *, batch_size: int, tile_pixels: int,
                  tile: int, overlap: int, progress=None, tile_batch: int = 1) -> torch.Tensor:
    """``run(images, sigmas)`` over ``x`` (N, C, H, W) with bounded memory: images over ``tile_pixels`` pixels
    one at a time in blended tiles (:func:`tiled`; 0 never tiles), smaller ones ``batch_size`` at a time."""
    h, w = x.shape[-2:]
    if tile_pixels and h * w > tile_pixels:
        out = [tiled(lambda t, i=i: run(t, None if sigmas is None else sigmas[i:i + 1]), x[i:i + 1].cpu(),
                     tile=tile, overlap=overlap, progress=progress, batch=tile_batch) for i in range(x.shape[0])]
    else:
        out = [run(x[i:i + batch_size], None if sigmas is None else sigmas[i:i + batch_size]).cpu()
               for i in range(0, x.shape[0], batch_size)]
    return (out[0] if len(out) == 1 else torch.cat(out)).to(x.device)  # no copy of a huge single image


def _check_sigma(sigma, images: int, denoiser) -> None:
    """A noise std is a number >= 0 on the [0, 1] scale, one or one per image; over 1 is likely 8-bit (warned
    once per denoiser)."""
    if sigma is None:
        return
    values = np.asarray(sigma.detach().cpu() if isinstance(sigma, torch.Tensor) else sigma, dtype=np.float64)
    if values.size not in (1, images):
        raise ValueError(f"sigma holds {values.size} values for {images} images: give one, or one per image")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"sigma={_fmt(sigma)}: a noise std is a finite number, 0 or more (on the [0, 1] scale)")
    if values.max() > 1 and not getattr(denoiser, "_warned_scale", False):
        denoiser._warned_scale = True
        warnings.warn(f"sigma={_fmt(sigma)} is over 1, the whole [0, 1] range; for {values.max():g} on the 8-bit "
                      f"scale give {values.max() / 255:.4g}", UserWarning, stacklevel=3)


def _fmt(sigma) -> str:
    values = torch.as_tensor(sigma).flatten().tolist()
    return f"{values[0]:.4g}" if len(set(values)) == 1 else f"{min(values):.4g}..{max(values):.4g}"
