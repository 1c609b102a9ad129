"""Does the σ slider do something? PSNR of each noise-map model when told a σ other than the true one.

    python benchmarks/sigma_slider.py --data ../shared/data
    python benchmarks/sigma_slider.py --data ../shared/data --models "gray-blind,color-blind round 3=DIR"

For every model, images with true noise σ 15 and σ 50 (8-bit scale, standard protocol: noise seeded per
image, not clipped, output rounded) are denoised with σ estimated (`auto`) and with the map set to 5, 15, 25,
50 and 75. A model that reads its map loses quality when told the wrong σ (too low: noise is left; too high:
detail is smoothed away); a model that ignores it gives one number across the row. Gray models: Set12's
first 6 images; colour models: CBSD68's first 6. The table goes into the README between
<!-- sigma-slider:start/end --> markers (only when every model is the shipped one, unless --readme).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from common import ROOT, hardware, labelled, replace_block
from noisefree.data import load_dataset
from noisefree.metrics import psnr
from noisefree.noise import eval_noisy
from noisefree.protocol import STANDARD
from noisefree.resolve import resolve

GIVEN = [None, 5, 15, 25, 50, 75]


def response(den, images, true_sigma: float) -> list[float]:
    """Mean PSNR over ``images`` (noise σ ``true_sigma``, 8-bit scale) for each σ told in GIVEN."""
    scores = np.zeros((len(images), len(GIVEN)))
    for i in range(len(images)):
        clean = images.image(i)
        noisy, _ = eval_noisy(clean, STANDARD.noise(true_sigma), [int(images.index[i])], clip=False)
        for j, given in enumerate(GIVEN):
            with torch.no_grad():
                out = den(noisy.float(), sigma=None if given is None else STANDARD.std(given))
            scores[i, j] = psnr(STANDARD.finish(out.float()), clean).item()
    return scores.mean(0).tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--models", default="gray-blind,color-blind", help="names or LABEL=PATH, comma-separated")
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--readme", action="store_true", help="write the README block even for other models")
    args = ap.parse_args()
    models = labelled(args.models)
    sets = {1: ("Set12", args.data / "gray" / "set12"), 3: ("CBSD68", args.data / "color" / "cbsd68")}
    lines = [f"`python benchmarks/sigma_slider.py --data ../shared/data --models \"{args.models}\"`", "",
             f"Mean PSNR (dB) on the first {args.images} images, standard protocol, {hardware()}.", "",
             "| model | images | true σ | " + " | ".join("σ auto" if g is None else f"told {g}" for g in GIVEN)
             + " |", "|---|---|---|" + "---|" * len(GIVEN)]
    for label, spec in models:
        den = resolve(spec).denoiser
        name, folder = sets[den.channels]
        images = load_dataset(f"folder:{folder}", subset=f"0:{args.images}")
        for true_sigma in (15, 50):
            row = response(den, images, true_sigma)
            lines.append(f"| {label} | {name} | {true_sigma} | " + " | ".join(f"{p:.2f}" for p in row) + " |")
            print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    print(table)
    if args.readme or all(label == spec for label, spec in models):
        replace_block(ROOT / "README.md", "sigma-slider", table)


if __name__ == "__main__":
    main()
