"""Check that our BM3D reproduces the published reference under the standard protocol.

    python benchmarks/bm3d_reference.py --data ../shared/data

Reference (bm3d 4.0.3, ../shared/data/README.md): Set12 30.01 dB and BSD68 28.62 dB at sigma 25. Passes
when both are within 0.05 dB; writes the result into the README (<!-- bm3d-check --> block) and exits 1
otherwise. BSD68 shares its cache with `benchmarks/compare.py --only bsd68`.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

from common import OUT, ROOT, replace_block
from noisefree.benchmark import run_benchmark
from noisefree.devices import machine_description

REFERENCE = {"set12": 30.01, "bsd68": 28.62}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    lines = ["| test set | reference BM3D, σ 25 | noisefree `bm3d`, σ 25 | difference | within 0.05 dB |",
             "|---|---|---|---|---|"]
    ok = True
    for name, ref in REFERENCE.items():
        out = OUT / "compare" / name if name == "bsd68" else OUT / "bm3d-set12"
        sigmas = [15, 25, 50] if name == "bsd68" else [25]
        cells = run_benchmark(["bm3d"], f"folder:{args.data / 'gray' / name}", sigmas=sigmas, out_dir=out)
        ours = next(c.summary["psnr_mean"] for c in cells if c.sigma == 25)
        good = abs(ours - ref) <= 0.05
        ok &= good
        lines.append(f"| {name} | {ref:.2f} dB | {ours:.2f} dB | {ours - ref:+.3f} dB | {'yes' if good else 'NO'} |")
    lines.append(f"\nbm3d {version('bm3d')}; `python benchmarks/bm3d_reference.py --data ../shared/data` on "
                 f"{machine_description()}.")
    text = "\n".join(lines)
    replace_block(ROOT / "README.md", "bm3d-check", text)
    print(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
