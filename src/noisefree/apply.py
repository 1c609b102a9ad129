"""Apply a denoiser to image files and folders, writing results in the input's bit depth and channels.

A file that cannot be read or denoised is reported by name and skipped; the others finish. Existing outputs
are never replaced unless asked, so nothing already done is lost. TIFF stacks (volumes, time series) are
denoised plane by plane, in batches, and written back with the same shape, dtype and axis order
(:mod:`noisefree.stacks`). Float files in other units than [0, 1], or with NaN pixels, are mapped onto [0, 1]
for the denoiser and back (:mod:`noisefree.intensity`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .denoiser import Denoiser
from .intensity import to_unit
from .io import IMAGE_SUFFIXES, SUFFIX_OF_KIND, WRITE_SUFFIXES, find_images, image_kind, read_image, write_image
from .noise import denoising_sigma
from .stacks import is_stack, read_stack, write_stack

__all__ = ["ApplyReport", "denoise_files", "denoise_jobs", "find_jobs", "output_for", "plan_outputs", "unique_outputs"]


@dataclass
class ApplyReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def find_jobs(inputs, out_dir) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """(input, output) pairs for ``inputs`` (files, or folders searched recursively; files from a folder keep
    their path relative to it, and those inside ``out_dir`` are outputs, not inputs), and the inputs that give
    nothing to do, with the reason."""
    out_dir = Path(out_dir)
    jobs, problems = [], []
    for item in map(Path, inputs):
        if item.is_dir():  # `noisefree denoise .` run twice must not denoise ./denoised/ again
            files = [f for f in find_images([item]) if not f.resolve().is_relative_to(out_dir.resolve())]
            if not files:
                problems.append((item, f"{item}: a folder with no image files ({' '.join(IMAGE_SUFFIXES)}) in it"))
            jobs += [(f, out_dir / f.relative_to(item)) for f in files]
        elif item.is_file():
            jobs.append((item, out_dir / item.name))
        else:
            problems.append((item, f"{item}: no such file or folder"))
    return jobs, problems


def denoise_jobs(denoiser: Denoiser, jobs, *, sigma: float | None = None, dtype: str | None = None,
                 overwrite: bool = False, on_file=None, axes: str | None = None) -> ApplyReport:
    """Denoise each (input, output) pair of :func:`find_jobs`. An output whose name has no writable image
    suffix gets the input's format (``scan`` holding PNG -> ``scan.png``); GIF results are written as PNG and
    ``dtype="float32"`` as TIFF. Stacks are denoised plane by plane (``axes``: their axis order when the
    files do not record it). ``on_file(path, error_or_None, sigma, mapping)`` is called after each file;
    ``sigma`` is the noise std estimated from the image for a method that takes one when none was given (else
    None), in the file's units (the [0, 1] scale for integer files), and ``mapping`` the
    :class:`~noisefree.intensity.UnitMap` that brought a float image's values onto [0, 1] (None on failure).
    The ``sigma`` given is on the [0, 1] scale for 8- and 16-bit files and in the file's own units for float ones."""
    report = ApplyReport()
    for src, dst in zip([src for src, _ in jobs], plan_outputs(jobs, dtype=dtype, axes=axes)):
        try:
            if dst.exists() and src.resolve() == dst.resolve():
                raise ValueError(f"output {dst} would overwrite its input; choose another -o folder")
            if is_stack(src, axes=axes):
                written, mapping = _denoise_stack(denoiser, src, dst, sigma=sigma, dtype=dtype,
                                                  overwrite=overwrite, axes=axes)
                report.written.append(written)
                if on_file is not None:
                    on_file(src, None, None, mapping)
                continue
            image, info = read_image(src)
            if dst.exists() and not overwrite:
                raise FileExistsError(f"{dst} exists; pass --overwrite to replace it")
            _check_sigma(sigma, info.dtype, src)
            unit, mapping = to_unit(image, name=str(src))
            estimated = denoising_sigma(unit) if sigma is None and denoiser.takes_sigma else None
            out = denoiser(unit, sigma=mapping.sigma_to_unit(sigma) if estimated is None else estimated)
            report.written.append(write_image(dst, mapping.back(out), info, dtype=dtype))
            error, estimated = None, mapping.sigma_from_unit(estimated)
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            error, estimated, mapping = (str(exc) if str(src) in str(exc) else f"{src}: {exc}"), None, None
            report.failed.append((src, error))
        if on_file is not None:
            on_file(src, error, estimated, mapping)
    return report


def denoise_files(denoiser: Denoiser, inputs, out_dir, *, sigma: float | None = None, dtype: str | None = None,
                  overwrite: bool = False, on_file=None, axes: str | None = None) -> ApplyReport:
    """Denoise every image in ``inputs`` (files, or folders searched recursively) into ``out_dir``.

    ``dtype`` ('uint8', 'uint16', 'float32') overrides the input's bit depth. Inputs that give nothing to do
    (missing, an empty folder) are reported as failed."""
    jobs, problems = find_jobs(inputs, out_dir)
    report = denoise_jobs(denoiser, jobs, sigma=sigma, dtype=dtype, overwrite=overwrite, on_file=on_file,
                          axes=axes)
    for path, why in problems:
        report.failed.append((path, why))
        if on_file is not None:
            on_file(path, why, None, None)
    return report


