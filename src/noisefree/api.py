"""The Python API: ``load``, ``train`` and ``evaluate`` do what the commands of the same names do."""

from __future__ import annotations

from pathlib import Path

from .config import RunConfig
from .data import load_dataset
from .denoiser import Denoiser
from .evaluation import EvalResult, default_data, evaluate_images, training_noise, write_results
from .protocol import Protocol
from .resolve import resolve

__all__ = ["evaluate", "load", "train"]


def load(name_or_path, *, device=None) -> Denoiser:
    """A denoiser from a run folder, a ``.safetensors``/``.json`` checkpoint, or a name: a shipped model
    (gray-blind, color-blind, mnist, cifar10; ``auto`` picks gray-blind or color-blind by each image's
    channels) or a classical method (bm3d, nlm, tv, wavelet, bilateral, median, gaussian, noisy)."""
    return resolve(name_or_path, device=device).denoiser


def train(config: RunConfig | dict | str | Path | None = None, *, preset: str | None = None,
          out="runs", resume=None, quiet: bool = False, **overrides) -> Path:
    """Train from a :class:`RunConfig`, a dict, a YAML file, or a preset (``**overrides`` apply on top);
    or continue ``resume=RUN_DIR``. Returns the run folder."""
    from .training import train as _train

    if resume is not None:
        return _train(resume=resume, out=out, quiet=quiet)
    return _train(RunConfig.resolve(preset=preset, config=config, overrides=overrides), out=out, quiet=quiet)


def evaluate(denoiser, *, dataset: str | None = None, noise: str | None = None, split: str | None = None,
             subset: str | None = None, clip: bool | None = None, seed: int = 0, protocol: str | Protocol = "small",
             sigma: float | None = None, data_root=None, download: bool = False, resize: int | None = None,
             grayscale: bool = False, max_images: int | None = None, out_dir=None, report: bool = True,
             progress=None) -> EvalResult:
    """Evaluate ``denoiser`` (anything :func:`load` takes) on ``dataset`` corrupted by ``noise``.

    As ``noisefree evaluate`` does, a model with a card defaults to the held-out part of the data it trained on
    (:func:`~noisefree.evaluation.held_out_data`; a ValueError where it has none), its training noise and its
    clipping; a model without one to ``digits``, ``gaussian:0.1``, clipped.
    With ``out_dir``, writes metrics.csv, summary.json and (``report``) report.md with figures.
    ``progress(done, total)`` is called after each batch of images.
    """
    from .report import write_report

    method = resolve(denoiser)
    name = str(denoiser) if isinstance(denoiser, (str, Path)) else getattr(method.denoiser, "name", "the model")
    data_args = default_data(method, name, dataset=dataset, split=split, subset=subset, data_root=data_root)
    card = method.card
    noise = noise or training_noise(card)
    clip = clip if clip is not None else (card.clip if card is not None else True)
    data = load_dataset(data_args["dataset"], split=data_args["split"], root=data_args["data_root"],
                        download=download, resize=resize, subset=data_args["subset"], grayscale=grayscale)
    if max_images:
        data = data.select(range(min(max_images, len(data))))
    result = evaluate_images(method.denoiser, data, noise, clip=clip, seed=seed, protocol=protocol, sigma=sigma,
                             progress=progress)
    if out_dir is not None:
        write_results(result, out_dir)
        if report:
            write_report(out_dir, result, title=f"{result.summary['method']} on {data.name}")
    return result
