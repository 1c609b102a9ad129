"""What training sees: clean and noisy views of the same images, and where the noise comes from.

Three sources, chosen by the run configuration:

* **clean images, fresh noise** (supervised training's default): every batch gets new noise, so the
  network never sees the same noisy crop twice.
* **clean images, fixed noise** (``fixed_noise``, always for self-supervised objectives): each image gets one
  noisy realization (two for ``n2n``), drawn once from seeds that depend only on the run's seed and the
  image's index (numpy, in protocol layout), so it is regenerated bit for bit on resume and in any other
  run with the same seed. This is how a self-supervised method is benchmarked honestly: with fresh noise
  every epoch, the average of many noisy copies of one image would stand in for its clean version, which a
  user who has only noisy images never has.
* **noisy images** (``noisy: true``): the dataset's images are the network's input as they are; nothing is
  added and nothing claims a clean reference. For ``n2n``, ``pair_dataset`` names a second folder holding a
  second noisy image of each scene under the same relative file name.

All views of one image are cropped and flipped together (:func:`noisefree.augment.epoch_images`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import DatasetError, ImageSet
from .denoiser import sigma_per_image
from .noise import Noise, eval_noisy

__all__ = ["TrainingData", "fixed_views", "match_pairs", "real_views"]

# seeds of the fixed training realizations: far from the validation/evaluation seeds (seed + index)
FIXED_SEED, PAIR_SEED = 10_000_019, 20_000_033


@dataclass
class TrainingData:
    """Aligned views of the same images ('clean', 'noisy', 'pair'), each image's noise std where known,
    and the noise to draw per batch when it is fresh."""

    views: dict[str, ImageSet]
    sigma: torch.Tensor | None = None  # (N,) on the [0, 1] scale, for noise-level-map networks
    fresh: Noise | None = None  # draw this on every batch from views['clean']

    def __post_init__(self):
        sizes = {k: v.sizes for k, v in self.views.items()}
        if len({tuple(s) for s in sizes.values()}) > 1:
            raise DatasetError("the views of the training images differ in size: " + ", ".join(sizes))

    def __len__(self) -> int:
        return len(next(iter(self.views.values())))

    def to(self, device) -> TrainingData:
        return TrainingData({k: v.to(device) for k, v in self.views.items()},
                            None if self.sigma is None else self.sigma.to(device), self.fresh)


def fixed_views(clean: ImageSet, noise: Noise, *, seed: int, clip: bool, pair: bool = False) -> TrainingData:
    """One fixed noisy realization of every image of ``clean`` (and a second, independent one when ``pair``),
    stored as float32; image ``i`` draws from ``default_rng(seed + FIXED_SEED + index[i])``."""
    views = {"clean": clean}
    sigma = None
    for key, offset in (("noisy", FIXED_SEED), ("pair", PAIR_SEED))[:1 + pair]:
        images, sigmas = [], []
        for idx in clean.chunks(64):
            noisy, s = eval_noisy(clean.take(idx, torch.float64).cpu(), noise,
                                  [seed + offset + int(clean.index[i]) for i in idx], clip=clip)
            images += list(noisy.float())
            sigmas += [] if s is None else s.float().tolist()
        stacked = torch.stack(images) if clean.stacked else images
        views[key] = ImageSet(f"{clean.name} + {noise.spec} (fixed, seed {seed})", stacked, 1.0, clean.index,
                              clean.files)
        if key == "noisy" and sigmas:
            sigma = torch.tensor(sigmas)
    return TrainingData(views, sigma)


def real_views(noisy: ImageSet, pair: ImageSet | None = None, *, estimate_sigma: bool = False) -> TrainingData:
    """Noisy images as they are (and their pairs for n2n); with ``estimate_sigma`` each image's Gaussian std
    is estimated once, for networks with a noise-level map."""
    views = {"noisy": noisy} | ({"pair": pair} if pair is not None else {})
    sigma = torch.cat([sigma_per_image(noisy.image(i), None) for i in range(len(noisy))]) if estimate_sigma else None
    return TrainingData(views, sigma)


def match_pairs(first: ImageSet, second: ImageSet, *, root_a: Path, root_b: Path) -> ImageSet:
    """``second`` reordered so that image i has the same path relative to ``root_b`` as image i of ``first``
    relative to ``root_a`` (the suffix may differ); unmatched names are listed in the error."""
    def names(data: ImageSet, root: Path) -> list[str]:
        return [str(Path(f).relative_to(root).with_suffix("")) for f in data.files]

    a, b = names(first, root_a), names(second, root_b)
    where = {n: i for i, n in enumerate(b)}
    only_a, only_b = [n for n in a if n not in where], sorted(set(b) - set(a))
    if only_a or only_b:
        def show(xs):
            return ", ".join(xs[:8]) + (f" and {len(xs) - 8} more" if len(xs) > 8 else "")

        parts = ([f"{len(only_a)} in {root_a} have no partner in {root_b}: {show(only_a)}"] if only_a else []) + (
            [f"{len(only_b)} in {root_b} have no partner in {root_a}: {show(only_b)}"] if only_b else [])
        raise DatasetError("Noise2Noise pairs are matched by file name (relative path, any suffix); "
                           + "; ".join(parts) + ". Rename or remove them")
    order = np.array([where[n] for n in a])
    paired = second.select(order)
    for i, (x, y) in enumerate(zip(first.sizes, paired.sizes)):
        if x != y:
            raise DatasetError(f"{first.files[i]} is {x[0]}x{x[1]} but its partner {paired.files[i]} is "
                               f"{y[0]}x{y[1]}: a Noise2Noise pair shows the same scene at the same size")
    return ImageSet(paired.name, paired.images, paired.max_value, first.index, paired.files)

