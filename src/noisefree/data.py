"""Datasets of clean images, held in memory as tensors.

``load_dataset(spec, split=...)`` understands:

* ``digits`` — embedded: 5,000 MNIST digits shipped with noisefree (no download). ``train`` = 4,000,
  ``test`` = 1,000 (see ``assets/README.md``).
* ``mnist``, ``fashion-mnist``, ``cifar10`` — through torchvision, from ``root`` (``--data-root``);
  ``download=True`` fetches them. MNIST-style raw IDX files (``t10k-images-idx3-ubyte[.gz]``) found in
  ``root`` are read directly, so the test set alone is enough for ``split="test"``.
* ``folder:PATH`` — every image below PATH (png/jpg/bmp/tif, 8/16-bit, gray or RGB), sorted by path; each
  plane of a TIFF stack is one image. PATH may also be a single TIFF stack.

An :class:`ImageSet` keeps images in their stored type (uint8 for 8-bit data: 4x less memory) and
converts a batch to float on the [0, 1] scale when it is used. ``index`` remembers each image's position
in its split, which seeds its evaluation noise.
"""

from __future__ import annotations

import gzip
import os
import warnings
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .intensity import UnitMap, shared_map, to_unit
from .io import find_images, read_image
from .stacks import is_stack, read_stack

__all__ = ["DATASETS", "DatasetError", "ImageSet", "check_dataset_spec", "default_data_root", "load_dataset",
           "parse_subset"]

DATASETS = {
    "digits": "5,000 MNIST digits embedded in noisefree (train 4,000 / test 1,000); no download",
    "mnist": "MNIST 28x28 gray (torchvision; train 60,000 / test 10,000)",
    "fashion-mnist": "Fashion-MNIST 28x28 gray (torchvision; train 60,000 / test 10,000)",
    "cifar10": "CIFAR-10 32x32 RGB (torchvision; train 50,000 / test 10,000)",
    "folder:PATH": "every image file below PATH (png/jpg/bmp/tif, 8- or 16-bit, gray or RGB)",
}


class DatasetError(RuntimeError):
    """A dataset that cannot be loaded; the message says which files are missing and what to do."""


class UnknownDatasetError(DatasetError, ValueError):
    """A dataset name that is none of :data:`DATASETS`."""


def check_dataset_spec(spec: str) -> str:
    """``spec`` stripped, if it has the form of a dataset in :data:`DATASETS`; else an error listing them."""
    name = str(spec).strip()
    if (name.startswith("folder:") and name[len("folder:"):].strip()) or (name in DATASETS and ":" not in name):
        return name
    raise UnknownDatasetError(f"unknown dataset {spec!r}; use one of: {', '.join(DATASETS)}")


@dataclass
class ImageSet:
    """Clean images: one (N, C, H, W) tensor when all share a size, else a list of (C, H, W) tensors."""

    name: str
    images: torch.Tensor | list[torch.Tensor]
    max_value: float  # 255 for uint8 storage, 65535 for uint16, 1 for float
    index: np.ndarray  # position of each image within its split (seeds evaluation noise)
    files: list[str] | None = field(default=None)
    unit_map: UnitMap | None = None  # how a folder of float images in counts was brought onto [0, 1]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return int(self.images[0].shape[0])

    @property
    def stacked(self) -> bool:
        return isinstance(self.images, torch.Tensor)

    @property
    def sizes(self) -> list[tuple[int, int]]:
        if self.stacked:
            return [tuple(self.images.shape[-2:])] * len(self)
        return [tuple(im.shape[-2:]) for im in self.images]

    def batch(self, idx) -> torch.Tensor:
        """Float (N, C, H, W) batch on the [0, 1] scale for a stacked set (idx: tensor or slice)."""
        if not self.stacked:
            raise TypeError(f"{self.name}: images differ in size; take them one at a time with image(i)")
        return self.images[idx].float().div_(self.max_value)

    def image(self, i: int) -> torch.Tensor:
        """Image i as a float (1, C, H, W) tensor on the [0, 1] scale."""
        return self.images[i][None].float().div_(self.max_value)

    def chunks(self, size: int) -> list[list[int]]:
        """Indices in groups that stack: runs of ``size`` for a stacked set, one by one otherwise."""
        n = len(self)
        if self.stacked:
            return [list(range(i, min(i + size, n))) for i in range(0, n, size)]
        return [[i] for i in range(n)]

    def take(self, idx: list[int], dtype=torch.float32) -> torch.Tensor:
        """Images ``idx`` (one group of :meth:`chunks`) as a (N, C, H, W) tensor on the [0, 1] scale,
        converted straight from the stored values (``k / 255`` exactly in float64 for 8-bit data)."""
        stored = self.images[idx] if self.stacked else torch.stack([self.images[i] for i in idx])
        return stored.to(dtype) / self.max_value

    def select(self, idx) -> ImageSet:
        idx = np.asarray(idx, dtype=np.int64)
        images = self.images[torch.from_numpy(idx).to(self.images.device)] if self.stacked else [
            self.images[i] for i in idx]
        files = [self.files[i] for i in idx] if self.files else None
        return replace(self, images=images, index=self.index[idx], files=files)

    def to(self, device) -> ImageSet:
        images = self.images.to(device) if self.stacked else [im.to(device) for im in self.images]
        return replace(self, images=images)

    def split(self, val_fraction: float, *, seed: int) -> tuple[ImageSet, ImageSet]:
        """Random train/validation split, fixed by ``seed``."""
        n = len(self)
        n_val = int(round(n * val_fraction))
        if val_fraction > 0 and n_val == 0:
            n_val = 1
        if n - n_val < 1:
            raise DatasetError(f"{self.name}: {n} image(s) are too few to split off {val_fraction:.0%} for "
                               "validation; add images or lower --val-fraction")
        perm = np.random.default_rng(seed).permutation(n)
        return self.select(np.sort(perm[n_val:])), self.select(np.sort(perm[:n_val]))


