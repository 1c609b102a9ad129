"""Pixel values a denoiser can take, from files that hold others.

Networks and classical methods work on the [0, 1] scale that 8- and 16-bit files are read on. Float TIFFs are
read unscaled, and microscopy often stores them in counts or arbitrary units (0 to 10,000; -3 to 5), which a
network ending in a sigmoid (the autoencoders) cannot return; they may also hold NaN or inf where nothing was
measured, which a convolution spreads over the whole output. :func:`to_unit` brings such an image onto
[0, 1] by dividing it by its largest magnitude (the larger of its 0.1st and 99.9th percentiles in absolute
value; no offset, so black stays black; an image within [-0.5, 1.5] is taken as on that scale already and
left alone) and fills each non-finite pixel from its nearest finite neighbour; :meth:`UnitMap.back`
undoes both, so the result is in the file's units with the non-finite values where they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["UnitMap", "shared_map", "to_unit"]

_SLACK = 0.5  # noise carries values of an image on the [0, 1] scale a little beyond it
_SAMPLES = 1_000_000  # percentiles from at most about this many pixels


@dataclass(frozen=True)
class UnitMap:
    """How :func:`to_unit` changed an image: ``unit = value / scale``; ``holes`` marks the pixels that were NaN
    or inf (None: none were) and ``kept`` their values."""

    scale: float = 1.0
    holes: np.ndarray | None = None
    kept: np.ndarray | None = None

    @property
    def rescaled(self) -> bool:
        return self.scale != 1.0

    def sigma_to_unit(self, sigma):
        """A noise std in the file's units on the [0, 1] scale the denoiser sees (None stays None)."""
        return None if sigma is None else sigma / self.scale

    def sigma_from_unit(self, sigma):
        return None if sigma is None else sigma * self.scale

    def back(self, unit: np.ndarray) -> np.ndarray:
        """A denoised ``unit`` image (the shape :func:`to_unit` returned) in the file's units, float32."""
        if not self.rescaled and self.holes is None:
            return np.asarray(unit, dtype=np.float32)  # nothing to undo: no copy of a big stack
        out = np.array(unit, dtype=np.float32)
        out *= np.float32(self.scale)
        if self.holes is not None:
            out[self.holes] = self.kept
        return out

    def describe(self) -> str:
        """What was done, for a user: '' when nothing was."""
        parts = [f"values divided by {self.scale:.4g} onto [0, 1]"] if self.rescaled else []
        if self.holes is not None:
            parts.append(f"{int(self.holes.sum())} NaN/inf pixel(s) filled from their neighbours and kept")
        return "; ".join(parts)


def to_unit(image: np.ndarray, *, planes: bool = False, name: str = "image",
            scale_of: UnitMap | None = None) -> tuple[np.ndarray, UnitMap]:
    """``image`` on the [0, 1] scale with only finite values, and the :class:`UnitMap` that undoes it.

    Integer-file images (already on [0, 1]) and float images within [-0.5, 1.5] keep their values. One scale
    serves the whole array, so the planes of a stack (``planes=True``: the first axis holds planes, each
    filled on its own) stay comparable; ``scale_of`` imposes another map's scale (:func:`shared_map`'s for a
    folder). ``name`` names the file in errors."""
    image = np.asarray(image)
    if image.dtype.kind != "f":
        return image, UnitMap()
    finite = np.isfinite(image)
    holes = None if finite.all() else ~finite
    if holes is not None and not finite.any():
        raise ValueError(f"{name}: every pixel is NaN or inf; there is nothing to denoise")
    scale = (scale_of or shared_map([image])).scale
    unit = image.astype(np.float32, copy=holes is not None or scale != 1.0)
    kept = None
    if holes is not None:
        kept = unit[holes].copy()
        for plane, plane_holes in zip(*((unit, holes) if planes else ([unit], [holes]))):
            _fill(plane, plane_holes, name)
    if scale != 1.0:
        unit /= np.float32(scale)
    return unit, UnitMap(scale=scale, holes=holes, kept=kept)


def shared_map(images) -> UnitMap:
    """One scale for several images (a folder's), from their values together: identity when all are
    integer-file images or lie within [-0.5, 1.5], else their largest magnitude (the larger of the 0.1st and
    99.9th percentiles in absolute value). No offset: zero stays zero, and the shipped U-Nets, which have no
    bias terms, give exactly their result on the original values (an offset cost a small N2V2 model 1.5 dB
    in a trial)."""
    floats = [np.asarray(im) for im in images if np.asarray(im).dtype.kind == "f"]
    if not floats:
        return UnitMap()
    values = np.concatenate([_sample(im, max(1, _SAMPLES // len(floats))) for im in floats])
    if values.size == 0:
        return UnitMap()
    lo, hi = np.percentile(values.astype(np.float64), [0.1, 99.9]).tolist()
    if lo >= -_SLACK and hi <= 1 + _SLACK:
        return UnitMap()
    top = max(abs(lo), abs(hi))
    return UnitMap(scale=float(top) if top > 0 else 1.0)


def _sample(image: np.ndarray, size: int) -> np.ndarray:
    """About ``size`` evenly spaced finite values of ``image`` (all its finite values if the spacing misses them)."""
    flat = image.reshape(-1)
    sample = flat[::max(1, flat.size // size)]
    sample = sample[np.isfinite(sample)]
    return sample if sample.size else flat[np.isfinite(flat)]


def _fill(plane: np.ndarray, holes: np.ndarray, name: str) -> None:
    """Each hole of a (H, W) or (H, W, C) ``plane``, in place, from the nearest finite pixel of its channel."""
    from scipy.ndimage import distance_transform_edt

    channels = [(plane, holes)] if plane.ndim == 2 else [(plane[..., c], holes[..., c])
                                                         for c in range(plane.shape[-1])]
    for values, mask in channels:
        if not mask.any():
            continue
        if mask.all():
            raise ValueError(f"{name}: a plane or channel with no finite value; there is nothing to fill it from")
        rows, cols = distance_transform_edt(mask, return_distances=False, return_indices=True)
        values[mask] = values[rows[mask], cols[mask]]
