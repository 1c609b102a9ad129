"""Every method side by side on the same noisy images: one table of quality and cost.

``run_benchmark(["bm3d", "nlm", "runs/x"], "folder:bsd68", sigmas=[15, 25, 50])`` scores each method at
each noise level with :func:`noisefree.evaluation.evaluate_images` (identical seeded noise for all
methods) and writes, into ``out_dir``:

* ``results.md`` / ``results.csv`` — mean PSNR and SSIM per method and sigma, seconds per megapixel;
* ``per_image.csv`` — every image's scores;
* ``psnr_vs_sigma.png``, ``quality_vs_time.png``, ``crops.png`` (zoomed crops of one image per method).

Each (method, dataset, sigma) cell is cached in ``out_dir/cache``: a stopped benchmark re-run with the same
settings redoes only the missing cells. CPU-bound classical methods run in parallel over images, one
process per worker; their time is the time inside the method, summed over images (single-core seconds).
Networks run batched in this process with all of torch's threads.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from .classical import ClassicalDenoiser
from .data import ImageSet, load_dataset
from .evaluation import evaluate_images
from .metrics import mean_std
from .noise import Gaussian

__all__ = ["Cell", "machine_description", "run_benchmark"]


def machine_description() -> str:
    """CPU model and cores (and GPU), named with every time this project reports."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


@dataclass
class Cell:
    method: str
    sigma: float
    rows: list[dict]
    summary: dict


def _noise_for(sigma: float, protocol: str) -> Gaussian:
    """Standard protocol: sigma on the 8-bit scale; small-image protocol: on the [0, 1] scale."""
    return Gaussian(sigma / 255.0 if protocol == "standard" else sigma)


def _cache_key(method: str, dataset: str, sigma: float, settings: dict) -> str:
    """A cell's identity: what the method is (a checkpoint's file, a classical method's tuned rule), the
    data, sigma, the protocol settings and the noisefree version."""
    from . import __version__
    from .classical import CLASSICAL, _tuned
    from .pretrained import list_pretrained

    ident = f"{method}|{__version__}"
    shipped = list_pretrained()
    path = Path(method)
    if path.exists():  # a checkpoint: its content defines it, not its name
        weights = path / "best.safetensors" if path.is_dir() else path.with_suffix(".safetensors")
        if weights.is_file():
            ident += f"@{weights.stat().st_size}-{weights.stat().st_mtime_ns}"
    elif method in shipped:  # a shipped model: its checksum
        ident += "@" + shipped[method]["weights_sha256"]
    elif method in CLASSICAL:
        ident += json.dumps(_tuned()["methods"].get(method, {}).get("best"))
    blob = json.dumps({"method": ident, "dataset": dataset, "sigma": sigma, **settings}, sort_keys=True)
    slug = "".join(c if c.isalnum() else "-" for c in Path(method).name)[:30]
    return f"{slug}-s{sigma:g}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"


def _worker_eval(method_name: str, data: ImageSet, noise, kwargs) -> tuple[list[dict], float]:
    torch.set_num_threads(1)
    den = ClassicalDenoiser(method_name)
    res = evaluate_images(den, data, noise, keep_samples=0, **kwargs)
    return res.rows, res.summary["seconds"]


def _evaluate_cell(den, data: ImageSet, noise, kwargs: dict, pool, workers: int, advance) -> tuple[list[dict], float]:
    if isinstance(den, ClassicalDenoiser) and pool is not None and len(data) > 1:
        n_chunks = workers * 4
        chunks = [c for c in (list(range(i, len(data), n_chunks)) for i in range(n_chunks)) if c]
        rows, seconds = [], 0.0
        futures = [pool.submit(_worker_eval, den.name, data.select(c), noise, kwargs) for c in chunks]
        for fut, chunk in zip(futures, chunks):
            r, s = fut.result()
            rows += r
            seconds += s
            advance(len(chunk))
        return sorted(rows, key=lambda r: r["index"]), seconds
    res = evaluate_images(den, data, noise, keep_samples=0, progress=advance, **kwargs)
    return res.rows, res.summary["seconds"]


