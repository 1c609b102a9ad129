"""Tune each classical method's parameter as a function of sigma, on training images only.

    python benchmarks/tune_classical.py --data ../shared/data --images 8

For sigma = 15, 25, 50 (8-bit scale) and each method, a grid of parameter values is scored by mean PSNR
on the first N images of gray/train400 (never a test set) under the standard protocol (noise from
default_rng(i), not clipped; output clipped and rounded to 8 bits; sigma given). The best value per sigma
is written to src/noisefree/assets/classical_params.json; noisefree interpolates between them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import ROOT
from noisefree.classical import ClassicalDenoiser
from noisefree.data import load_dataset
from noisefree.evaluation import evaluate_images
from noisefree.noise import Gaussian

GRIDS = {
    "nlm": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2],
    "tv": [0.3, 0.45, 0.6, 0.8, 1.0, 1.25, 1.6, 2.0],
    "wavelet": [0.6, 0.8, 1.0, 1.2, 1.5, 2.0],
    "bilateral": [0.5, 1.0, 1.5, 2.0, 3.0, 4.0],
    "median": [3, 5, 7, 9, 11],
    "gaussian": [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5],
}
SIGMAS = [15, 25, 50]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--images", type=int, default=8)
    args = ap.parse_args()
    data = load_dataset(f"folder:{args.data / 'gray' / 'train400'}", subset=f"0:{args.images}")
    out = {"tuned_on": f"gray/train400, first {args.images} images (sorted names)", "protocol": "standard",
           "command": f"python benchmarks/tune_classical.py --data ../shared/data --images {args.images}",
           "methods": {}}
    for method, grid in GRIDS.items():
        best, scores = [], {}
        for s in SIGMAS:
            t0 = time.time()
            row = {}
            for p in grid:
                res = evaluate_images(ClassicalDenoiser(method, parameter=p), data, Gaussian(s / 255),
                                      protocol="standard", sigma=s / 255, keep_samples=0)
                row[str(p)] = round(res.summary["psnr_mean"], 3)
            scores[str(s)] = row
            best.append(float(max(grid, key=lambda p: row[str(p)])))
            print(f"{method:10s} sigma {s:2d}: best {best[-1]:g} ({max(row.values()):.2f} dB)  "
                  f"[{time.time() - t0:.0f} s] {row}", flush=True)
        out["methods"][method] = {"sigma_8bit": SIGMAS, "best": best, "psnr_by_value": scores}
    path = ROOT / "src" / "noisefree" / "assets" / "classical_params.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