def default_data_root() -> Path:
    """``$NOISEFREE_DATA`` or ``./data``: where torchvision datasets are looked for and downloaded."""
    return Path(os.environ.get("NOISEFREE_DATA", "data"))


def parse_subset(subset: str | None, n: int) -> slice:
    """``"START:STOP"`` or ``"START:STOP:STEP"`` (Python slice syntax, ends optional) to a slice of a split
    of n images; a step keeps every STEP-th image (an evenly spread sample)."""
    if not subset:
        return slice(0, n)
    parts = str(subset).split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        start, stop, step = (parts + [""])[:3]
        sl = slice(int(start) if start else 0, int(stop) if stop else n, int(step) if step else 1)
        if sl.step < 1:
            raise ValueError
    except ValueError:
        raise DatasetError(f"bad subset {subset!r}: expected START:STOP or START:STOP:STEP, e.g. 0:8000") from None
    lo, hi, step = sl.indices(n)
    if hi <= lo:
        raise DatasetError(f"subset {subset!r} selects no images from a split of {n}")
    return slice(lo, hi, step)


def load_dataset(spec: str, *, split: str = "train", root=None, download: bool = False,
                 resize: int | None = None, subset: str | None = None, grayscale: bool = False,
                 axes: str | None = None, unit_map: UnitMap | None = None) -> ImageSet:
    """Load dataset ``spec`` (see the module docstring) as an :class:`ImageSet`.

    ``split`` is 'train' or 'test' (folders have one split: all their images); ``subset`` keeps images
    START:STOP of the split; ``resize`` makes every image S x S (antialiased bilinear); ``grayscale``
    turns RGB images gray (ITU-R 601 luma). TIFF stacks in a folder give one image per plane (``axes``: their
    axis order when the files do not record it; see :mod:`noisefree.stacks`). A folder of float images in
    other units than [0, 1] (microscopy in counts) is brought onto it by one scale for the whole folder
    (:func:`noisefree.intensity.shared_map`; ``unit_map`` imposes another's, as for the second folder of
    Noise2Noise pairs), with NaN pixels filled from their neighbours.
    """
    if split not in ("train", "test"):
        raise DatasetError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root) if root else default_data_root()
    name = check_dataset_spec(spec)
    if name.startswith("folder:"):
        data = _load_folder(Path(name[len("folder:"):]).expanduser(), axes, unit_map)
    elif name == "digits":
        data = _load_digits(split)
    elif name in ("mnist", "fashion-mnist"):
        data = _load_mnist_like(name, split, root, download)
    else:
        data = _load_cifar10(split, root, download)
    data = data.select(np.arange(len(data))[parse_subset(subset, len(data))])
    if grayscale and data.channels == 3:
        data = _to_gray(data)
    if resize:
        data = _resize(data, int(resize))
    return data


def _from_uint8_nhw(name: str, arr) -> ImageSet:
    t = torch.as_tensor(np.asarray(arr))
    t = t[:, None] if t.ndim == 3 else t.permute(0, 3, 1, 2)  # N,H,W -> N,1,H,W ; N,H,W,C -> N,C,H,W
    return ImageSet(name, t.contiguous(), 255.0, np.arange(len(t)))


def _load_digits(split: str) -> ImageSet:
    with resources.files("noisefree").joinpath("assets/digits.npz").open("rb") as f:
        images = np.load(f)["images"]
    part = images[:4000] if split == "train" else images[4000:]
    data = _from_uint8_nhw("digits", part)
    if split == "test":
        data.index = np.arange(4000, 5000)
    return data


_MNIST_FOLDERS = {"mnist": ("mnist", "MNIST/raw", "MNIST"), "fashion-mnist": (
    "fashion-mnist", "FashionMNIST/raw", "FashionMNIST")}


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