def run_benchmark(methods: list[str], dataset: str, *, sigmas: list[float], protocol: str = "standard",
                  out_dir, split: str = "test", subset: str | None = None, max_images: int | None = None,
                  data_root=None, seed: int = 0, estimate_sigma: bool = False, workers: int | None = None,
                  crop_image: int = 0, command: str = "", log=print, progress_factory=None) -> list[Cell]:
    """Run (or reuse from cache) every method x sigma cell and write the tables and figures.

    A method is a registered name, a run folder or checkpoint, or ``LABEL=PATH`` to name a checkpoint."""
    from .api import load

    out_dir = Path(out_dir)
    cache = out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    data = load_dataset(dataset, split=split, root=data_root, subset=subset)
    if max_images:
        data = data.select(range(min(max_images, len(data))))
    settings = {"split": split, "subset": subset, "max_images": max_images, "protocol": protocol, "seed": seed,
                "estimate_sigma": estimate_sigma, "n": len(data)}
    cells, skipped, denoisers = [], {}, {}
    with _pool(workers) as pool:
        for spec in methods:
            method, _, target = spec.rpartition("=") if "=" in spec else (spec, "", spec)
            try:
                den = load(target)
            except (ImportError, FileNotFoundError, KeyError) as exc:
                skipped[method] = exc.args[0] if exc.args else str(exc)
                log(f"skipping {method}: {skipped[method]}")
                continue
            denoisers[method] = den
            for sigma in sigmas:
                noise = _noise_for(sigma, protocol)
                key = _cache_key(target, dataset, sigma, settings)
                cached = cache / f"{key}.json"
                if cached.is_file():
                    stored = json.loads(cached.read_text())
                    cells.append(Cell(method, sigma, stored["rows"], stored["summary"]))
                    log(f"{method} sigma {sigma:g}: cached ({stored['summary']['psnr_mean']:.2f} dB)")
                    continue
                kwargs = {"clip": protocol != "standard", "seed": seed, "protocol": protocol,
                          "sigma": None if estimate_sigma else noise.sigma}
                advance = progress_factory(f"{method} σ={sigma:g}", len(data)) if progress_factory else (lambda n: None)
                rows, seconds = _evaluate_cell(den, data, noise, kwargs, pool, workers, advance)
                megapixels = sum(h * w for h, w in data.sizes) / 1e6
                summary = {"method": method, "sigma": sigma, "images": len(rows), "seconds": seconds,
                           "seconds_per_megapixel": seconds / megapixels, "parallel": isinstance(
                               den, ClassicalDenoiser) and pool is not None}
                for k in ("psnr", "ssim", "noisy_psnr", "noisy_ssim"):
                    summary[f"{k}_mean"], summary[f"{k}_std"] = mean_std(r[k] for r in rows)
                tmp = cached.with_suffix(".tmp")
                tmp.write_text(json.dumps({"rows": rows, "summary": summary}))
                tmp.replace(cached)  # a cell is either complete or absent
                cells.append(Cell(method, sigma, rows, summary))
                log(f"{method} sigma {sigma:g}: PSNR {summary['psnr_mean']:.2f} dB, SSIM {summary['ssim_mean']:.4f}, "
                    f"{summary['seconds_per_megapixel']:.3g} s/MP")
    _write_tables(cells, skipped, data, out_dir, protocol=protocol, dataset=dataset, command=command)
    _plot(cells, out_dir, protocol)
    if cells:
        _crops(denoisers, data, sigmas[len(sigmas) // 2], protocol, seed, crop_image, out_dir, estimate_sigma)
    return cells


@contextmanager
def _pool(workers: int):
    """Worker processes for CPU-bound methods (spawned: safe beside torch's threads), or None for one."""
    if workers <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _write_tables(cells, skipped, data, out_dir: Path, *, protocol, dataset, command):
    with (out_dir / "per_image.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "sigma", "index", "file", "psnr", "ssim", "noisy_psnr", "noisy_ssim"])
        for c in cells:
            for r in c.rows:
                w.writerow([c.method, c.sigma, r["index"], r["file"], r["psnr"], r["ssim"], r["noisy_psnr"],
                            r["noisy_ssim"]])
    with (out_dir / "results.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "sigma", "images", "psnr_mean", "psnr_std", "ssim_mean", "ssim_std",
                    "seconds_per_megapixel"])
        for c in cells:
            s = c.summary
            w.writerow([c.method, c.sigma, s["images"], f"{s['psnr_mean']:.4f}", f"{s['psnr_std']:.4f}",
                        f"{s['ssim_mean']:.5f}", f"{s['ssim_std']:.5f}", f"{s['seconds_per_megapixel']:.5g}"])
    (out_dir / "results.md").write_text(markdown_table(cells, skipped, data, protocol=protocol, dataset=dataset,
                                                       command=command))


def markdown_table(cells, skipped, data, *, protocol, dataset, command) -> str:
    methods = list(dict.fromkeys(c.method for c in cells))
    sigmas = list(dict.fromkeys(c.sigma for c in cells))
    by = {(c.method, c.sigma): c.summary for c in cells}
    unit = "σ (8-bit)" if protocol == "standard" else "σ"
    head = "| method | " + " | ".join(f"{unit} {s:g}: PSNR / SSIM" for s in sigmas) + " | s / megapixel |"
    lines = [f"`{command}`" if command else "", "",
             f"{len(data)} images of `{dataset}`, {protocol} protocol; mean over images. Time: "
             f"{machine_description()}.", "", head, "|" + "---|" * (len(sigmas) + 2)]
    for m in methods:
        cols = []
        for s in sigmas:
            r = by.get((m, s))
            cols.append(f"{r['psnr_mean']:.2f} / {r['ssim_mean']:.4f}" if r else "—")
        times = [by[(m, s)]["seconds_per_megapixel"] for s in sigmas if (m, s) in by]
        par = any(by[(m, s)].get("parallel") for s in sigmas if (m, s) in by)
        lines.append(f"| {m} | " + " | ".join(cols) + f" | {np.mean(times):.3g}{' (1 core)' if par else ''} |")
    for m, why in skipped.items():
        lines.append(f"| {m} | not run: {why} |" + " |" * len(sigmas))
    return "\n".join(lines) + "\n"


def _plot(cells, out_dir: Path, protocol: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not cells:
        return
    methods = list(dict.fromkeys(c.method for c in cells))
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        pts = sorted((c.sigma, c.summary["psnr_mean"]) for c in cells if c.method == m)
        ax.plot(*zip(*pts), "o-", label=m)
    ax.set(xlabel="noise σ" + (" (8-bit scale)" if protocol == "standard" else ""), ylabel="PSNR (dB)",
           title="PSNR against noise level")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "psnr_vs_sigma.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        mc = [c for c in cells if c.method == m]
        t = max(np.mean([c.summary["seconds_per_megapixel"] for c in mc]), 1e-4)
        ax.scatter(t, np.mean([c.summary["psnr_mean"] for c in mc]), s=40)
        ax.annotate(m, (t, np.mean([c.summary["psnr_mean"] for c in mc])), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set(xscale="log", xlabel=f"seconds per megapixel ({machine_description()})", ylabel="mean PSNR over σ (dB)",
           title="Quality against time")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "quality_vs_time.png", dpi=110)
    plt.close(fig)


def _crops(denoisers: dict, data: ImageSet, sigma, protocol, seed, index, out_dir: Path, estimate_sigma) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .evaluation import finish_output
    from .noise import eval_noisy

    index = min(index, len(data) - 1)
    noise = _noise_for(sigma, protocol)
    clean = data.take([index], torch.float64).cpu()
    noisy = eval_noisy(clean, noise, [seed + int(data.index[index])], clip=protocol != "standard").float()
    h, w = clean.shape[-2:]
    ch, cw = max(h // 3, 16), max(w // 3, 16)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    panels = [("clean", clean.float()), ("noisy", noisy)]
    for name, den in denoisers.items():
        if name == "noisy":
            continue
        out = den(noisy, sigma=None if estimate_sigma else noise.sigma)
        panels.append((name, out.float().cpu()))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6), squeeze=False)
    for ax, (name, t) in zip(axes[0], panels):
        t = finish_output(t, protocol)
        crop = t[0, :, y0:y0 + ch, x0:x0 + cw].permute(1, 2, 0).squeeze(-1).numpy()
        ax.imshow(np.clip(crop, 0, 1), cmap="gray" if crop.ndim == 2 else None, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{Path(data.files[index]).name if data.files else f'image {index}'}, σ {sigma:g}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "crops.png", dpi=110)
    plt.close(fig)
