"""Image files in and out: 8- and 16-bit PNG and TIFF, JPEG, BMP, float TIFF; gray, RGB, RGBA; GIF and WebP
are read too. Files are decoded by their content, not their name (a JPEG named ``.png`` is read, with a
warning). One image per file: multi-page TIFF stacks and animated GIFs are refused with a message.

:func:`read_image` returns a float32 array on the [0, 1] scale (H x W for gray, H x W x 3 for color) and an
:class:`ImageInfo` that remembers what the file was (bit depth, alpha channel, format), so
:func:`write_image` can write the result back in the same form. EXIF orientation is applied on reading.
Alpha is split off and passed through untouched; float TIFF values are kept as they are (no scaling).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["IMAGE_SUFFIXES", "WRITE_SUFFIXES", "ImageInfo", "ImageReadError", "find_images", "image_kind",
           "read_image", "write_image"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")  # read (and searched for)
WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")  # written
_KIND_OF_SUFFIX = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp", ".tif": "tiff", ".tiff": "tiff",
                   ".gif": "gif", ".webp": "webp"}
SUFFIX_OF_KIND = {"png": ".png", "jpeg": ".jpg", "bmp": ".bmp", "tiff": ".tif", "gif": ".gif", "webp": ".webp"}
_SUPPORTED = ("one 2-D image per file: PNG, JPEG, TIFF, BMP, GIF or WebP; gray, RGB, with or without alpha; "
              "8- or 16-bit, or float TIFF")


class ImageReadError(ValueError):
    """A file that is not an image noisefree can read; the message names the file."""


@dataclass
class ImageInfo:
    """What an image file held: ``dtype`` is 'uint8', 'uint16' or 'float32'."""

    dtype: str
    channels: int  # colour channels, alpha excluded: 1 or 3
    alpha: np.ndarray | None = None  # the untouched alpha channel, in the file's dtype
    format: str = ""
    icc_profile: bytes | None = None  # the colour profile (e.g. Display P3), written back where it fits
    exif: bytes | None = None  # camera, date, ...; orientation reset, as the pixels are turned upright
    dpi: tuple[float, float] | None = None

    @property
    def max_value(self) -> float:
        return {"uint8": 255.0, "uint16": 65535.0}.get(self.dtype, 1.0)


def find_images(paths, *, recursive: bool = True) -> list[Path]:
    """Image files among ``paths`` (files, or folders searched recursively), in sorted order."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            found += sorted(f for f in p.glob(pattern) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        elif p.exists():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return found


