"""Apply a denoiser to image files and folders, writing results in the input's bit depth and channels.

A file that cannot be read or denoised is reported by name and skipped; the others finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .denoiser import Denoiser
from .io import find_images, read_image, write_image

__all__ = ["ApplyReport", "denoise_files"]


@dataclass
class ApplyReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def denoise_files(denoiser: Denoiser, inputs, out_dir, *, sigma: float | None = None, dtype: str | None = None,
                  overwrite: bool = False, on_file=None) -> ApplyReport:
    """Denoise every image in ``inputs`` (files, or folders searched recursively) into ``out_dir``.

    Files from a folder keep their path relative to it. ``dtype`` ('uint8', 'uint16', 'float32') overrides
    the input's bit depth. An existing output is refused unless ``overwrite``, so nothing done is lost.
    ``on_file(path, error_or_None)`` is called after each file.
    """
    out_dir = Path(out_dir)
    jobs: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            jobs += [(f, out_dir / f.relative_to(item)) for f in find_images([item])]
        else:
            jobs.append((item, out_dir / item.name))
    report = ApplyReport()
    for src, dst in jobs:
        try:
            if src.resolve() == dst.resolve():
                raise ValueError(f"output {dst} would overwrite its input; choose another -o folder")
            if dst.exists() and not overwrite:
                raise FileExistsError(f"{dst} exists; pass --overwrite to replace it")
            image, info = read_image(src)
            out = denoiser(image, sigma=sigma)
            if dtype == "float32" and dst.suffix.lower() not in (".tif", ".tiff"):
                dst = dst.with_suffix(".tif")
            report.written.append(write_image(dst, out, info, dtype=dtype))
            error = None
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            error = str(exc) if str(src) in str(exc) else f"{src}: {exc}"
            report.failed.append((src, error))
        if on_file is not None:
            on_file(src, error)
    return report
