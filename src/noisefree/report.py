"""Reports a person would rather look at than read: figures (PNG) and one ``report.md`` showing them.

* ``loss_curves.png`` — training and validation loss per epoch, and validation PSNR;
* ``samples.png`` — a grid of clean / noisy / denoised images with each image's PSNR;
* ``histograms.png`` — PSNR and SSIM across test images, noisy input against denoised output;
* ``report.md`` — the metrics table, the configuration, and the figures;
* for benchmarks: ``psnr_vs_sigma.png``, ``quality_vs_time.png`` and ``crops.png``.

Figures are :class:`matplotlib.figure.Figure` objects drawn straight to files: importing noisefree never
touches matplotlib's global backend or state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from .devices import machine_description
from .evaluation import EvalResult

__all__ = ["detailed_region", "plot_benchmark", "plot_crops", "plot_histograms", "plot_history", "plot_samples",
           "write_noreference_report", "write_report", "write_sigma_report"]


def plot_history(history: list[dict], path) -> Path:
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    losses = [h["train_loss"] for h in history], [h["val_loss"] for h in history]
    ax1.plot(epochs, losses[0], "o-", label="training")
    ax1.plot(epochs, losses[1], "s-", label="validation")
    positive = all(v > 0 for v in losses[0] + losses[1])  # the psnr loss is minus a PSNR in dB
    ax1.set(xlabel="epoch", ylabel="loss" if positive else "loss (dB)", title="Loss",
            yscale="log" if positive else "linear")
    ax1.legend()
    ax2.plot(epochs, [h["val_psnr"] for h in history], "o-", color="C2")
    ax2.set(xlabel="epoch", ylabel="PSNR (dB)", title="Validation PSNR")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)  # whole epochs
    return _save(fig, path)


def _show(ax, img):
    img = np.clip(img, 0, 1)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _image_grid(rows: list[tuple[str, list, list]], path) -> Path:
    """Images in labelled rows: each row is (label, images, one title or None per image)."""
    n = len(rows[0][1])
    fig = Figure(figsize=(1.6 * n + 0.8, 1.74 * len(rows)))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for i, (label, images, titles) in enumerate(rows):
        for j, (img, title) in enumerate(zip(images, titles)):
            _show(axes[i, j], img)
            if title:
                axes[i, j].set_title(title, fontsize=8)
        axes[i, 0].set_ylabel(label)
    return _save(fig, path)


def plot_samples(samples: dict, rows: list[dict], path) -> Path:
    n = len(samples["clean"])
    return _image_grid([("original", samples["clean"], [None] * n),
                        ("noisy", samples["noisy"], [f"{r['noisy_psnr']:.1f} dB" for r in rows[:n]]),
                        ("denoised", samples["denoised"], [f"{r['psnr']:.1f} dB" for r in rows[:n]])], path)


def plot_histograms(rows: list[dict], path) -> Path:
    fig = Figure(figsize=(10, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    for ax, key, unit in ((ax1, "psnr", "PSNR (dB)"), (ax2, "ssim", "SSIM")):
        noisy = [r[f"noisy_{key}"] for r in rows if np.isfinite(r[f"noisy_{key}"])]
        out = [r[key] for r in rows if np.isfinite(r[key])]
        bins = np.histogram_bin_edges(noisy + out, bins=30)
        ax.hist(noisy, bins=bins, alpha=0.6, label=f"noisy (mean {np.mean(noisy):.3g})")
        ax.hist(out, bins=bins, alpha=0.6, label=f"denoised (mean {np.mean(out):.3g})")
        ax.set(xlabel=unit, ylabel="images", title=f"{unit} across {len(out)} test images")
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_benchmark(cells, out_dir: Path, protocol) -> None:
    """``psnr_vs_sigma.png`` and ``quality_vs_time.png`` of a benchmark's cells."""
    methods = list(dict.fromkeys(c.method for c in cells))
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for m in methods:
        pts = sorted((c.sigma, c.summary["psnr_mean"]) for c in cells if c.method == m)
        ax.plot(*zip(*pts), "o-", label=m)
    ax.set(xlabel=f"noise {protocol.sigma_label}", ylabel="PSNR (dB)", title="PSNR against noise level")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, Path(out_dir) / "psnr_vs_sigma.png")

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for m in methods:
        mc = [c for c in cells if c.method == m]
        t = max(np.mean([c.summary["seconds_per_megapixel"] for c in mc]), 1e-4)
        q = np.mean([c.summary["psnr_mean"] for c in mc])
        ax.scatter(t, q, s=40)
        ax.annotate(m, (t, q), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set(xscale="log", xlabel=f"seconds per megapixel ({machine_description()})", ylabel="mean PSNR over σ (dB)",
           title="Quality against time")
    ax.grid(alpha=0.3)
    _save(fig, Path(out_dir) / "quality_vs_time.png")


def plot_crops(denoisers: dict, data, protocol, sigma: float, *, index: int, seed: int, path,
               given_sigma: float | None) -> Path:
    """Zoomed crops of image ``index`` at level ``sigma``: clean, noisy, then each method's output."""
    from .noise import eval_noisy

    clean = data.take([index], torch.float64).cpu()
    noisy, _ = eval_noisy(clean, protocol.noise(sigma), [seed + int(data.index[index])], clip=protocol.clip(True))
    noisy = noisy.float()
    h, w = clean.shape[-2:]
    ch, cw = min(max(h // 3, 16), h), min(max(w // 3, 16), w)
    y0, x0 = detailed_region(clean[0].mean(0).numpy(), ch, cw)
    panels = [("clean", clean.float()), ("noisy", noisy)]
    panels += [(name, den(noisy, sigma=given_sigma if getattr(den, "takes_sigma", True) else None).float().cpu())
               for name, den in denoisers.items() if name != "noisy"]
    fig = Figure(figsize=(2.2 * len(panels), 2.6))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (name, t) in zip(axes[0], panels):
        crop = protocol.finish(t)[0, :, y0:y0 + ch, x0:x0 + cw].permute(1, 2, 0).squeeze(-1).numpy()
        _show(ax, crop)
        ax.set_title(name, fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{Path(data.files[index]).name if data.files else f'image {index}'}, σ {sigma:g}", fontsize=9)
    return _save(fig, path)


def detailed_region(image: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """Top-left corner of the ``height`` x ``width`` window of a 2-D image with the most gradient energy: where
    a zoomed crop shows what denoising keeps or loses, not a flat patch of sky."""
    gy, gx = np.gradient(np.asarray(image, dtype=np.float64))
    energy = np.pad((gx * gx + gy * gy).cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # summed-area table
    sums = (energy[height:, width:] - energy[:-height, width:] - energy[height:, :-width]
            + energy[:-height, :-width])
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y), int(x)


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_report(out_dir, result: EvalResult, *, title: str, history: list[dict] | None = None,
                 config_yaml: str | None = None, extra: str = "") -> Path:
    """Draw the figures and write ``report.md`` in ``out_dir``; returns the report's path."""
    out_dir = Path(out_dir)
    figs = out_dir / "figures"
    s = result.summary
    parts = [f"# {title}\n", extra,
             f"Evaluated on **{s['images']}** images of `{s['dataset']}`, noise `{s['noise']}` "
             f"(noisy image {'clipped' if s['clip_noisy'] else 'not clipped'}; {s['protocol']} protocol, "
             f"seed {s['seed']}).\n",
             "| | PSNR (dB) | SSIM |", "|---|---|---|",
             f"| noisy input | {s['noisy_psnr_mean']:.2f} ± {s['noisy_psnr_std']:.2f} | "
             f"{s['noisy_ssim_mean']:.4f} ± {s['noisy_ssim_std']:.4f} |",
             f"| **{s['method']}** | **{s['psnr_mean']:.2f}** ± {s['psnr_std']:.2f} | "
             f"**{s['ssim_mean']:.4f}** ± {s['ssim_std']:.4f} |", "",
             f"Denoising took {s['seconds']:.2f} s ({s['seconds_per_megapixel']:.3g} s per megapixel). "
             "Per-image values: [metrics.csv](metrics.csv); summary: [summary.json](summary.json).\n"]
    if history:
        plot_history(history, figs / "loss_curves.png")
        best = max(history, key=lambda h: h["val_psnr"])
        parts += ["## Training\n", f"{len(history)} epochs; best validation PSNR {best['val_psnr']:.2f} dB at "
                  f"epoch {best['epoch']}. History: [history.csv](history.csv).\n",
                  "![loss curves](figures/loss_curves.png)\n"]
    if result.samples.get("clean"):
        plot_samples(result.samples, result.rows, figs / "samples.png")
        parts += ["## Samples\n", "Rows: original, noisy, denoised (PSNR above each).\n",
                  "![samples](figures/samples.png)\n"]
    plot_histograms(result.rows, figs / "histograms.png")
    parts += ["## Distribution over test images\n", "![histograms](figures/histograms.png)\n"]
    if config_yaml:
        parts += ["## Configuration\n", "```yaml", config_yaml.rstrip(), "```\n"]
    report = out_dir / "report.md"
    report.write_text("\n".join(parts))
    return report


def write_sigma_report(out_dir, results: list, protocol, *, title: str) -> Path:
    """``report.md`` and ``quality_vs_sigma.png`` over several noise levels: ``results`` is a list of
    (level, :class:`EvalResult`); each level's own report lies in ``sigmaLEVEL/`` beside it."""
    out_dir = Path(out_dir)
    levels = [level for level, _ in results]
    summaries = [r.summary for _, r in results]
    fig = Figure(figsize=(10, 3.6))
    for ax, key, unit in zip(fig.subplots(1, 2), ("psnr", "ssim"), ("PSNR (dB)", "SSIM")):
        ax.plot(levels, [s[f"{key}_mean"] for s in summaries], "o-", label=summaries[0]["method"])
        ax.plot(levels, [s[f"noisy_{key}_mean"] for s in summaries], "s--", color="gray", label="noisy input")
        ax.set(xlabel=f"noise {protocol.sigma_label}", ylabel=unit, title=f"{unit} against noise level")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, out_dir / "quality_vs_sigma.png")
    s0 = summaries[0]
    lines = [f"# {title}\n", f"{s0['images']} images of `{s0['dataset']}`, {protocol.name} protocol, seed "
             f"{s0['seed']}; one folder per level with its own report.\n",
             f"| {protocol.sigma_label} | PSNR (dB) | SSIM | noisy PSNR | noisy SSIM | report |",
             "|---|---|---|---|---|---|"]
    for level, s in zip(levels, summaries):
        lines.append(f"| {level:g} | {s['psnr_mean']:.2f} ± {s['psnr_std']:.2f} | {s['ssim_mean']:.4f} | "
                     f"{s['noisy_psnr_mean']:.2f} | {s['noisy_ssim_mean']:.4f} | "
                     f"[sigma{level:g}](sigma{level:g}/report.md) |")
    lines += ["", "![quality against sigma](quality_vs_sigma.png)", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report


def write_noreference_report(out_dir, result: EvalResult, *, title: str):
    """``report.md`` with the four indicators and noisy / denoised pairs (``figures/samples.png``)."""
    out_dir = Path(out_dir)
    s = result.summary
    n = len(result.samples["noisy"])
    if n:
        _image_grid([("noisy", result.samples["noisy"], [f"σ≈{r['sigma_in'] * 255:.1f}/255" for r in result.rows[:n]]),
                     ("denoised", result.samples["denoised"], [None] * n)], out_dir / "figures" / "samples.png")
    lines = [f"# {title}\n", f"{s['images']} images of `{s['dataset']}`, taken as noisy as they are: no clean "
             "reference, no noise added. What the numbers mean: see `noisefree.noreference`.\n",
             "| | mean ± std | ideal |", "|---|---|---|",
             f"| noise σ in the input (8-bit) | {s['sigma_in_mean'] * 255:.2f} ± {s['sigma_in_std'] * 255:.2f} | — |",
             f"| noise σ left in the output (8-bit) | {s['sigma_out_mean'] * 255:.2f} ± "
             f"{s['sigma_out_std'] * 255:.2f} | 0 |",
             f"| removed / input noise | {s['removed_ratio_mean']:.3f} ± {s['removed_ratio_std']:.3f} | 1 |",
             f"| removed size vs. edges (correlation) | {s['edge_corr_mean']:.3f} ± {s['edge_corr_std']:.3f} | 0 |",
             "", f"Denoising took {s['seconds']:.2f} s ({s['seconds_per_megapixel']:.3g} s per megapixel). Per image: "
             "[metrics.csv](metrics.csv).\n"]
    if n:
        lines += ["![noisy and denoised](figures/samples.png)\n"]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report
