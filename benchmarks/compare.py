"""The README's "How noisefree compares" tables: every method on the same noisy images, per dataset.

    python benchmarks/compare.py --data ../shared/data --only bsd68
    python benchmarks/compare.py --data ../shared/data --only cbsd68
    python benchmarks/compare.py --only photos --methods noisy,bm3d --networks color-blind   # colour photos
    python benchmarks/compare.py --data ../shared/data --only mnist --networks runs/mnist-a,runs/mnist-b
    python benchmarks/compare.py --data ../shared/data --only cifar10 --networks ...

Each table is `noisefree benchmark` output (cached in benchmarks/out/compare/NAME, so re-runs are cheap),
copied into the README between <!-- compare-NAME:start/end --> markers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import OUT, ROOT, cifar10_folders, replace_block, skimage_photos
from noisefree.benchmark import run_benchmark

CLASSICAL = ["noisy", "bm3d", "nlm", "tv", "wavelet", "bilateral", "median", "gaussian"]


def suites(data: Path) -> dict:
    return {
        "bsd68": dict(dataset=f"folder:{data / 'gray' / 'bsd68'}", sigmas=[15, 25, 50], protocol="standard"),
        "cbsd68": dict(dataset=f"folder:{data / 'color' / 'cbsd68'}", sigmas=[15, 25, 50], protocol="standard"),
        # color BM3D costs ~36 s per CBSD68 image on one core: it runs on every 4th image (17), beside NLM/TV
        "cbsd68-bm3d": dict(dataset=f"folder:{data / 'color' / 'cbsd68'}", subset="0:68:4", sigmas=[15, 25, 50],
                            protocol="standard"),
        # BM3D (the bm3d package) costs ~1 s per 28x28 or 32x32 image, whatever its size: the small-image
        # tables use every 10th protocol digit / every 5th protocol CIFAR image (200 each, protocol seeds)
        "mnist": dict(dataset="mnist", data_root=str(data / "mnist"), split="test", subset="8000:10000:10",
                      sigmas=[0.1, 0.3, 0.5], protocol="small"),
        "cifar10": dict(dataset="cifar10-jpeg", subset="0:1000:5", sigmas=[0.1, 0.2, 0.3], protocol="small"),
        # colour photographs from outside CBSD68 (scikit-image's astronaut, chelsea, coffee, rocket)
        "photos": dict(dataset="skimage-photos", sigmas=[15, 25, 50], protocol="standard"),
    }


def preset_networks(name: str) -> list[str]:
    """LABEL=RUN for each preset run of benchmarks/presets.py on this dataset (label names its noise)."""
    results = json.loads((OUT / "presets.json").read_text())
    return [f"{preset} (trained {r['noise']})={ROOT / r['run']}" for preset, r in results.items()
            if "run" in r and name in preset]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--only", required=True, choices=["bsd68", "cbsd68", "cbsd68-bm3d", "mnist", "cifar10", "photos"])
    ap.add_argument("--methods", default=",".join(CLASSICAL))
    ap.add_argument("--networks", default="", help="comma-separated LABEL=PATH run folders or checkpoints to add")
    ap.add_argument("--preset-networks", action="store_true",
                    help="add the runs of benchmarks/presets.py trained on this dataset")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    suite = dict(suites(args.data)[args.only])
    if suite["dataset"] == "cifar10-jpeg":
        suite["dataset"] = f"folder:{cifar10_folders(args.data)[1]}"
    if suite["dataset"] == "skimage-photos":
        suite["dataset"] = f"folder:{skimage_photos()}"
    networks = [n for n in args.networks.split(",") if n]
    if args.preset_networks:
        networks += preset_networks(args.only)
    methods = [m for m in args.methods.split(",") if m] + networks
    command = (f"python benchmarks/compare.py --data ../shared/data --only {args.only}"
               + (f" --methods {args.methods}" if args.methods != ",".join(CLASSICAL) else "")
               + (f" --networks {args.networks}" if args.networks else "")
               + (" --preset-networks" if args.preset_networks else ""))
    run_benchmark(methods, out_dir=OUT / "compare" / args.only, workers=args.workers, command=command, **suite)
    table = (OUT / "compare" / args.only / "results.md").read_text()
    table = table.replace(str(args.data.resolve()), "../shared/data").replace(str(args.data), "../shared/data")
    table = table.replace(str(OUT), "benchmarks/out")
    replace_block(ROOT / "README.md", f"compare-{args.only}", table)
    print(table)


if __name__ == "__main__":
    main()
