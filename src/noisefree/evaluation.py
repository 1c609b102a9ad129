"""Evaluate a denoiser on a dataset under a noise model: per-image PSNR/SSIM and their summary.

The noisy images are reproducible: image i of a split gets ``numpy.random.default_rng(seed + index_i)``,
drawn in protocol layout (see :mod:`noisefree.noise`), so two runs — on any device, with any batch size —
see identical noisy images.

``protocol`` (:mod:`noisefree.protocol`, default ``"small"``) says whether the noisy image is clipped and
how the output is finished before scoring (``"standard"``: rounded to the 8-bit grid).

The noisy input is scored the same way as an output (its row shows what the denoiser gained).
"""

from __future__ import annotations

import csv
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from .data import ImageSet, parse_subset
from .denoiser import Denoiser, innermost
from .metrics import mean_std, psnr, ssim
from .noise import Noise, eval_noisy, parse_noise
from .protocol import Protocol, get_protocol

__all__ = ["EvalResult", "default_data", "evaluate_images", "held_out_data", "training_noise", "write_results"]


@dataclass
class EvalResult:
    rows: list[dict]  # one per image
    summary: dict
    samples: dict = field(default_factory=dict)  # a few images for the report: clean/noisy/denoised

    def __str__(self) -> str:
        s = self.summary
        return (f"{s['method']} on {s['dataset']} ({s['images']} images, noise {s['noise']}): "
                f"PSNR {s['psnr_mean']:.2f} ± {s['psnr_std']:.2f} dB (noisy {s['noisy_psnr_mean']:.2f}), "
                f"SSIM {s['ssim_mean']:.4f} ± {s['ssim_std']:.4f} (noisy {s['noisy_ssim_mean']:.4f})")


def evaluate_images(denoiser: Denoiser, data: ImageSet, noise: Noise | str, *, clip: bool = True,
                    seed: int = 0, protocol: str | Protocol = "small", sigma: float | None = None,
                    batch_size: int = 64, keep_samples: int = 8, progress=None) -> EvalResult:
    """Score ``denoiser`` on every image of ``data`` corrupted by ``noise`` (see the module docstring).

    ``sigma`` is passed to denoisers that take one (``takes_sigma``: classical methods, noise-map networks);
    None lets them estimate it.
    ``progress(done, total)`` is called after each batch of images.
    """
    noise, protocol = parse_noise(noise), get_protocol(protocol)
    if protocol.needs_8bit and data.max_value != 255.0:
        raise ValueError(f"{data.name}: the {protocol.name} protocol needs 8-bit clean images")
    clip = protocol.clip(clip)
    takes_sigma = getattr(denoiser, "takes_sigma", True)
    sigma = sigma if takes_sigma else None
    rows, samples = [], {"clean": [], "noisy": [], "denoised": []}
    if progress is not None:
        progress(0, len(data))
    seconds = 0.0
    for idx in data.chunks(batch_size):
        clean64 = data.take(idx, torch.float64).cpu()
        seeds = [seed + int(data.index[i]) for i in idx]
        noisy64, _ = eval_noisy(clean64, noise, seeds, clip=clip)
        t0 = time.perf_counter()
        out = denoiser(noisy64.float(), sigma=sigma)
        seconds += time.perf_counter() - t0
        clean = clean64.float()
        out = protocol.finish(out.float().cpu())
        noisy_scored = protocol.finish(noisy64.float())
        p, s = psnr(out, clean).tolist(), ssim(out, clean).tolist()
        pn, sn = psnr(noisy_scored, clean).tolist(), ssim(noisy_scored, clean).tolist()
        for k, i in enumerate(idx):
            rows.append({"index": int(data.index[i]), "file": data.files[i] if data.files else "",
                         "psnr": p[k], "ssim": s[k], "noisy_psnr": pn[k], "noisy_ssim": sn[k]})
        for k in range(min(len(idx), keep_samples - len(samples["clean"]))):
            for key, t in (("clean", clean), ("noisy", noisy_scored), ("denoised", out)):
                samples[key].append(t[k].permute(1, 2, 0).squeeze(-1).numpy())
        if progress is not None:
            progress(len(rows), len(data))
    megapixels = sum(h * w for h, w in data.sizes) / 1e6
    summary = {"method": _method_name(denoiser), "dataset": data.name,
               "images": len(rows), "noise": noise.spec, "clip_noisy": clip, "protocol": protocol.name,
               "sigma_source": ("given" if sigma is not None else "estimated") if takes_sigma else "not used",
               "seed": seed, "seconds": seconds, "seconds_per_megapixel": seconds / max(megapixels, 1e-12)}
    for key in ("psnr", "ssim", "noisy_psnr", "noisy_ssim"):
        summary[f"{key}_mean"], summary[f"{key}_std"] = mean_std(r[key] for r in rows)
    return EvalResult(rows, summary, samples)


def write_results(result: EvalResult, out_dir) -> dict[str, Path]:
    """Write ``metrics.csv`` (per image) and ``summary.json``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_image = out_dir / "metrics.csv"
    with per_image.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(result.rows[0]) if result.rows else ["index", "file"])
        writer.writeheader()
        writer.writerows(result.rows)
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps(result.summary, indent=2) + "\n")
    return {"metrics": per_image, "summary": summary}


def _method_name(denoiser) -> str:
    """The method's name, with its precision where a network runs in other than float32 (``gray-blind (bf16)``)."""
    name = getattr(denoiser, "name", type(denoiser).__name__)
    precision = getattr(innermost(denoiser), "precision", "float32")
    return name if precision == "float32" else f"{name} ({precision})"


def training_noise(card) -> str:
    """The noise to evaluate a method under when none is given: its card's training noise, else gaussian:0.1."""
    return card.noise if card is not None and card.noise else "gaussian:0.1"


