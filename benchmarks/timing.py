"""Cost of every method, measured in one run on an otherwise idle machine.

    python benchmarks/timing.py --data ../shared/data --images 4

Times each method on the same noisy BSD68 images (sigma 25, standard protocol), one after the other in one
process: classical methods single-threaded on one core, networks with all of torch's CPU threads (their
cost does not depend on the weights, so the architectures are timed with the shipped defaults' shapes).
Writes seconds per megapixel and the ratio to `tv` into the README (<!-- timing --> block).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from common import ROOT, replace_block
from noisefree.classical import ClassicalDenoiser
from noisefree.data import load_dataset
from noisefree.denoiser import NetworkDenoiser
from noisefree.devices import machine_description
from noisefree.models import build_model
from noisefree.noise import Gaussian, eval_noisy

METHODS = ["bm3d", "nlm", "tv", "wavelet", "bilateral", "median", "gaussian"]
NETWORKS = {"dncnn (17x64)": ("dncnn", {}), "unet (width 32)": ("unet", {"width": 32}),
            "pool-ae": ("pool-ae", {})}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--images", type=int, default=4)
    args = ap.parse_args()
    data = load_dataset(f"folder:{args.data / 'gray' / 'bsd68'}", subset=f"0:{args.images}")
    noisy = [eval_noisy(data.image(i).double(), Gaussian(25 / 255), [i], clip=False)[0].float()
             for i in range(len(data))]
    mp = sum(h * w for h, w in data.sizes) / 1e6
    rows = {}
    threads = torch.get_num_threads()
    for name in METHODS:
        torch.set_num_threads(1)
        den = ClassicalDenoiser(name)
        den(noisy[0][..., :64, :64], sigma=25 / 255)  # warm-up
        t0 = time.perf_counter()
        for x in noisy:
            den(x, sigma=25 / 255)
        rows[name] = ((time.perf_counter() - t0) / mp, "1 thread")
        print(name, rows[name], flush=True)
    torch.set_num_threads(threads)
    for label, (arch, kw) in NETWORKS.items():
        den = NetworkDenoiser(build_model(arch, channels=1, **kw), {"architecture": arch, "channels": 1})
        den(noisy[0][..., :64, :64])
        t0 = time.perf_counter()
        for x in noisy:
            den(x)
        rows[label] = ((time.perf_counter() - t0) / mp, f"{threads} threads")
        print(label, rows[label], flush=True)
    ref = rows["tv"][0]
    lines = ["| method | seconds per megapixel | relative to tv | threads |", "|---|---|---|---|"]
    lines += [f"| {k} | {v:.3g} | {v / ref:.2g}x | {t} |" for k, (v, t) in rows.items()]
    lines.append(f"\n{args.images} BSD68 images ({mp:.2f} MP), σ 25, one run on {machine_description()}, "
                 f"torch {torch.__version__.split('+')[0]}: `python benchmarks/timing.py --data ../shared/data "
                 f"--images {args.images}`.")
    replace_block(ROOT / "README.md", "timing", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
