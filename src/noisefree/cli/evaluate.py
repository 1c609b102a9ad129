"""``noisefree evaluate``: per-image PSNR/SSIM, their summary and a report, at one or more noise levels."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import PRECISION_HELP, default_output, floats, friendly, out


@friendly
def evaluate(
    model: str = typer.Argument(..., help="shipped name (e.g. gray-blind), run folder, checkpoint or classical "
                                         "method"),
    dataset: str | None = typer.Option(None, help="default: the held-out part of the dataset the model was trained "
                                                  "on, where it has one"),
    noise: str | None = typer.Option(None, help="default: the noise the model was trained for"),
    sigma: str | None = typer.Option(None, help="Gaussian levels to evaluate, comma-separated (standard "
                                                   "protocol: 8-bit scale, e.g. 15,25,50; else [0, 1] scale)"),
    protocol: str = typer.Option("small", help="small (MNIST/CIFAR style) | standard (DnCNN natural images)"),
    split: str | None = typer.Option(None, help="train | test (default: test, or the held-out split)"),
    subset: str | None = typer.Option(None, help="START:STOP"),
    max_images: int | None = typer.Option(None), seed: int = typer.Option(0),
    clip: bool | None = typer.Option(None, "--clip/--no-clip", help="clip noisy images (default: as trained)"),
    resize: int | None = typer.Option(None), grayscale: bool = typer.Option(False, "--grayscale"),
    data_root: str | None = typer.Option(None), download: bool = typer.Option(False, "--download"),
    output: Path | None = typer.Option(None, "-o", "--output", help="folder for metrics and report "
                                                                       "(default: MODEL_RUN/eval-...)"),
    noisy: bool = typer.Option(False, "--noisy", help="the dataset's images are noisy as they are (real noise, "
                               "no clean reference): add nothing, report the noise left and no-reference scores"),
    estimate_sigma: bool = typer.Option(False, "--estimate-sigma", help="blind: methods that take σ estimate it "
                                        "from each noisy image instead of being told the --sigma level"),
    precision: str = typer.Option("float32", help=PRECISION_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
):
    """Per-image PSNR/SSIM (CSV), their summary, and a report with figures."""
    from ..api import evaluate as api_evaluate
    from ..denoiser import set_precision
    from ..evaluation import default_data, training_noise
    from ..noise import parse_noise
    from ..progress import Progress
    from ..protocol import get_protocol
    from ..resolve import resolve

    method, proto = resolve(model), get_protocol(protocol)
    if precision != "float32":
        set_precision(method.denoiser, precision)
    card = method.card
    if noisy:
        return _evaluate_noisy(method, model, dataset, noise, sigma, split or "test", subset, max_images, data_root,
                               grayscale, output, quiet)
    data = default_data(method, model, dataset=dataset, split=split, subset=subset, data_root=data_root)
    dataset, split, subset, data_root = data["dataset"], data["split"], data["subset"], data["data_root"]
    if data["held_out"]:
        part = f" {split}" + (f" {subset}" if subset else "")
        out.print(f"evaluating on {dataset}{part}, held out from training (--dataset chooses another)")
    levels = floats(sigma)
    noises = [proto.noise(s).spec for s in levels] or [noise or training_noise(card)]  # clip: None is as trained
    tag = f"eval-{dataset.split('/')[-1].replace(':', '-')}"
    root = output if levels else None  # levels: one folder each (below -o, or their own), and with several of
    if len(levels) > 1 and root is None:  # them one report over all, above those folders
        root = default_output(model, f"{tag}-sigma{'-'.join(f'{s:g}' for s in levels)}")
    results = []
    for nz, level in zip(noises, levels or [None]):
        label = f"sigma{level:g}" if level is not None else None
        if root is not None:
            target = root / label
        else:
            target = output or default_output(model, f"{tag}-{(label or nz).replace(':', '')}")
        given = parse_noise(nz).sigma if levels and not estimate_sigma else None  # a protocol's level is known
        with Progress(f"{method.name} {label or nz}", 1, quiet=quiet) as bar:
            result = api_evaluate(method.denoiser, dataset=dataset, noise=nz, split=split, subset=subset, clip=clip,
                                  seed=seed, protocol=proto, sigma=given, data_root=data_root, download=download,
                                  resize=resize, grayscale=grayscale, max_images=max_images, out_dir=target,
                                  progress=bar.callback)
        results.append((level, result))
        out.print(str(result))
        out.print(f"report: {target / 'report.md'}")
    if len(levels) > 1:
        from ..report import write_sigma_report

        out.print(f"all levels: {write_sigma_report(root, results, proto, title=f'{method.name} on {dataset}')}")


def _evaluate_noisy(method, model, dataset, noise, sigma, split, subset, max_images, data_root, grayscale, output,
                    quiet):
    """``--noisy``: real noisy images, no clean reference, nothing added."""
    from ..data import load_dataset
    from ..evaluation import write_results
    from ..noreference import evaluate_without_reference, summary_line
    from ..progress import Progress
    from ..report import write_noreference_report

    if dataset is None:
        raise ValueError("--noisy needs --dataset folder:PATH (the noisy images to evaluate)")
    if noise or sigma:
        raise ValueError("--noisy takes the images as they are; --noise/--sigma would add synthetic noise to them. "
                         "Drop --noisy to evaluate against clean images with added noise")
    data = load_dataset(dataset, split=split, root=data_root, subset=subset, grayscale=grayscale)
    if max_images:
        data = data.select(range(min(max_images, len(data))))
    target = output or default_output(model, f"eval-{dataset.split('/')[-1].replace(':', '-')}-noisy")
    with Progress(f"{method.name} (no reference)", len(data), quiet=quiet) as bar:
        result = evaluate_without_reference(method.denoiser, data, progress=bar.callback)
    write_results(result, target)
    report = write_noreference_report(target, result, title=f"{method.name} on {data.name} (real noise)")
    out.print(summary_line(result))
    out.print(f"report: {report}")
