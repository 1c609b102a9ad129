"""The ``noisefree`` command line: train, evaluate, denoise, models, presets."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Train, evaluate, compare and apply image denoisers.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _friendly(fn):
    """Known errors become one red line naming the problem (exit 1), not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .config import ConfigError
        from .data import DatasetError
        from .io import ImageReadError
        from .training import TrainingDiverged

        try:
            return fn(*args, **kwargs)
        except typer.Exit:  # click's Exit is a RuntimeError: let it through untouched
            raise
        except (ConfigError, DatasetError, ImageReadError, TrainingDiverged, FileNotFoundError, FileExistsError,
                ValueError, KeyError, RuntimeError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            err.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@_friendly
def train(
    preset: str | None = typer.Option(None, help="start from a preset (see `noisefree presets`)"),
    config: Path | None = typer.Option(None, help="start from a YAML configuration (e.g. a run's config.yaml)"),
    resume: Path | None = typer.Option(None, help="continue the run in this folder exactly where it stopped"),
    dataset: str | None = typer.Option(None, help="digits | mnist | fashion-mnist | cifar10 | folder:PATH"),
    model: str | None = typer.Option(None, help="architecture (see `noisefree models`)"),
    model_args: str | None = typer.Option(None, help='architecture arguments as JSON, e.g. \'{"width": 32, '
                                                     '"noise_map": true}\''),
    init: str | None = typer.Option(None, help="fine-tune: start from a run folder, checkpoint or shipped model"),
    noise: str | None = typer.Option(None, help="e.g. gaussian:0.1, gaussian:0-0.2, saltpepper:0.02, "
                                                   "masking:0.3, poisson:30, speckle:0.1, combined with +"),
    clip: bool | None = typer.Option(None, "--clip/--no-clip", help="clip noisy images to [0, 1]"),
    epochs: int | None = typer.Option(None), batch_size: int | None = typer.Option(None),
    lr: float | None = typer.Option(None), weight_decay: float | None = typer.Option(None),
    patience: int | None = typer.Option(None, help="early stopping after this many epochs without gain"),
    schedule: str | None = typer.Option(None, help="constant | cosine"),
    seed: int | None = typer.Option(None), device: str | None = typer.Option(None, help="auto|cpu|cuda|mps"),
    split: str | None = typer.Option(None, help="train | test split to train on"),
    subset: str | None = typer.Option(None, help="START:STOP images of that split"),
    resize: int | None = typer.Option(None, help="resize images to S x S"),
    grayscale: bool | None = typer.Option(None, "--grayscale/--no-grayscale"),
    patch_size: int | None = typer.Option(None, help="train on random crops of this size"),
    patches_per_image: int | None = typer.Option(None, help="crops per image and epoch"),
    augment: bool | None = typer.Option(None, "--augment/--no-augment", help="random flips and rotations"),
    loss: str | None = typer.Option(None, help="mse | l1"),
    ema: float | None = typer.Option(None, help="average the weights with this decay (e.g. 0.999)"),
    amp: bool | None = typer.Option(None, "--amp/--no-amp", help="bf16 mixed precision on CUDA"),
    compile_model: bool | None = typer.Option(None, "--compile/--no-compile", help="torch.compile (CUDA)"),
    val_fraction: float | None = typer.Option(None),
    eval_dataset: str | None = typer.Option(None), eval_split: str | None = typer.Option(None),
    eval_subset: str | None = typer.Option(None), eval_images: int | None = typer.Option(None),
    data_root: str | None = typer.Option(None, help="where torchvision datasets live (default ./data)"),
    download: bool | None = typer.Option(None, "--download/--no-download"),
    name: str | None = typer.Option(None, help="run name"),
    out_dir: Path = typer.Option(Path("runs"), "--out", help="folder for run folders"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Train a denoiser; writes a run folder with checkpoints, history, evaluation and report.md."""
    from .api import train as api_train
    from .config import RunConfig
    from .presets import preset_config

    if resume is not None:
        run_dir = api_train(resume=resume, out=out_dir, quiet=quiet)
    else:
        overrides = {k: v for k, v in dict(
            dataset=dataset, model=model, noise=noise, clip=clip, epochs=epochs, batch_size=batch_size, lr=lr,
            weight_decay=weight_decay, patience=patience, schedule=schedule, seed=seed, device=device,
            split=split, subset=subset, resize=resize, grayscale=grayscale, patch_size=patch_size,
            patches_per_image=patches_per_image, augment=augment, loss=loss, ema=ema, amp=amp, compile=compile_model,
            model_args=_json_dict(model_args), init=init,
            val_fraction=val_fraction, eval_dataset=eval_dataset, eval_split=eval_split, eval_subset=eval_subset,
            eval_images=eval_images, data_root=data_root, download=download, name=name).items() if v is not None}
        if preset and config:
            raise ValueError("give --preset or --config, not both")
        if preset:
            cfg = preset_config(preset, **overrides)
        elif config:
            cfg = RunConfig.validated({**RunConfig.from_yaml(config).model_dump(), **overrides}, source=str(config))
        else:
            cfg = RunConfig.validated(overrides, source="command line")
        run_dir = api_train(cfg, out=out_dir, quiet=quiet)
    out.print(f"run folder: {run_dir}")
    out.print(f"report: {run_dir / 'report.md'}")


def _json_dict(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--model-args {text!r} is not JSON ({exc.msg}); e.g. '{{\"width\": 32}}'") from None
    if not isinstance(value, dict):
        raise ValueError(f"--model-args {text!r}: expected a JSON object such as '{{\"width\": 32}}'")
    return value


def _floats(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--sigma {text!r}: expected numbers separated by commas, e.g. 15,25,50") from None


@app.command()
@_friendly
def evaluate(
    model: str = typer.Argument(..., help="shipped name (e.g. gray-blind), run folder, checkpoint or classical "
                                         "method"),
    dataset: str | None = typer.Option(None, help="default: the dataset the model was trained on"),
    noise: str | None = typer.Option(None, help="default: the noise the model was trained for"),
    sigma: str | None = typer.Option(None, help="Gaussian levels to evaluate, comma-separated (standard "
                                                   "protocol: 8-bit scale, e.g. 15,25,50; else [0, 1] scale)"),
    protocol: str = typer.Option("small", help="small (MNIST/CIFAR style) | standard (DnCNN natural images)"),
    split: str = typer.Option("test"), subset: str | None = typer.Option(None, help="START:STOP"),
    max_images: int | None = typer.Option(None), seed: int = typer.Option(0),
    clip: bool | None = typer.Option(None, "--clip/--no-clip", help="clip noisy images (default: as trained)"),
    resize: int | None = typer.Option(None), grayscale: bool = typer.Option(False, "--grayscale"),
    data_root: str | None = typer.Option(None), download: bool = typer.Option(False, "--download"),
    output: Path | None = typer.Option(None, "-o", "--output", help="folder for metrics and report "
                                                                       "(default: MODEL_RUN/eval-...)"),
):
    """Per-image PSNR/SSIM (CSV), their summary, and a report with figures."""
    from .api import evaluate as api_evaluate
    from .api import load
    from .noise import parse_noise

    den = load(model)
    card = getattr(den, "card", {})
    dataset = dataset or card.get("dataset") or "digits"
    sigmas = _floats(sigma)
    noises = [f"gaussian:{s / 255 if protocol == 'standard' else s:g}" for s in sigmas] or [
        noise or card.get("noise") or "gaussian:0.1"]
    if clip is None:
        clip = bool(card.get("clip", True))
    path = Path(model)
    base = (path if path.is_dir() else path.parent) if path.exists() else Path("evaluations") / model
    for nz, label in zip(noises, [f"sigma{s:g}" for s in sigmas] or [None]):
        tag = f"eval-{dataset.split('/')[-1].replace(':', '-')}-{(label or nz).replace(':', '')}"
        target = (output / (label or "")) if output else base / tag
        given = parse_noise(nz).sigma if sigmas else None  # a protocol's sigma is known to the method
        result = api_evaluate(den, dataset=dataset, noise=nz, split=split, subset=subset, clip=clip, seed=seed,
                              protocol=protocol, sigma=given, data_root=data_root, download=download,
                              resize=resize, grayscale=grayscale, max_images=max_images, out_dir=target)
        out.print(str(result))
        out.print(f"report: {target / 'report.md'}")


@app.command()
@_friendly
def denoise(
    args: list[str] = typer.Argument(..., help="[MODEL] INPUT... : an optional model (shipped name, run folder, "
                                               "checkpoint or classical method), then image files or folders"),
    model: str | None = typer.Option(None, "--model", "-m", help="shipped name (gray-blind, color-blind, mnist, "
                                     "cifar10), run folder, checkpoint or classical method; default: the "
                                     "shipped blind model for each image's channels"),
    output: Path = typer.Option(Path("denoised"), "-o", "--output", help="folder for the denoised images"),
    sigma: float | None = typer.Option(None, help="noise level for methods that take one"),
    dtype: str | None = typer.Option(None, help="uint8 | uint16 | float32 (default: as the input)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing output files"),
    device: str | None = typer.Option(None, help="cpu | cuda | mps (default: best available)"),
):
    """Denoise image files and folders; outputs keep the input's size, bit depth and channels."""
    from .api import load
    from .apply import denoise_files

    if dtype not in (None, "uint8", "uint16", "float32"):
        raise ValueError(f"--dtype {dtype!r}: use uint8, uint16 or float32")
    if model is None:
        if _names_a_model(args[0]):
            model, args = args[0], args[1:]
        else:
            model = "auto"
    if not args:
        raise ValueError("no input images: noisefree denoise [MODEL] INPUT... [-o OUT]")
    den = load(model, device=device)
    report = denoise_files(den, args, output, sigma=sigma, dtype=dtype, overwrite=overwrite,
                           on_file=lambda p, e: err.print(f"[red]skipped[/] {e}" if e else f"denoised {p}",
                                                          highlight=False))
    out.print(f"{len(report.written)} image(s) written to {output}; {len(report.failed)} skipped")
    if report.failed:
        raise typer.Exit(1)


def _names_a_model(arg: str) -> bool:
    """Whether the first argument of `denoise` is a model rather than an input image or folder."""
    from .checkpoint import find_checkpoint
    from .classical import CLASSICAL
    from .pretrained import list_pretrained

    path = Path(arg)
    if path.is_dir():
        try:
            find_checkpoint(path)
            return True
        except FileNotFoundError:
            return False
    if path.is_file():
        return path.suffix.lower() in (".safetensors", ".json")
    return arg in list_pretrained() or arg in CLASSICAL or arg == "auto"


@app.command()
@_friendly
def benchmark(
    methods: str = typer.Option(..., help="comma-separated: classical names (bm3d, nlm, tv, wavelet, bilateral, "
                                          "median, gaussian, noisy), run folders or checkpoints, LABEL=PATH"),
    dataset: str = typer.Option(..., help="folder:PATH, digits, mnist, cifar10, ..."),
    sigma: str = typer.Option("15,25,50", help="noise levels (standard: 8-bit scale; small: [0, 1] scale)"),
    protocol: str = typer.Option("standard", help="standard (natural images) | small (MNIST/CIFAR)"),
    split: str = typer.Option("test"), subset: str | None = typer.Option(None, help="START:STOP"),
    max_images: int | None = typer.Option(None), data_root: str | None = typer.Option(None),
    seed: int = typer.Option(0), workers: int | None = typer.Option(None, help="processes for CPU-bound methods"),
    estimate_sigma: bool = typer.Option(False, "--estimate-sigma", help="methods estimate sigma themselves"),
    output: Path = typer.Option(Path("benchmark"), "-o", "--output", help="folder for tables, figures, cache"),
):
    """Every method on the same noisy images: PSNR/SSIM table, per-image CSV, time, plots and crops."""
    import shlex
    import sys

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .benchmark import run_benchmark

    if protocol not in ("standard", "small"):
        raise ValueError(f"--protocol {protocol!r}: use standard or small")
    command = "noisefree " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        def factory(label, total):
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        run_benchmark([m.strip() for m in methods.split(",") if m.strip()], dataset, sigmas=_floats(sigma),
                      protocol=protocol, out_dir=output, split=split, subset=subset, max_images=max_images,
                      data_root=data_root, seed=seed, estimate_sigma=estimate_sigma, workers=workers,
                      command=command, log=lambda m: err.print(m, highlight=False), progress_factory=factory)
    out.print((output / "results.md").read_text())
    out.print(f"tables, per-image CSV and figures in {output}")


@app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json")):
    """List the registered architectures with their parameter counts."""
    from .models import build_model, list_models
    from .pretrained import PRETRAINED_DIR, list_pretrained

    rows = []
    for spec in list_models():
        counts = {c: sum(p.numel() for p in build_model(spec.name, channels=c).parameters()) for c in (1, 3)}
        size = "x".join(map(str, spec.fixed_size)) + " only" if spec.fixed_size else (
            "any" if spec.multiple == 1 else f"any (padded to {spec.multiple}k+{spec.offset})")
        rows.append({"name": spec.name, "params_gray": counts[1], "params_color": counts[3], "sizes": size,
                     "reference": spec.reference, "description": spec.description})
    if as_json:
        out.print_json(json.dumps({"architectures": rows, "pretrained": list_pretrained()}))
        return
    table = Table(title="noisefree models")
    table.add_column("name", no_wrap=True, style="bold")
    for col in ("params (gray)", "params (RGB)", "input sizes", "follows", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], f"{r['params_gray']:,}", f"{r['params_color']:,}", r["sizes"], r["reference"],
                      r["description"])
    out.print(table)
    shipped = Table(title="shipped pretrained models (nf.load(NAME), noisefree denoise --model NAME)")
    for col in ("name", "channels", "size", "description"):
        shipped.add_column(col, overflow="fold", style="bold" if col == "name" else None)
    for name, entry in list_pretrained().items():
        size = (PRETRAINED_DIR / entry["weights"]).stat().st_size / 1e6
        shipped.add_row(name, str(entry["channels"]), f"{size:.1f} MB", entry["description"])
    out.print(shipped)


@app.command("presets")
def presets_cmd():
    """List the presets: the reference designs and the demo."""
    from .presets import PRESETS

    table = Table(title="noisefree presets (noisefree train --preset NAME)")
    table.add_column("name", no_wrap=True, style="bold")
    for col in ("dataset", "model", "noise", "epochs", "what the reference reported"):
        table.add_column(col, overflow="fold")
    for p in PRESETS.values():
        f = p.fields
        table.add_row(p.name, f["dataset"] + (f" ->{f['resize']}px" if f.get("resize") else ""), f["model"],
                      f["noise"], str(f["epochs"]) + (f", patience {f['patience']}" if f.get("patience") else ""),
                      p.reference)
    out.print(table)


def main():  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
