"""``noisefree benchmark``: every method on the same noisy images, one table of quality and cost."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import err, floats, friendly, out


@friendly
def benchmark(
    methods: str = typer.Option(..., help="comma-separated: shipped names, classical names (bm3d, nlm, tv, "
                                          "wavelet, bilateral, median, gaussian, noisy), run folders or "
                                          "checkpoints, LABEL=PATH"),
    dataset: str = typer.Option(..., help="folder:PATH, digits, mnist, cifar10, ..."),
    sigma: str = typer.Option("15,25,50", help="noise levels (standard: 8-bit scale; small: [0, 1] scale)"),
    protocol: str = typer.Option("standard", help="standard (natural images) | small (MNIST/CIFAR)"),
    split: str = typer.Option("test"), subset: str | None = typer.Option(None, help="START:STOP"),
    max_images: int | None = typer.Option(None), data_root: str | None = typer.Option(None),
    seed: int = typer.Option(0), workers: int | None = typer.Option(None, help="processes for CPU-bound methods"),
    estimate_sigma: bool = typer.Option(False, "--estimate-sigma", help="methods estimate sigma themselves"),
    output: Path = typer.Option(Path("benchmark"), "-o", "--output", help="folder for tables, figures, cache"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
):
    """Every method on the same noisy images: PSNR/SSIM table, per-image CSV, time, plots and crops."""
    import shlex
    import sys

    from ..benchmark import run_benchmark
    from ..progress import Progress
    from ..protocol import get_protocol

    proto = get_protocol(protocol)
    command = "noisefree " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    bars: list[Progress] = []

    def factory(label, total):
        if bars:
            bars.pop().__exit__(None, None, None)
        bars.append(Progress(label, total, quiet=quiet, out=err).__enter__())
        return bars[-1].callback

    try:
        run_benchmark([m.strip() for m in methods.split(",") if m.strip()], dataset, sigmas=floats(sigma),
                      protocol=proto, out_dir=output, split=split, subset=subset, max_images=max_images,
                      data_root=data_root, seed=seed, estimate_sigma=estimate_sigma, workers=workers,
                      command=command, log=lambda m: err.print(m, highlight=False), progress_factory=factory)
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)
    out.print((output / "results.md").read_text())
    out.print(f"tables, per-image CSV and figures in {output}")
