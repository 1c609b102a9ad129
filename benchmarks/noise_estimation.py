"""How well is the noise level estimated from one image, and what does it change for the noise-map models?

    python benchmarks/noise_estimation.py --data ../shared/data
    python benchmarks/noise_estimation.py --data ../shared/data --no-psnr     # the estimates only

Part 1: each estimator of `noisefree.noise.estimate_noise_sigma` (`weak-texture`, the default, and
`wavelet`) on BSD68, Set12, CBSD68 and scikit-image's four colour photos with Gaussian noise of σ 0, 5, 15,
25 and 50 (8-bit scale, the standard protocol's noise: seeded per image, not clipped): the mean and the
standard deviation over images of the estimate, and the seconds per megapixel; the same on BSD68 and the
photos at σ 15, 25 and 50 with the noise clipped to [0, 1] and stored in 8 bits, as in photographs; and
`estimate_poisson_gaussian` on BSD68 with Poisson-Gaussian noise of three strengths, not clipped, and
clipped to [0, 1] (two of them, and Gaussian noise of σ 25).

Part 2: the shipped noise-map models `gray-blind` (BSD68; Set12 clipped) and `color-blind` (CBSD68, photos;
photos clipped) at σ 15, 25, 50, given the true σ (as the pretrained-quality table does, and as FFDNet's
published numbers are) and blind, with σ estimated from each noisy image by each estimator (what `den(x)`
and `noisefree denoise` do when no σ is given).
Both tables go into the README between <!-- noise-estimation:start/end --> markers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from common import ROOT, hardware, load_note, replace_block, skimage_photos
from noisefree.data import load_dataset
from noisefree.metrics import psnr
from noisefree.noise import (
    ESTIMATORS,
    Gaussian,
    PoissonGaussian,
    denoising_sigma,
    estimate_noise_sigma_sampled,
    estimate_poisson_gaussian,
    eval_noisy,
)
from noisefree.protocol import STANDARD
from noisefree.resolve import resolve


def noisy_images(images, sigma: float, *, clipped: bool = False):
    """(clean, noisy) tensors (1, C, H, W) of each image, noise as the standard protocol makes it; ``clipped``:
    then clipped to [0, 1] and rounded to 8 bits, as in a noisy photograph's file."""
    for i in range(len(images)):
        clean = images.image(i)
        noisy, _ = eval_noisy(clean, STANDARD.noise(sigma), [int(images.index[i])], clip=clipped)
        yield clean, (noisy * 255).round() / 255 if clipped else noisy.float()


def plane(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).squeeze(-1).numpy()


def accuracy(sets: dict, sigmas, clipped: dict) -> list[str]:
    """Each estimator on each set at each σ; then on the sets of ``clipped`` (name: its σs) with the noise
    clipped and stored in 8 bits (not timed)."""
    lines = ["| images | true σ | " + " | ".join(f"`{m}` σ" for m in ESTIMATORS) + " |",
             "|---|---|" + "---|" * len(ESTIMATORS)]
    seconds, pixels = dict.fromkeys(ESTIMATORS, 0.0), 0
    for m in ESTIMATORS:  # imports and first-call costs out of the timing
        estimate_noise_sigma_sampled(np.random.default_rng(0).random((64, 64)), method=m)
    runs = [(name, sigma, False) for name in sets for sigma in sigmas]
    runs += [(name, sigma, True) for name, levels in clipped.items() for sigma in levels]
    for name, sigma, clip in runs:
        images = sets[name]
        found = {m: [] for m in ESTIMATORS}
        for _, noisy in noisy_images(images, sigma, clipped=clip):
            pixels += 0 if clip else noisy[0].numel()
            for m in ESTIMATORS:
                t0 = time.perf_counter()
                found[m].append(estimate_noise_sigma_sampled(plane(noisy), method=m) * 255)
                seconds[m] += 0 if clip else time.perf_counter() - t0
        lines.append(f"| {name} ({len(images)}){', clipped, 8-bit' if clip else ''} | {sigma:g} | "
                     + " | ".join(f"{np.mean(v):.2f} ± {np.std(v):.2f}" for v in found.values()) + " |")
        print(lines[-1], flush=True)
    per_mp = ", ".join(f"`{m}` {seconds[m] / (pixels / 1e6):.3f} s" for m in ESTIMATORS)
    return lines + ["", f"Estimate ± its standard deviation over the images (8-bit scale). Seconds per megapixel "
                        f"(per channel plane, rows not clipped): {per_mp}."]


