"""Every method side by side on the same noisy images: one table of quality and cost.

``run_benchmark(["bm3d", "nlm", "runs/x"], "folder:bsd68", sigmas=[15, 25, 50])`` scores each method at
each noise level with :func:`noisefree.evaluation.evaluate_images` (identical seeded noise for all
methods) and writes, into ``out_dir``:

* ``results.md`` / ``results.csv`` — mean PSNR and SSIM per method and sigma, seconds per megapixel;
* ``per_image.csv`` — every image's scores;
* ``psnr_vs_sigma.png``, ``quality_vs_time.png``, ``crops.png`` (zoomed crops of one image per method).

Each (method, dataset, sigma) cell is cached in ``out_dir/cache``: a stopped benchmark re-run with the same
settings redoes only the missing cells. CPU-bound classical methods run in parallel over images, one
process per worker (or in this process with ``workers=1``), on one thread either way; their time is the time
inside the method, summed over images (single-core seconds).
Networks run batched in this process with all of torch's threads.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from .classical import ClassicalDenoiser
from .data import ImageSet, load_dataset
from .devices import machine_description
from .evaluation import evaluate_images
from .metrics import mean_std
from .protocol import Protocol, get_protocol
from .resolve import UnknownMethodError, resolve

__all__ = ["Cell", "run_benchmark"]


@dataclass
class Cell:
    method: str
    sigma: float
    rows: list[dict]
    summary: dict


def _cache_key(identity: str, label: str, dataset: str, sigma: float, settings: dict) -> str:
    """A cell's identity: what the method is (its resolver identity: checksums, tuned rules), the data,
    sigma, the protocol settings and the noisefree version."""
    from . import __version__

    blob = json.dumps({"method": f"{identity}|{__version__}", "dataset": dataset, "sigma": sigma, **settings},
                      sort_keys=True)
    slug = "".join(c if c.isalnum() else "-" for c in Path(label).name)[:30]
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
        for fut in futures:
            r, s = fut.result()
            rows += r
            seconds += s
            if advance is not None:
                advance(len(rows), len(data))
        return sorted(rows, key=lambda r: r["index"]), seconds
    with _threads(1 if isinstance(den, ClassicalDenoiser) else torch.get_num_threads()):
        res = evaluate_images(den, data, noise, keep_samples=0, progress=advance, **kwargs)
    return res.rows, res.summary["seconds"]


@contextmanager
def _threads(n: int):
    """torch on ``n`` threads inside, as before outside: a classical method is timed on one core whether or
    not it runs in a worker process, so its seconds mean the same in every table."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_benchmark(methods: list[str], dataset: str, *, sigmas: list[float], protocol: str | Protocol = "standard",
                  out_dir, split: str = "test", subset: str | None = None, max_images: int | None = None,
                  data_root=None, seed: int = 0, estimate_sigma: bool = False, workers: int | None = None,
                  crop_image: int = 0, command: str = "", log=print, progress_factory=None) -> list[Cell]:
    """Run (or reuse from cache) every method x sigma cell and write the tables and figures.

    A method is anything :func:`noisefree.resolve.resolve` takes, or ``LABEL=PATH`` to name a checkpoint."""
    from .report import plot_benchmark, plot_crops

    protocol, out_dir = get_protocol(protocol), Path(out_dir)
    for sigma in sigmas:  # a level on the other protocol's scale is refused before anything is written
        protocol.std(sigma)
    workers = workers or os.cpu_count() or 1
    data = load_dataset(dataset, split=split, root=data_root, subset=subset)
    if max_images:
        data = data.select(range(min(max_images, len(data))))
    cache = out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    settings = {"split": split, "subset": subset, "max_images": max_images, "protocol": protocol.name, "seed": seed,
                "estimate_sigma": estimate_sigma, "n": len(data)}
    cells, skipped, denoisers = [], {}, {}
    with _pool(workers) as pool:
        for spec in methods:
            method, _, target = spec.rpartition("=") if "=" in spec else (spec, "", spec)
            try:
                resolved = resolve(target)
            except (ImportError, UnknownMethodError, KeyError) as exc:
                skipped[method] = exc.args[0] if exc.args else str(exc)
                log(f"skipping {method}: {skipped[method]}")
                continue
            den = denoisers[method] = resolved.denoiser
            for sigma in sigmas:
                noise = protocol.noise(sigma)
                key = _cache_key(resolved.identity, target, dataset, sigma, settings)
                cached = cache / f"{key}.json"
                if cached.is_file():
                    stored = json.loads(cached.read_text())
                    cells.append(Cell(method, sigma, stored["rows"], stored["summary"]))
                    log(f"{method} sigma {sigma:g}: cached ({stored['summary']['psnr_mean']:.2f} dB)")
                    continue
                kwargs = {"clip": protocol.clip(True), "seed": seed, "protocol": protocol,
                          "sigma": None if estimate_sigma else noise.sigma}
                advance = progress_factory(f"{method} σ={sigma:g}", len(data)) if progress_factory else None
                rows, seconds = _evaluate_cell(den, data, noise, kwargs, pool, workers, advance)
                megapixels = sum(h * w for h, w in data.sizes) / 1e6
                summary = {"method": method, "sigma": sigma, "images": len(rows), "seconds": seconds,
                           "seconds_per_megapixel": seconds / megapixels,
                           "single_core": isinstance(den, ClassicalDenoiser)}
                for k in ("psnr", "ssim", "noisy_psnr", "noisy_ssim"):
                    summary[f"{k}_mean"], summary[f"{k}_std"] = mean_std(r[k] for r in rows)
                tmp = cached.with_suffix(".tmp")
                tmp.write_text(json.dumps({"rows": rows, "summary": summary}))
                tmp.replace(cached)  # a cell is either complete or absent
                cells.append(Cell(method, sigma, rows, summary))
                log(f"{method} sigma {sigma:g}: PSNR {summary['psnr_mean']:.2f} dB, SSIM {summary['ssim_mean']:.4f}, "
                    f"{summary['seconds_per_megapixel']:.3g} s/MP")
    _write_tables(cells, skipped, data, out_dir, protocol=protocol, dataset=dataset, command=command)
    if cells:
        plot_benchmark(cells, out_dir, protocol)
        sigma = sigmas[len(sigmas) // 2]
        plot_crops(denoisers, data, protocol, sigma, index=min(crop_image, len(data) - 1), seed=seed,
                   path=out_dir / "crops.png", given_sigma=None if estimate_sigma else protocol.std(sigma))
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
    unit = protocol.sigma_label
    head = "| method | " + " | ".join(f"{unit} {s:g}: PSNR / SSIM" for s in sigmas) + " | s / megapixel |"
    lines = [f"`{command}`" if command else "", "",
             f"{len(data)} images of `{dataset}`, {protocol.name} protocol; mean over images. Time: "
             f"{machine_description()}.", "", head, "|" + "---|" * (len(sigmas) + 2)]
    for m in methods:
        cols = []
        for s in sigmas:
            r = by.get((m, s))
            cols.append(f"{r['psnr_mean']:.2f} / {r['ssim_mean']:.4f}" if r else "—")
        times = [by[(m, s)]["seconds_per_megapixel"] for s in sigmas if (m, s) in by]
        one = any(by[(m, s)].get("single_core") for s in sigmas if (m, s) in by)
        lines.append(f"| {m} | " + " | ".join(cols) + f" | {np.mean(times):.3g}{' (1 core)' if one else ''} |")
    for m, why in skipped.items():
        lines.append(f"| {m} | not run: {why} |" + " |" * len(sigmas))
    return "\n".join(lines) + "\n"