def image_kind(path) -> str | None:
    """The image format a file holds, from its first bytes: png, jpeg, tiff, bmp, gif, webp; None otherwise."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def read_image(path) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file as float32 on the [0, 1] scale: (H, W) gray or (H, W, 3) color."""
    path = Path(path)
    if path.is_dir():
        raise ImageReadError(f"{path}: a folder, not an image file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    kind = image_kind(path)
    if kind is None:
        raise ImageReadError(f"{path}: not an image file noisefree can read ({_SUPPORTED})")
    named = _KIND_OF_SUFFIX.get(path.suffix.lower())
    if named is not None and named != kind:
        warnings.warn(f"{path}: holds {kind.upper()} data although its name ends in {path.suffix}; read as "
                      f"{kind.upper()}", UserWarning, stacklevel=2)
    meta: dict = {}
    try:
        if kind == "tiff":
            arr = _read_tiff(path, meta)
        elif kind == "png" and _png_bit_depth(path) == 16:
            arr = _read_png16(path)
            _pillow_metadata(path, meta)
        else:
            arr = _read_pillow(path, meta)
    except ImageReadError:
        raise
    except Exception as exc:  # Pillow/tifffile raise many kinds; name the file either way
        raise ImageReadError(f"{path}: cannot read it as {kind.upper()} ({type(exc).__name__}: {exc})") from exc
    image, info = _split(arr, path)
    info.format = SUFFIX_OF_KIND[kind]
    info.icc_profile, info.exif, info.dpi = meta.get("icc_profile"), meta.get("exif"), meta.get("dpi")
    return image, info


def _split(arr: np.ndarray, path: Path) -> tuple[np.ndarray, ImageInfo]:
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (2, 3, 4)):
        what = (f"{arr.shape[0]} planes of {arr.shape[1]}x{arr.shape[2]} (a stack?)" if arr.ndim == 3 else
                f"an array of shape {arr.shape}")
        raise ImageReadError(f"{path}: holds {what}; read_image reads {_SUPPORTED}. TIFF stacks (3-D, time "
                             "series) are read plane by plane by noisefree.stacks.read_stack, `noisefree denoise` "
                             "and folder datasets (--axes ZYX etc. when the file does not record its axes)")
    if arr.dtype == np.uint8:
        dtype, scale = "uint8", 255.0
    elif arr.dtype == np.uint16:
        dtype, scale = "uint16", 65535.0
    elif arr.dtype.kind == "f":
        dtype, scale = "float32", 1.0
    else:
        raise ImageReadError(f"{path}: unsupported pixel type {arr.dtype}; use 8/16-bit integers or float")
    alpha = None
    if arr.ndim == 3 and arr.shape[-1] in (2, 4):  # gray+alpha or RGBA
        arr, alpha = arr[..., :-1], arr[..., -1].copy()
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    image = arr.astype(np.float32) / np.float32(scale)
    channels = 1 if image.ndim == 2 else 3
    return image, ImageInfo(dtype=dtype, channels=channels, alpha=alpha, format=path.suffix.lower())


def _keep_metadata(im, meta: dict) -> None:
    """The colour profile, EXIF (of an upright image) and resolution of a Pillow image, into ``meta``."""
    meta["icc_profile"] = im.info.get("icc_profile") or None
    exif = im.getexif()
    meta["exif"] = exif.tobytes() if len(exif) else None
    dpi = im.info.get("dpi")
    meta["dpi"] = (float(dpi[0]), float(dpi[1])) if dpi else None


def _pillow_metadata(path: Path, meta: dict) -> None:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        _keep_metadata(ImageOps.exif_transpose(im), meta)


def _read_pillow(path: Path, meta: dict) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            raise ImageReadError(f"{path}: an animated/multi-frame {im.format} of {frames} frames; noisefree reads "
                                 f"{_SUPPORTED}. Save the frames as separate files")
        im = ImageOps.exif_transpose(im)
        _keep_metadata(im, meta)
        if im.mode in ("I;16", "I;16B", "I;16L"):
            return np.asarray(im, dtype=np.uint16)
        if im.mode in ("I", "F"):
            return np.asarray(im, dtype=np.float32) / (65535.0 if im.mode == "I" else 1.0)
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            alpha = "A" in im.getbands() or "transparency" in im.info
            arr = np.asarray(im.convert("RGBA" if alpha else "RGB"))
            gray = np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])
            return np.dstack([arr[..., :1], arr[..., 3:]]) if gray else arr  # a gray palette stays gray
        return np.asarray(im)


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26:
        raise ImageReadError(f"{path}: a PNG file cut short (no image header)")
    return head[24]


def _read_png16(path: Path) -> np.ndarray:
    import png  # pypng: Pillow reduces 16-bit color PNG to 8 bits, pypng keeps all 16

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(height, width, info["planes"])
    return arr


def _read_tiff(path: Path, meta: dict) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        pages = len(tif.pages)
        if pages > 1:
            raise ImageReadError(f"{path}: a multi-page TIFF of {pages} pages (a stack); read_image reads "
                                 f"{_SUPPORTED}. Read stacks with noisefree.stacks.read_stack; `noisefree denoise` "
                                 "and folder datasets take them plane by plane")
        arr = tif.asarray()
        icc = tif.pages[0].tags.get(34675)  # InterColorProfile
        meta["icc_profile"] = bytes(icc.value) if icc is not None else None
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (1, 3, 4):  # planar C x H x W
        arr = np.moveaxis(arr, 0, -1)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    return arr


