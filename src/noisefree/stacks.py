"""TIFF stacks: volumes (Z x Y x X), time series (T x Y x X) and hyperstacks, with or without colour.

noisefree denoises and trains on stacks **plane by plane** (2-D networks; there is no 3-D mode): every plane
is one image. :func:`read_stack` returns the planes as one float32 array on the [0, 1] scale, (P, H, W) or
(P, H, W, 3), and a :class:`StackInfo` that remembers the file's axis order, shape, bit depth and ImageJ
metadata, so :func:`write_stack` writes the result back with the same shape, dtype and axis order.

Axis letters (tifffile's): ``Y`` and ``X`` are the image; ``S`` of size 3 is RGB colour; every other axis
(``Z``, ``T``, ``C`` channels, ``Q``/``I`` unknown) is a plane axis. The order comes from the file (ImageJ
hyperstacks and tifffile-written files record it); when it does not, or looks wrong (images under 8 pixels
wide: planes stored last), pass it: ``axes="ZYX"``, ``--axes TYXS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import ImageReadError, image_kind

__all__ = ["StackInfo", "is_stack", "read_stack", "write_stack"]

_LETTERS = set("TZCQIYXSAE")
_DTYPES = {np.dtype(np.uint8): ("uint8", 255.0), np.dtype(np.uint16): ("uint16", 65535.0)}


@dataclass
class StackInfo:
    """What a stack file held: its ``axes`` (e.g. 'ZYX'), ``shape``, ``dtype`` ('uint8', 'uint16', 'float32')
    and whether it carried ImageJ metadata."""

    axes: str
    shape: tuple[int, ...]
    dtype: str
    imagej: bool = False

    @property
    def color(self) -> bool:
        return "S" in self.axes and self.shape[self.axes.index("S")] == 3

    @property
    def order(self) -> list[int]:
        """The file's axes rearranged as planes..., Y, X[, S]."""
        image = [self.axes.index("Y"), self.axes.index("X")] + ([self.axes.index("S")] if self.color else [])
        return [i for i in range(len(self.axes)) if i not in image] + image

    @property
    def planes(self) -> int:
        return int(np.prod([self.shape[i] for i in self.order[:len(self.axes) - 2 - self.color]], dtype=np.int64))

    @property
    def max_value(self) -> float:
        return {"uint8": 255.0, "uint16": 65535.0}.get(self.dtype, 1.0)


def is_stack(path, *, axes: str | None = None) -> bool:
    """Whether ``path`` is to be read as a stack: a TIFF holding more than one 2-D (gray or RGB) image, or any
    TIFF when the user gave its ``axes``."""
    path = Path(path)
    if not path.is_file() or image_kind(path) != "tiff":
        return False
    if axes is not None:
        return True
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape, axes = tuple(series.shape), series.axes
    inner = [a for a, n in zip(axes, shape) if a not in "YX" and not (a == "S" and n in (3, 4)) and n > 1]
    return len(inner) > 0


def read_stack(path, *, axes: str | None = None) -> tuple[np.ndarray, StackInfo]:
    """The planes of a TIFF stack as float32 on the [0, 1] scale, (P, H, W) gray or (P, H, W, 3) colour, and
    what :func:`write_stack` needs. ``axes`` overrides the order the file records (see the module docstring)."""
    import tifffile

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            arr, found, imagej = series.asarray(), series.axes, tif.is_imagej
    except Exception as exc:
        raise ImageReadError(f"{path}: cannot read it as a TIFF stack ({type(exc).__name__}: {exc})") from exc
    arr = np.squeeze(arr) if arr.ndim != len(found) else arr
    if arr.ndim != len(found):  # tifffile squeezed differently: drop its length-1 axes too
        found = "".join(a for a, n in zip(found, series.shape) if n > 1)
    given = axes is not None
    axes = _check_axes(path, (axes or found).upper(), arr.shape, given)
    if arr.dtype in _DTYPES:
        dtype, scale = _DTYPES[arr.dtype]
    elif arr.dtype.kind == "f":
        dtype, scale = "float32", 1.0
    else:
        raise ImageReadError(f"{path}: unsupported pixel type {arr.dtype} in a stack; noisefree reads 8/16-bit "
                             "unsigned integers or float (convert the stack, e.g. in Fiji)")
    info = StackInfo(axes=axes, shape=tuple(arr.shape), dtype=dtype, imagej=bool(imagej))
    planes = np.transpose(arr, info.order).reshape((info.planes, *[arr.shape[i] for i in info.order[-2 - info.color:]]))
    return planes.astype(np.float32) / np.float32(scale), info


def write_stack(path, planes: np.ndarray, info: StackInfo, *, dtype: str | None = None) -> Path:
    """Write ``planes`` ((P, H, W) or (P, H, W, 3), [0, 1] scale) back in the file layout ``info`` describes:
    same shape and axis order, in ``dtype`` (default: the input's; integers clipped and rounded)."""
    import tifffile

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"{path}: a stack is written as TIFF; name it .tif or .tiff")
    dtype = dtype or info.dtype
    planes = np.asarray(planes, dtype=np.float32)
    moved = [info.shape[i] for i in info.order]
    if planes.size != int(np.prod(moved)):
        raise ValueError(f"{path}: {planes.shape} planes do not fill a stack of shape {info.shape} ({info.axes})")
    if dtype == "float32":
        out = planes
    else:
        top = 255 if dtype == "uint8" else 65535
        out = np.rint(np.clip(planes, 0, 1) * top).astype(np.uint8 if top == 255 else np.uint16)
    arr = np.transpose(out.reshape(moved), np.argsort(info.order))
    path.parent.mkdir(parents=True, exist_ok=True)
    imagej = info.imagej and _imagej_axes(info.axes)
    tifffile.imwrite(path, arr, imagej=imagej, metadata={"axes": info.axes},
                     photometric="rgb" if info.color and info.axes.endswith("S") else "minisblack")
    return path


def _check_axes(path: Path, axes: str, shape: tuple[int, ...], given: bool) -> str:
    hint = ("; pass the order with --axes (Python: axes=), one letter per axis, e.g. ZYX, TYX, TZCYX, ZYXS "
            "(S: RGB samples)")
    if len(axes) != len(shape) or set(axes) - _LETTERS or axes.count("Y") != 1 or axes.count("X") != 1 \
            or len(set(axes.replace("Q", ""))) != len(axes.replace("Q", "")):
        what = (f"axes {axes!r} do not fit" if given else
                f"its axes {axes!r} (as recorded) do not say where the image is in")
        raise ImageReadError(f"{path}: {what} an array of shape {shape}{hint}")
    h, w = shape[axes.index("Y")], shape[axes.index("X")]
    if not given and min(h, w) < 8 and len(shape) > 2:
        raise ImageReadError(f"{path}: shape {shape} read as {axes} gives {h}x{w}-pixel images, which looks like "
                             f"planes stored last (e.g. Y x X x Z){hint}")
    return axes


def _imagej_axes(axes: str) -> bool:
    """Whether ImageJ can hold this order (a subsequence of TZCYXS)."""
    it = iter("TZCYXS")
    return all(a in it for a in axes)