def _check_sigma(sigma, dtype: str, src: Path) -> None:
    if sigma is not None and dtype != "float32" and not 0 <= sigma <= 1:
        raise ValueError(f"{src}: sigma {sigma:g} is on the [0, 1] scale for a {dtype} file (0 to 1); for "
                         f"{sigma:g} on the 8-bit scale give {sigma / 255:.4g}")


def _denoise_stack(denoiser: Denoiser, src: Path, dst: Path, *, sigma, dtype, overwrite, axes,
                   planes_per_call: int = 16):
    """One TIFF stack, plane by plane in batches of ``planes_per_call``, written back in its own layout; the
    path written and the :class:`~noisefree.intensity.UnitMap` of its values (one for the whole stack)."""
    if dtype not in (None, "uint8", "uint16", "float32"):
        raise ValueError(f"dtype {dtype!r}: use uint8, uint16 or float32")
    planes, info = read_stack(src, axes=axes)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; pass --overwrite to replace it")
    _check_sigma(sigma, info.dtype, src)
    planes, mapping = to_unit(planes, planes=True, name=str(src))
    unit_sigma = mapping.sigma_to_unit(sigma)
    out = np.empty_like(planes)
    for start in range(0, len(planes), planes_per_call):
        chunk = list(planes[start:start + planes_per_call])  # a list: one batched call per chunk
        out[start:start + len(chunk)] = np.stack(denoiser(chunk, sigma=unit_sigma))
    return write_stack(dst, mapping.back(out), info, dtype=dtype), mapping


def plan_outputs(jobs, *, dtype: str | None = None, axes: str | None = None) -> list[Path]:
    """The file each (input, output) pair of :func:`find_jobs` is written to: :func:`output_for` each, made
    unique by :func:`unique_outputs`. Planning an already planned list changes nothing."""
    return unique_outputs(jobs, [output_for(src, dst, dtype=dtype, axes=axes) for src, dst in jobs])


def output_for(src, dst, *, dtype: str | None = None, axes: str | None = None) -> Path:
    """The file ``src``'s result goes to when no other input claims it: ``dst`` named with a suffix that can
    hold the result (see :func:`_output_path`; stacks: .tif), from the file's first bytes."""
    dst = Path(dst)
    try:
        kind = image_kind(src) if Path(src).is_file() else None
        stack = kind == "tiff" and is_stack(src, axes=axes)
    except Exception:  # unreadable: reading it reports why
        kind = None
    if kind is None:
        return dst
    if stack:
        return dst if dst.suffix.lower() in (".tif", ".tiff") else dst.with_suffix(".tif")
    return _output_path(dst, SUFFIX_OF_KIND[kind], dtype)


def unique_outputs(jobs, outputs: list[Path]) -> list[Path]:
    """``outputs`` (one per job) with no file named twice. Where two inputs would land on one file (``a.png``
    and ``a.gif``, both written as PNG; ``a.png`` and ``a.jpg`` with ``dtype="float32"``), the one whose own
    name it is keeps it and the others gain their suffix (``a_gif.png``; all of them when none owns it), so
    no result replaces another."""
    planned = list(outputs)
    groups: dict[Path, list[int]] = {}
    for i, path in enumerate(planned):
        groups.setdefault(path.resolve(), []).append(i)
    taken = set(groups)
    for members in groups.values():
        if len(members) == 1:
            continue
        owner = [i for i in members if planned[i] == Path(jobs[i][1])][:1]  # the input named as the output
        for i in members:
            if i in owner:
                continue
            path, tag = planned[i], Path(jobs[i][0]).suffix.lstrip(".").lower() or "file"
            k, candidate = 1, path.with_name(f"{path.stem}_{tag}{path.suffix}")
            while candidate.resolve() in taken:
                k += 1
                candidate = path.with_name(f"{path.stem}_{tag}{k}{path.suffix}")
            planned[i] = candidate
            taken.add(candidate.resolve())
    return planned


def _output_path(dst: Path, read_format: str, dtype: str | None) -> Path:
    """``dst`` with a suffix that can hold the result: .tif for float32, else its own if writable, else the
    input's format (PNG where that cannot be written). An image suffix is replaced; any other name gains one."""
    suffix = dst.suffix.lower()
    if dtype == "float32":
        want = suffix if suffix in (".tif", ".tiff") else ".tif"
    elif suffix in WRITE_SUFFIXES:
        return dst
    else:
        want = read_format if read_format in WRITE_SUFFIXES else ".png"
    return dst.with_suffix(want) if suffix in IMAGE_SUFFIXES else dst.with_name(dst.name + want)