def write_image(path, image: np.ndarray, info: ImageInfo | None = None, *, dtype: str | None = None) -> Path:
    """Write a float image on the [0, 1] scale in ``dtype`` (default: the input file's, from ``info``).

    Integer outputs are clipped to [0, 1] and rounded; float TIFF is written unscaled. The alpha channel
    of ``info`` is re-attached untouched, and its colour profile (where the format holds one and it fits the
    output's channels), EXIF and resolution go with it. JPEG cannot hold 16 bits: a 16-bit result for a .jpg
    is refused.
    """
    path = Path(path)
    dtype = dtype or (info.dtype if info else "uint8")
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise ValueError(f"{path}: cannot write {suffix or 'a file without extension'}; name it with one of "
                         f"{', '.join(WRITE_SUFFIXES)}")
    if dtype == "float32" and suffix not in (".tif", ".tiff"):
        raise ValueError(f"{path}: float output needs a .tif/.tiff file name")
    if dtype == "uint16" and suffix in (".jpg", ".jpeg", ".bmp"):
        raise ValueError(f"{path}: {suffix} cannot hold 16-bit pixels; write .png or .tif instead")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if dtype == "float32":
        out = image.astype(np.float32)
    else:
        top = 255 if dtype == "uint8" else 65535
        scaled = np.clip(image, 0.0, 1.0)  # one float temporary, then in place: big images stay affordable
        scaled *= top
        out = np.rint(scaled, out=scaled).astype(np.uint8 if top == 255 else np.uint16)
        del scaled
    if info is not None and info.alpha is not None:
        alpha = info.alpha.astype(out.dtype) if dtype != "float32" else info.alpha / np.float32(info.max_value)
        out = np.dstack([out if out.ndim == 3 else out[..., None], alpha])
    path.parent.mkdir(parents=True, exist_ok=True)
    color = out.ndim == 3 and out.shape[-1] >= 3
    icc = _fitting_profile(info.icc_profile if info is not None else None, color)
    if suffix in (".tif", ".tiff"):
        import tifffile

        extrasamples = ["unassalpha"] if out.ndim == 3 and out.shape[-1] in (2, 4) else None
        tifffile.imwrite(path, out, photometric="rgb" if color else "minisblack", extrasamples=extrasamples,
                         iccprofile=icc)
    elif out.dtype == np.uint16:
        import png

        planes = 1 if out.ndim == 2 else out.shape[-1]
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[planes] + ";16"
        png.from_array(out.reshape(out.shape[0], -1), mode).save(str(path))
        if icc is not None:
            _add_png_profile(path, icc)
    else:
        from PIL import Image

        options = {".jpg": {"quality": 95}, ".jpeg": {"quality": 95}, ".webp": {"lossless": True}}.get(suffix, {})
        if info is not None and suffix != ".bmp":
            options.update({k: v for k, v in (("icc_profile", icc), ("exif", info.exif), ("dpi", info.dpi))
                            if v is not None and not (k == "dpi" and suffix == ".webp")})
        Image.fromarray(out).save(path, **options)
    return path


def _fitting_profile(icc: bytes | None, color: bool) -> bytes | None:
    """``icc`` when its colour space fits the output (RGB for colour, gray for gray): a CMYK photo's profile
    does not describe the RGB result."""
    if not icc or len(icc) < 20:
        return None
    return icc if icc[16:20] == (b"RGB " if color else b"GRAY") else None


def _add_png_profile(path: Path, icc: bytes) -> None:
    """Insert an iCCP chunk (the colour profile) after IHDR of a PNG written by pypng."""
    import zlib

    import png

    chunks = list(png.Reader(filename=str(path)).chunks())
    chunks.insert(1, (b"iCCP", b"icc\x00\x00" + zlib.compress(icc)))
    with open(path, "wb") as f:
        png.write_chunks(f, chunks)
