"""Where a colour denoiser's error lies, luma (Y) or chroma (Cb, Cr), and whether the clean images store their
colour at half resolution (JPEG 4:2:0): why a model trained on CBSD432 at one scale trails CBM3D on photos.

    python benchmarks/chroma.py --data ../shared/data --methods color-blind,bm3d --sigma 15

For scikit-image's four colour photographs and the first four CBSD68 images (noise seeded per image as in
the standard protocol), prints the chroma subsampling ratio -- the mean |horizontal Cb/Cr difference| across
odd over even column boundaries: about 1 when colour is stored at full resolution, 1.3-2 when it was stored
at half resolution and interpolated up -- and each method's mean squared error in Y, Cb and Cr (ITU-R BT.601,
8-bit scale), on outputs finished as the standard protocol scores them. The table goes to OUT/chroma.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from skimage.color import rgb2ycbcr

from common import OUT, ROOT, hardware, labelled, skimage_photos
from noisefree.data import load_dataset
from noisefree.noise import eval_noisy
from noisefree.protocol import STANDARD
from noisefree.resolve import resolve


def subsampling_ratio(rgb: np.ndarray) -> float:
    """Mean |horizontal chroma difference| across odd column boundaries over that across even ones."""
    ycc = rgb2ycbcr(rgb)[..., 1:]
    dx = np.abs(np.diff(ycc, axis=1))
    return float(dx[:, 1::2].mean() / dx[:, 0::2].mean())


def channel_mse(out: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Mean squared error in Y, Cb, Cr (8-bit scale) of two (H, W, 3) RGB images on [0, 1]."""
    return ((rgb2ycbcr(out) - rgb2ycbcr(clean)) ** 2).mean(axis=(0, 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--methods", default="color-blind,bm3d", help="comma-separated method names or LABEL=PATH")
    ap.add_argument("--sigma", type=float, default=15.0, help="noise level on the 8-bit scale")
    args = ap.parse_args()
    sets = {"photos": load_dataset(f"folder:{skimage_photos()}"),
            "CBSD68": load_dataset(f"folder:{args.data / 'color' / 'cbsd68'}", subset="0:4")}
    methods = labelled(args.methods)
    noise = STANDARD.noise(args.sigma)
    head = " | ".join(f"{label} Y / Cb / Cr" for label, _ in methods)
    lines = [f"`python benchmarks/chroma.py --data ../shared/data --methods {args.methods} --sigma {args.sigma:g}`",
             "", f"Mean squared error per YCbCr channel (8-bit scale) at σ {args.sigma:g}; {hardware()}.", "",
             f"| set | image | chroma ratio | {head} |", "|---|---|---|" + "---|" * len(methods)]
    dens = {label: resolve(spec).denoiser for label, spec in methods}
    for set_name, images in sets.items():
        for i in range(len(images)):
            clean = images.image(i)
            noisy, _ = eval_noisy(clean, noise, [int(images.index[i])], clip=False)
            rgb = clean[0].permute(1, 2, 0).double().numpy()
            cells = []
            for den in dens.values():
                with torch.no_grad():
                    out = STANDARD.finish(den(noisy.float(), sigma=noise.sigma_min)[0].float())
                cells.append(" / ".join(f"{e:.2f}" for e in channel_mse(out.permute(1, 2, 0).double().numpy(), rgb)))
            row = f"| {set_name} | {Path(images.files[i]).stem} | {subsampling_ratio(rgb):.2f} | {' | '.join(cells)} |"
            lines.append(row)
            print(row, flush=True)
    (OUT / "chroma.md").parent.mkdir(parents=True, exist_ok=True)
    (OUT / "chroma.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