def default_data(method, model: str, *, dataset: str | None = None, split: str | None = None,
                 subset: str | None = None, data_root=None) -> dict:
    """The data to evaluate ``method`` (a resolved method named ``model``) on, as ``load_dataset`` arguments
    plus ``held_out`` (True where they were defaulted by :func:`held_out_data` and nothing given brought back
    images the model trained on). What is given is kept; without a dataset, a model with a card gets the
    held-out part of its training data, any other method ``digits``. Data that may include the model's own
    training images (e.g. ``--subset 0:20`` of the digits the shipped ``mnist`` trained on, or its training
    folder) is evaluated as asked, with a warning that the scores overstate the model."""
    config = training_config(method.path, method.card) if method.card is not None else None
    held = dataset is None and method.card is not None
    if held:  # never default to images the model trained on
        part = held_out_data(config, model=model, card=method.card)
        dataset, split = part["dataset"], split or part["split"]
        subset, data_root = subset or part["subset"], data_root or part["data_root"]
    dataset, split = dataset or "digits", split or "test"
    if _includes_training_images(config, dataset, split, subset):
        held = False
        trained = _describe(config["dataset"], config.get("split", "train"), config.get("subset"))
        warnings.warn(f"{_describe(dataset, split, subset)} may include images {model} trained on ({trained}): its "
                      "scores there overstate it; give held-out images (--dataset, --subset) for a fair score",
                      UserWarning, stacklevel=2)
    return {"dataset": dataset, "split": split, "subset": subset, "data_root": data_root, "held_out": held}


def _includes_training_images(config: dict | None, dataset: str, split: str, subset: str | None) -> bool:
    """Whether ``dataset`` (``split``, ``subset``) can hold images of the training data in ``config``: the same
    folder, or the same split of the same named dataset with subsets that meet."""
    if config is None:
        return False
    trained = config["dataset"]
    if trained.startswith("folder:") or dataset.startswith("folder:"):
        same = dataset.startswith("folder:") and trained.startswith("folder:")
        return same and Path(dataset[7:]).expanduser().resolve() == Path(trained[7:]).expanduser().resolve()
    return dataset == trained and split == config.get("split", "train") and _overlap(config.get("subset"), subset)


def _describe(dataset: str, split: str, subset: str | None) -> str:
    """Data in words: ``mnist test 0:8000``, ``folder:train400 0:20`` (a folder has no splits)."""
    return dataset + ("" if dataset.startswith("folder:") else f" {split}") + (f" {subset}" if subset else "")


def held_out_data(config: dict | None, *, model: str, card=None) -> dict:
    """Where to evaluate a model when no dataset is given: the held-out part of what it trained on, as
    ``load_dataset`` arguments (``dataset``, ``split``, ``subset``, ``data_root``).

    ``config`` is its training configuration (a run's ``config.yaml``, a shipped card's recipe), None when
    unknown. It is the final evaluation's data (``eval_dataset``, ``eval_split``, ``eval_subset``) unless that
    holds images the model trained on: a folder (one split), or the training split of the same dataset
    without disjoint subsets. Then a ValueError asks for ``--dataset``, rather than scoring training images."""
    if config is None:  # e.g. a checkpoint file away from its run folder
        dataset = card.dataset if card is not None and card.dataset else "digits"
        if dataset.startswith("folder:"):
            raise ValueError(f"{model} was trained on {dataset}, a folder with no test split, and its training "
                             "configuration is not beside it: give --dataset folder:PATH with held-out clean images")
        return {"dataset": dataset, "split": "test", "subset": None, "data_root": None}
    trained = config["dataset"]
    dataset = config.get("eval_dataset") or trained
    split, subset = config.get("eval_split", "test"), config.get("eval_subset")
    if _includes_training_images(config, dataset, split, subset):
        commands = _benchmark_commands(card)
        hint = f", e.g. `{commands[0]}`" if commands else ""
        raise ValueError(f"{model} was trained on {trained}{'' if dataset.startswith('folder:') else f' ({split})'}"
                         ", which has no held-out test images to default to: scoring images it trained on would "
                         f"overstate it. Give --dataset with held-out clean images{hint}")
    return {"dataset": dataset, "split": split, "subset": subset, "data_root": config.get("data_root")}


def training_config(path: Path | None, card=None) -> dict | None:
    """The training configuration of a run folder or a checkpoint in one (``config.yaml``), or the recipe in a
    shipped model's card; None when neither is known."""
    if path is not None:
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        if (folder / "config.yaml").is_file():
            return yaml.safe_load((folder / "config.yaml").read_text())
    training = getattr(card, "training", None)
    return dict(training.config) if training is not None and training.config else None


def _overlap(a: str | None, b: str | None) -> bool:
    """Whether two START:STOP[:STEP] subsets of one split (None: all of it) can share an image."""
    stops = [_stop(s) for s in (a, b)]
    if None in stops:  # all of the split, open-ended or counted from the end: assume they meet
        return True
    n = max(stops)
    return bool(set(range(n)[parse_subset(a, n)]) & set(range(n)[parse_subset(b, n)]))


def _stop(subset: str | None) -> int | None:
    """The STOP of a START:STOP[:STEP] subset; None when it has none or counts from the end."""
    parts = (subset or "").split(":")
    try:
        start, stop = int(parts[0] or 0), int(parts[1])
    except (ValueError, IndexError):
        return None
    return stop if start >= 0 and stop >= 0 else None


def _benchmark_commands(card) -> list[str]:
    """The `noisefree evaluate` commands of a shipped model's measured results (its test sets)."""
    results = (getattr(card, "benchmarks", None) or {}).get("results") or {}
    return [r["evaluate"] for r in results.values() if isinstance(r, dict) and r.get("evaluate")]
