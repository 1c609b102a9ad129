"""``noisefree denoise``: image files and folders in, denoised files out in the same size, depth and channels."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import PRECISION_HELP, err, friendly, out, tagged


@friendly
def denoise(
    args: list[str] = typer.Argument(..., metavar="INPUT", help="image files or folders; the first may instead "
                                     "name the model (shipped name, run folder, checkpoint or classical method)"),
    model: str | None = typer.Option(None, "--model", "-m", help="shipped name (gray-blind, color-blind, mnist, "
                                     "cifar10), run folder, checkpoint or classical method; default: the "
                                     "shipped blind model for each image's channels"),
    output: Path = typer.Option(Path("denoised"), "-o", "--output", help="folder for the denoised images"),
    sigma: float | None = typer.Option(None, help="noise std for methods that take one, on the [0, 1] scale "
                                                   "(float TIFFs: in their own units); default: estimated "
                                                   "per image"),
    dtype: str | None = typer.Option(None, help="uint8 | uint16 | float32 (default: as the input)"),
    axes: str | None = typer.Option(None, help="axis order of TIFF stacks whose files do not record it, e.g. ZYX, "
                                    "TYX, TZCYX, ZYXS (S: RGB); stacks are denoised plane by plane"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing output files"),
    device: str | None = typer.Option(None, help="cpu | cuda | mps (default: best available)"),
    precision: str = typer.Option("float32", help=PRECISION_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
):
    """Denoise image files and folders; outputs keep the input's size, bit depth and channels. TIFF stacks
    (Z, T, channels) are denoised plane by plane and keep their shape, dtype and axis order.

    Under torchrun (`torchrun --nproc_per_node N -m noisefree denoise ...`) the files are shared out: each
    process denoises every N-th one, so each is written once; a file that fails is reported and the rest go on."""
    from ..apply import denoise_jobs, find_jobs, output_for, unique_outputs
    from ..denoiser import set_precision
    from ..devices import pick_device
    from ..distributed import from_env
    from ..progress import Progress
    from ..resolve import looks_like_method, resolve

    if dtype not in (None, "uint8", "uint16", "float32"):
        raise ValueError(f"--dtype {dtype!r}: use uint8, uint16 or float32")
    if sigma is not None and sigma < 0:
        raise ValueError(f"--sigma {sigma:g}: a noise std is 0 or more")
    if model is None:
        _refuse_misspelled_method(args[0])
        model, args = (args[0], args[1:]) if looks_like_method(args[0]) else ("auto", args)
    if not args:
        raise ValueError("no input images: noisefree denoise [MODEL] INPUT... [-o OUT]")
    if output.exists() and not output.is_dir():
        raise ValueError(f"-o {output}: a file, not a folder; name a folder for the denoised images")
    shard = from_env()  # under torchrun: this process takes every world-th file, so each is written once
    den = resolve(model, device=pick_device(device, local_rank=shard.local_rank if shard.active else None)).denoiser
    if precision != "float32":
        set_precision(den, precision)
    jobs, problems = find_jobs(args, output)
    _check_sigma_scale(sigma, [src for src, _ in jobs])
    # outputs planned over all the files before they are shared out, so two processes never share a name
    own = [output_for(src, dst, dtype=dtype, axes=axes) for src, dst in jobs]
    unique = unique_outputs(jobs, own)
    for (src, _), wanted, planned in zip(jobs, own, unique):
        if planned != wanted and shard.main:  # two inputs would have shared one output name
            err.print(f"{src} is written as {planned}: another input's result would have had its name",
                      highlight=False)
    jobs = [(src, dst) for (src, _), dst in zip(jobs, unique)][shard.rank::shard.world]
    problems = problems if shard.main else []
    for _, why in problems:
        err.print(tagged("skipped", "red", str(why)), highlight=False)
    with Progress("denoising", len(jobs), quiet=quiet, out=err) as bar:
        den.tile_progress = lambda done, total: bar.update(text=f"tiles {done}/{total}")

        def on_file(path, error, estimated, mapping):
            bar.update(advance=1, text="")
            notes = [mapping.describe()] if mapping is not None and mapping.describe() else []
            if estimated is not None:
                notes.append(f"σ {estimated:.4g} in the file's units, estimated" if mapping.rescaled else
                             f"σ {estimated * 255:.1f} on the 8-bit scale, estimated")
            told = f" ({'; '.join(notes)})" if notes else ""
            err.print(tagged("skipped", "red", str(error)) if error else f"denoised {path}{told}", highlight=False)

        report = denoise_jobs(den, jobs, sigma=sigma, dtype=dtype, overwrite=overwrite, on_file=on_file, axes=axes)
    failed = len(report.failed) + len(problems)
    who = f"rank {shard.rank}: " if shard.active else ""
    out.print(f"{who}{len(report.written)} image(s) written to {output}; {failed} skipped")
    shard.close()
    if failed or not (report.written or shard.active):
        raise typer.Exit(1)


def _check_sigma_scale(sigma, files) -> None:
    """--sigma over 1 is refused before any work unless every input is a TIFF (float TIFFs take σ in their own
    units; an 8- or 16-bit TIFF among them is refused by name when it is read)."""
    from ..io import image_kind

    if sigma is None or sigma <= 1 or all(image_kind(f) == "tiff" for f in files):
        return
    hint = f"; for {sigma:g} on the 8-bit scale give --sigma {sigma / 255:.4g}" if sigma <= 255 else ""
    raise ValueError(f"--sigma {sigma:g}: the noise std is on the [0, 1] scale (0 to 1) for 8- and 16-bit "
                     f"images{hint}. Float TIFFs take it in their own units")


def _refuse_misspelled_method(first: str) -> None:
    """A first argument that is no file but nearly a method's name is a misspelt method: refused, rather than
    skipped as a missing input while the default model denoises the rest."""
    import difflib
    from pathlib import Path

    from ..resolve import known_names, looks_like_method

    if Path(first).exists() or Path(first).suffix or looks_like_method(first):
        return
    close = difflib.get_close_matches(first, sorted(known_names()), n=2, cutoff=0.75)
    if close:
        raise ValueError(f"{first}: no such file or folder, nor a model or method; did you mean "
                         f"{' or '.join(close)}? (`noisefree models` lists them)")