def _load_mnist_like(name: str, split: str, root: Path, download: bool) -> ImageSet:
    prefix = "train" if split == "train" else "t10k"
    fname = f"{prefix}-images-idx3-ubyte"
    for sub in ("", *_MNIST_FOLDERS[name]):
        for candidate in (root / sub / fname, root / sub / (fname + ".gz")):
            if candidate.is_file():
                return _from_uint8_nhw(name, _read_idx(candidate))
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    try:
        ds = cls(str(root), train=(split == "train"), download=download)
    except Exception as exc:
        raise DatasetError(_missing_message(name, root, f"{_MNIST_FOLDERS[name][1]}/{fname}[.gz]", exc)) from exc
    return _from_uint8_nhw(name, ds.data.numpy())


def _load_cifar10(split: str, root: Path, download: bool) -> ImageSet:
    from torchvision import datasets

    try:
        ds = datasets.CIFAR10(str(root), train=(split == "train"), download=download)
    except Exception as exc:
        raise DatasetError(_missing_message("cifar10", root, "cifar-10-batches-py/", exc)) from exc
    return _from_uint8_nhw("cifar10", ds.data)


def _missing_message(name: str, root: Path, files: str, exc: Exception) -> str:
    return (f"dataset {name!r} not found under {root.resolve()} (expected {files}): {exc}. "
            f"Run again with --download on a machine with internet access, or copy the files there and "
            f"pass --data-root. Offline, try --dataset digits (embedded) or folder:PATH.")


def _what_was_done(mapping: UnitMap, holes: int) -> str:
    parts = [f"float values divided by {mapping.scale:.4g} onto [0, 1] (one scale for the folder, as "
             "`noisefree denoise` scales each file)"] if mapping.rescaled else []
    return "; ".join(parts + ([f"{holes} NaN/inf pixel(s) filled from their neighbours"] if holes else []))


def _load_folder(path: Path, axes: str | None = None, unit_map: UnitMap | None = None) -> ImageSet:
    if is_stack(path, axes=axes):  # one stack: its planes
        files = [path]
    elif not path.is_dir():
        raise DatasetError(f"folder dataset {path}: no such folder (or TIFF stack)")
    else:
        files = find_images([path])
    if not files:
        raise DatasetError(f"folder dataset {path}: no image files (.png .jpg .bmp .tif) found in it")
    arrays, depths, names = [], [], []
    for f in files:
        if is_stack(f, axes=axes):  # every plane of a stack is one image
            planes, info = read_stack(f, axes=axes)
            arrays += list(planes)
            depths += [info.max_value] * len(planes)
            names += [f"{f}[{k}]" for k in range(len(planes))] if len(planes) > 1 else [str(f)]
        else:
            image, info = read_image(f)
            arrays.append(image)
            depths.append(info.max_value)
            names.append(str(f))
    mapping = unit_map or shared_map(arrays)
    holes = sum(int((~np.isfinite(a)).sum()) for a in arrays if a.dtype.kind == "f")
    if mapping.rescaled or holes:
        arrays = [to_unit(a, name=n, scale_of=mapping)[0] for a, n in zip(arrays, names)]
        warnings.warn(f"folder dataset {path}: {_what_was_done(mapping, holes)}", UserWarning, stacklevel=3)
    depth = max(depths)
    color = any(a.ndim == 3 for a in arrays)
    tensors = []
    for a in arrays:
        t = torch.from_numpy(a)
        t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
        if color and t.shape[0] == 1:
            t = t.expand(3, -1, -1)
        tensors.append(t.contiguous())
    # keep 8-bit data as uint8 (exact: values are k/255), wider data as float
    if depth == 255.0:
        tensors = [torch.round(t * 255).to(torch.uint8) for t in tensors]
        max_value = 255.0
    else:
        max_value = 1.0
    images = torch.stack(tensors) if len({t.shape for t in tensors}) == 1 else tensors
    return ImageSet(f"folder:{path}", images, max_value, np.arange(len(names)), names,
                    mapping if mapping.rescaled else None)


def _to_gray(data: ImageSet) -> ImageSet:
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)

    def gray(t):  # t: (N, 3, H, W) float on [0, 1]
        return (t * w.to(t.device)).sum(1, keepdim=True)

    if data.stacked:
        images = gray(data.batch(slice(None)))
    else:
        images = [gray(data.image(i))[0] for i in range(len(data))]
    return ImageSet(data.name, images, 1.0, data.index, data.files)


def _resize(data: ImageSet, size: int) -> ImageSet:
    def rs(t):
        return F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)

    if data.stacked:
        images = torch.cat([rs(data.batch(slice(i, i + 4096))) for i in range(0, len(data), 4096)])
    else:
        images = torch.cat([rs(data.image(i)) for i in range(len(data))])
    return ImageSet(data.name, images.clamp_(0, 1), 1.0, data.index, data.files)
