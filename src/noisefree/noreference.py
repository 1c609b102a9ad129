"""Evaluation of real noisy images, which have no clean reference: what can be measured without one.

Nothing is added to the images. For each one, the denoiser runs as in use (σ estimated where it takes one),
and four numbers are reported:

* ``sigma_in`` / ``sigma_out``: the Gaussian noise std estimated in the input and in the output ([0, 1]
  scale; :func:`noisefree.noise.estimate_noise_sigma_sampled`). A good result has a small ``sigma_out``.
* ``removed_ratio``: the std of what was removed (``noisy - denoised``, Buades et al.'s "method noise")
  over ``sigma_in``. Near 1: about as much was removed as there was noise; well above 1: image content was
  removed too; well below 1: noise was left.
* ``edge_corr``: the correlation between the size of what was removed and the output's gradient magnitude.
  Removed noise does not know where the edges are (near 0); blurred edges and lost texture make it positive.

These are indicators, not a PSNR: a method can score well on them and still look wrong, so the report shows
the images too.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .data import ImageSet
from .denoiser import Denoiser
from .evaluation import EvalResult
from .metrics import mean_std
from .noise import estimate_noise_sigma_sampled

__all__ = ["evaluate_without_reference", "summary_line"]

KEYS = ("sigma_in", "sigma_out", "removed_ratio", "edge_corr")


def evaluate_without_reference(denoiser: Denoiser, data: ImageSet, *, keep_samples: int = 6,
                               progress=None) -> EvalResult:
    """Denoise every (noisy) image of ``data`` and measure it without a reference (see the module docstring)."""
    rows, samples, seconds = [], {"noisy": [], "denoised": []}, 0.0
    for idx in data.chunks(16):
        noisy = data.take(idx, torch.float32).cpu()
        t0 = time.perf_counter()
        out = denoiser(noisy, sigma=None).float().cpu()
        seconds += time.perf_counter() - t0
        for k, i in enumerate(idx):
            x, y = _hwc(noisy[k]), _hwc(out[k])
            rows.append({"index": int(data.index[i]), "file": data.files[i] if data.files else "", **_scores(x, y)})
            if len(samples["noisy"]) < keep_samples:
                samples["noisy"].append(np.clip(x, 0, 1))
                samples["denoised"].append(np.clip(y, 0, 1))
        if progress is not None:
            progress(len(rows), len(data))
    megapixels = sum(h * w for h, w in data.sizes) / 1e6
    summary = {"method": getattr(denoiser, "name", type(denoiser).__name__), "dataset": data.name,
               "images": len(rows), "reference": "none (noisy images as given)", "seconds": seconds,
               "seconds_per_megapixel": seconds / max(megapixels, 1e-12)}
    for key in KEYS:
        summary[f"{key}_mean"], summary[f"{key}_std"] = mean_std(r[key] for r in rows)
    return EvalResult(rows, summary, samples)


def summary_line(result: EvalResult) -> str:
    """One line: the averages of a no-reference evaluation, σ on the 8-bit scale."""
    s = result.summary
    return (f"{s['method']} on {s['dataset']} ({s['images']} noisy images, no reference): noise σ "
            f"{s['sigma_in_mean'] * 255:.2f} -> {s['sigma_out_mean'] * 255:.2f} (8-bit), removed/input noise "
            f"{s['removed_ratio_mean']:.3f}, removed-vs-edges correlation {s['edge_corr_mean']:.3f}")


def _hwc(t: torch.Tensor) -> np.ndarray:
    arr = t.permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def _scores(noisy: np.ndarray, out: np.ndarray) -> dict:
    sigma_in = estimate_noise_sigma_sampled(noisy)
    removed = (noisy - out).astype(np.float64)
    gray = out.mean(-1) if out.ndim == 3 else out
    gy, gx = np.gradient(gray.astype(np.float64))
    size = np.abs(removed).mean(-1) if removed.ndim == 3 else np.abs(removed)
    grad = np.hypot(gx, gy)
    corr = float(np.corrcoef(size.ravel(), grad.ravel())[0, 1]) if size.std() > 0 and grad.std() > 0 else 0.0
    return {"sigma_in": sigma_in, "sigma_out": estimate_noise_sigma_sampled(out),
            "removed_ratio": float(removed.std() / sigma_in) if sigma_in > 0 else float("nan"), "edge_corr": corr}
