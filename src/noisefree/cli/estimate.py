"""``noisefree estimate``: how noisy an image is, from the image alone."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from .common import err, friendly, out, tagged


@friendly
def estimate(
    images: list[Path] = typer.Argument(..., help="image files or folders"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    axes: str | None = typer.Option(None, help="axis order of TIFF stacks whose files do not record it (e.g. ZYX)"),
    method: str = typer.Option("weak-texture", help="σ estimator: weak-texture (the noise where the image has no "
                               "texture) or wavelet (Donoho & Johnstone's, which reads fine texture as noise)"),
):
    """Estimate each image's noise: the Gaussian σ (8-bit and [0, 1] scales) and the Poisson-Gaussian
    parameters a, b (noise variance a·x + b at intensity x on the [0, 1] scale). A TIFF stack gets one row: the
    median over up to 8 evenly spaced planes."""
    import numpy as np

    from ..intensity import to_unit
    from ..io import find_images, read_image
    from ..noise import estimate_noise_sigma, estimate_poisson_gaussian
    from ..noise.estimate import ESTIMATORS
    from ..stacks import is_stack, read_stack

    if method not in ESTIMATORS:
        raise ValueError(f"--method {method!r}: choose one of {', '.join(ESTIMATORS)}")

    rows = []
    for path in find_images(images):
        try:
            if is_stack(path, axes=axes):
                stack, info = read_stack(path, axes=axes)
                stack, mapping = to_unit(stack, planes=True, name=str(path))  # one mapping for the stack
                planes = [stack[k] for k in np.unique(np.linspace(0, len(stack) - 1, 8).astype(int))]
                label = f"{path} ({len(stack)} planes)"
            else:
                image, info = read_image(path)
                image, mapping = to_unit(image, name=str(path))  # counts onto [0, 1], NaNs filled
                planes, label = [image], str(path)
            sigma = float(np.median([estimate_noise_sigma(p, method=method) for p in planes]))
        except (ValueError, OSError) as exc:
            err.print(tagged("skipped", "red", str(exc) if str(path) in str(exc) else f"{path}: {exc}"),
                      highlight=False)
            continue
        try:  # a, b need more flat image than sigma: an image too small for them keeps its sigma
            a, b = np.median([estimate_poisson_gaussian(p) for p in planes], axis=0).tolist()
        except ValueError as exc:
            err.print(tagged("warning:", "yellow", f"{label}: no Poisson-Gaussian a, b: {exc}"), highlight=False)
            a = b = None
        unit = not mapping.rescaled  # float files in counts: their own units, no 8-bit columns
        if not unit:  # variance a u + b at u = x / scale is (scale a) x + scale^2 b in file units
            sigma *= mapping.scale
            if a is not None:
                a, b = mapping.scale * a, mapping.scale ** 2 * b
        rows.append({"file": label, "bits": info.dtype, "sigma": sigma, "sigma_8bit": sigma * 255 if unit else None,
                     "a": a, "b": b, "read_noise_8bit": None if b is None or not unit else b ** 0.5 * 255})
    if not rows and not as_json:
        err.print(tagged("error:", "bold red", "no image could be read; nothing estimated"), highlight=False)
        raise typer.Exit(1)
    if as_json:
        out.print_json(json.dumps(rows))
    else:
        table = Table(title="noise estimated from each image alone")
        for col in ("file", "σ (8-bit)", "σ [0, 1]", "a", "b", "√b (8-bit)"):
            table.add_column(col, overflow="fold", justify="left" if col == "file" else "right")
        for r in rows:
            eight = "—" if r["sigma_8bit"] is None else f"{r['sigma_8bit']:.2f}"
            root_b = "—" if r["read_noise_8bit"] is None else f"{r['read_noise_8bit']:.2f}"
            fit = ("—",) * 3 if r["a"] is None else (f"{r['a']:.3g}", f"{r['b']:.3g}", root_b)
            table.add_row(r["file"], eight, f"{r['sigma']:.4g}", *fit)
        out.print(table)
        how = ("measured where the image has no texture (after Liu, Tanaka & Okutomi 2013)" if method == "weak-texture"
               else "wavelet median-absolute-deviation estimate (Donoho & Johnstone 1994)")
        out.print(f"σ: white Gaussian noise, {how}. a, b: Poisson-Gaussian fit, variance a·x + b on the [0, 1] "
                  "scale (after Foi et al. 2008): a is about 1 / (photons at full scale), √b the read-noise std. "
                  "Both assume noise independent from pixel to pixel." + (
                      " Float files off the [0, 1] scale (counts): σ, a and b in the file's own units, no 8-bit "
                      "columns." if any(r["sigma_8bit"] is None for r in rows) else ""), highlight=False)
    if not rows:
        raise typer.Exit(1)