def poisson_gaussian(images, settings) -> list[str]:
    """`estimate_poisson_gaussian` on each image of ``images`` with Poisson-Gaussian noise of each (a, b, clip)."""
    lines = ["| images | true a, b | noise clipped to [0, 1] | a: median [10th, 90th percentile] "
             "| b: median [10th, 90th percentile] |", "|---|---|---|---|---|"]
    for a, b, clip in settings:
        fits = []
        for i in range(len(images)):
            clean = images.image(i)
            noise = PoissonGaussian(a, b) if a else Gaussian(np.sqrt(b))
            noisy, _ = eval_noisy(clean, noise, [int(images.index[i])], clip=clip)
            fits.append(estimate_poisson_gaussian(plane(noisy.float()).astype(np.float64)))
        fa, fb = np.array(fits).T
        lines.append(f"| BSD68 ({len(images)}) | {a:g}, {b:.3g} | {'yes' if clip else 'no'} | " + " | ".join(
            f"{np.median(v):.3g} [{np.percentile(v, 10):.3g}, {np.percentile(v, 90):.3g}]" for v in (fa, fb)) + " |")
        print(lines[-1], flush=True)
    return lines + ["", "Poisson-Gaussian fits ([0, 1] scale, noise variance a·x + b). With a = 0 the noise is "
                        "Gaussian (b = (25/255)²): clipped, it must not pass for shot noise."]


def blind_psnr(models: dict, sets: dict, sigmas) -> list[str]:
    """Each model (name: its sets; a set named "X, clipped" is X with the noise clipped and stored in 8 bits)
    given the true σ and blind."""
    modes = ["given", *ESTIMATORS]
    lines = ["| model | images | true σ | σ given | " + " | ".join(f"σ by `{m}`" for m in ESTIMATORS) + " |",
             "|---|---|---|---|" + "---|" * len(ESTIMATORS)]
    for model, set_names in models.items():
        den = resolve(model).denoiser
        for label in set_names:
            name, clipped = label.removesuffix(", clipped"), label.endswith(", clipped")
            for sigma in sigmas:
                scores = {m: [] for m in modes}
                for clean, noisy in noisy_images(sets[name], sigma, clipped=clipped):
                    for m in modes:
                        told = STANDARD.std(sigma) if m == "given" else denoising_sigma(  # as den(x) does
                            plane(noisy), estimate_noise_sigma_sampled(plane(noisy), method=m))
                        with torch.no_grad():
                            out = den(noisy, sigma=told)
                        scores[m].append(psnr(STANDARD.finish(out.float()), clean).item())
                lines.append(f"| `{model}` | {name} ({len(sets[name])}){', clipped, 8-bit' if clipped else ''} | "
                             f"{sigma:g} | "
                             + " | ".join(f"{np.mean(v):.3f}" for v in scores.values()) + " |")
                print(lines[-1], flush=True)
    return lines + ["", "Mean PSNR (dB), standard protocol (clipped rows: the noisy image clipped to [0, 1] and "
                        "stored in 8 bits, as a noisy photograph is; the models trained on unclipped noise). The "
                        "pretrained-quality table gives the models the true σ; the last columns are the same "
                        "models blind."]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--no-psnr", action="store_true", help="part 1 only (the README block is left as it is)")
    args = ap.parse_args()
    sets = {"BSD68": load_dataset(f"folder:{args.data / 'gray' / 'bsd68'}"),
            "Set12": load_dataset(f"folder:{args.data / 'gray' / 'set12'}"),
            "CBSD68": load_dataset(f"folder:{args.data / 'color' / 'cbsd68'}"),
            "photos": load_dataset(f"folder:{skimage_photos()}")}
    command = "python benchmarks/noise_estimation.py --data ../shared/data"
    lines = [f"`{command}`, {hardware()}, {torch.get_num_threads()} thread(s){load_note()}.", ""]
    lines += accuracy(sets, (0, 5, 15, 25, 50), clipped={"BSD68": (15, 25, 50), "photos": (15, 25, 50)})
    lines += [""] + poisson_gaussian(sets["BSD68"], [(0.01, 0.0004, False), (0.003, 0.0001, False),
                                                     (0.001, 0.00005, False), (0.01, 0.0004, True),
                                                     (0.003, 0.0001, True), (0.0, (25 / 255) ** 2, True)])
    if args.no_psnr:
        return
    lines += [""] + blind_psnr({"gray-blind": ["BSD68", "Set12, clipped"],
                                "color-blind": ["CBSD68", "photos", "photos, clipped"]}, sets, (15, 25, 50))
    replace_block(ROOT / "README.md", "noise-estimation", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
