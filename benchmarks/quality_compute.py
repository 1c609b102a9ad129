"""The README's quality-compute curve: BSD68 sigma 25 PSNR against multiply-accumulates per pixel for CNN
denoisers from cheap to DnCNN-size, all trained alike, with CPU seconds per megapixel.

    python benchmarks/quality_compute.py --data ../shared/data      # train what is missing, time, write
    python benchmarks/quality_compute.py --data ../shared/data --only dncnn --no-table   # one design (e.g. in parallel)
    python benchmarks/quality_compute.py --epochs 100 --patches 64 --device cuda      # a converged curve (GPU)

Every design is trained on train400 (360 train / 40 validation) for the same budget: the same 64x64 crops
(``--patches`` per image and epoch, 8 flips/rotations), batch 16, ``--epochs`` epochs, Adam 1e-3 with a
cosine schedule, seed 0; blind Gaussian noise of std 0-55 (8-bit scale), not clipped, and a noise-level map
input for all, so only the architecture differs. The checkpoint kept is the one with the best validation loss
(train400's held-out 40); BSD68 is only scored. Scoring: the standard protocol at sigma 25, the true sigma
given to the noise map. MACs per pixel are counted by torch.utils.flop_counter on a 256 x 256 input; CPU
seconds per megapixel are timed in one run for all designs (``den(x, sigma)`` on a 1024 x 1024 image,
batch norms folded, median of 5 after a warm-up, all torch threads), so their ratios hold. Results are kept
in OUT/quality_compute/DESIGN.json (OUT: --out), so a re-run only redoes what is missing; the table goes
into the README between <!-- quality-compute:start/end --> and the plot into
docs/figures/quality_compute.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import noisefree as nf
from common import OUT, ROOT, hardware, replace_block
from noisefree.config import RunConfig
from noisefree.data import load_dataset
from noisefree.evaluation import evaluate_images
from speed import inference_mp_per_s, macs_per_pixel

# name -> (architecture, arguments, what it is); cheapest first
DESIGNS = {
    "unet-w8": ("unet", {"width": 8, "levels": 4, "blocks": 2}, "U-Net, width 8"),
    "unet-w16": ("unet", {"width": 16, "levels": 4, "blocks": 2}, "U-Net, width 16 (gray-blind's, rounds 1-6)"),
    "ffdnet": ("ffdnet", {"depth": 15, "width": 64}, "FFDNet, 15 x 64 at half resolution"),
    "unet-w24": ("unet", {"width": 24, "levels": 4, "blocks": 2}, "U-Net, width 24"),
    "dncnn": ("dncnn", {"depth": 17, "width": 64}, "DnCNN, 17 x 64 (DnCNN-B's size)"),
}
SIGMA = 25 / 255
BATCH, TRAIN_IMAGES = 16, 360  # train400 less its 40 validation images (val_fraction 0.1)
# Published BSD68 sigma-25 results at their full training (not re-measured): TNRD and DnCNN-B from Zhang et al.,
# IEEE TIP 2017; FFDNet from Zhang et al., IEEE TIP 2018. MACs per pixel: DnCNN's and FFDNet's counted here for the
# same architectures (17 x 64; 15 x 64 on the unshuffled image), TNRD's (5 stages of 48 7x7 filters) as issue 11
# quotes it.
PUBLISHED = {"TNRD": (23.5e3, 28.92), "FFDNet": (121.1e3, 29.19), "DnCNN-B": (554.7e3, 29.16)}
BM3D = 28.57  # BSD68 sigma 25, same source as DnCNN-B


def recipe(design: str, data: Path, epochs: int, patches: int, device: str) -> RunConfig:
    arch, args, _ = DESIGNS[design]
    return RunConfig.validated({
        "name": f"curve-{design}", "dataset": f"folder:{data / 'gray' / 'train400'}", "val_fraction": 0.1,
        "patch_size": 64, "patches_per_image": patches, "augment": True, "noise": "gaussian:0-0.216",
        "clip": False, "model": arch, "model_args": {**args, "noise_map": True}, "epochs": epochs,
        "batch_size": BATCH, "lr": 1e-3, "schedule": "cosine", "seed": 0, "device": device, "eval_images": 1})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--patches", type=int, default=10, help="64x64 crops per training image and epoch")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--only", default=None, help="comma-separated designs to train if missing, e.g. dncnn")
    ap.add_argument("--no-table", action="store_true", help="train and score only; no timing, README or plot")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    out = args.out / "quality_compute"
    out.mkdir(parents=True, exist_ok=True)
    designs = args.only.split(",") if args.only else list(DESIGNS)
    unknown = set(designs) - set(DESIGNS)
    if unknown:
        raise SystemExit(f"unknown design(s) {', '.join(sorted(unknown))}; known: {', '.join(DESIGNS)}")
    bsd68 = None
    for design in designs:
        store = out / f"{design}.json"
        if store.is_file():
            continue
        t0 = time.perf_counter()
        run = nf.train(recipe(design, args.data, args.epochs, args.patches, args.device), out=out / "runs",
                       quiet=True)
        minutes = (time.perf_counter() - t0) / 60
        bsd68 = bsd68 or load_dataset(f"folder:{args.data / 'gray' / 'bsd68'}")
        den = nf.load(run)
        res = evaluate_images(den, bsd68, f"gaussian:{SIGMA}", clip=False, protocol="standard", sigma=SIGMA,
                              keep_samples=0)
        steps = args.epochs * args.patches * TRAIN_IMAGES // BATCH
        store.write_text(json.dumps({
            "run": str(run), "psnr": res.summary["psnr_mean"], "ssim": res.summary["ssim_mean"],
            "params": sum(p.numel() for p in den.model.parameters()), "epochs": args.epochs,
            "patches": args.patches, "steps": steps, "minutes": minutes, "threads": torch.get_num_threads(),
            "hardware": hardware()}, indent=1))
        print(f"{design}: {res.summary['psnr_mean']:.2f} dB after {steps} steps, {minutes:.1f} min", flush=True)
    if args.no_table:
        return
    results = {d: json.loads((out / f"{d}.json").read_text()) for d in DESIGNS if (out / f"{d}.json").is_file()}
    for design, r in results.items():  # all timings in one run, so their ratios hold
        den = nf.load(r["run"])
        r["macs"] = macs_per_pixel(den.model.cpu(), 1, True)
        r["s_per_mp"] = 1 / inference_mp_per_s(den, 1, str(den.device), sigma=SIGMA, repeats=5)
        print(f"{design}: {r['macs'] / 1e3:.1f} kMAC/pixel, {r['s_per_mp']:.2f} s/MP", flush=True)
    table = markdown(results)
    (out / "results.md").write_text(table)
    plot(results, ROOT / "docs" / "figures" / "quality_compute.png")
    replace_block(ROOT / "README.md", "quality-compute", table)
    print(table)


def markdown(results: dict) -> str:
    any_r = next(iter(results.values()))
    lines = [f"`python benchmarks/quality_compute.py --data ../shared/data --epochs {any_r['epochs']} "
             f"--patches {any_r['patches']}`", "",
             f"Same budget for every design: {any_r['steps']} steps of {BATCH} crops of 64x64 from train400 "
             "(blind σ 0–55, noise-level map input), Adam 1e-3 cosine; BSD68 σ 25, standard protocol, true σ given. "
             f"Seconds per megapixel: one 1024² image, {torch.get_num_threads()} threads, one run on {hardware()}.", "",
             "| design | parameters | kMAC / pixel | CPU s / MP | BSD68 σ 25 PSNR / SSIM "
             "| training (1 thread; 2–3 runs shared the cores) |",
             "|---|---|---|---|---|---|"]
    for design, r in results.items():
        lines.append(f"| {DESIGNS[design][2]} | {r['params'] / 1e6:.2f} M | {r['macs'] / 1e3:.1f} | "
                     f"{r['s_per_mp']:.2f} | {r['psnr']:.2f} / {r['ssim']:.4f} | {r['minutes']:.0f} min |")
    lines += ["", "Published at full training (not re-measured): " + ", ".join(
        f"{k} {psnr:.2f} dB at {macs / 1e3:.1f} kMAC/pixel" for k, (macs, psnr) in PUBLISHED.items())
        + f"; BM3D {BM3D:.2f}."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    steps = next(iter(results.values()))["steps"]
    unets = [d for d in results if DESIGNS[d][0] == "unet"]
    ax.plot([results[d]["macs"] / 1e3 for d in unets], [results[d]["psnr"] for d in unets], "o-", color="tab:blue",
            label=f"U-Nets trained here ({steps} steps)")
    plain = [d for d in results if DESIGNS[d][0] != "unet"]
    ax.plot([results[d]["macs"] / 1e3 for d in plain], [results[d]["psnr"] for d in plain], "D", color="tab:orange",
            ls="none", label=f"plain CNNs trained here ({steps} steps)")
    for design, r in results.items():
        ax.annotate(f"{design}\n{r['s_per_mp']:.2f} s/MP", (r["macs"] / 1e3, r["psnr"]), textcoords="offset points",
                    xytext=(6, -14), fontsize=7)
    for name, (macs, psnr) in PUBLISHED.items():
        ax.plot(macs / 1e3, psnr, "s", mfc="none", color="tab:red")
        ax.annotate(name, (macs / 1e3, psnr), textcoords="offset points", xytext=(5, 4), fontsize=7, color="tab:red")
    ax.plot([], [], "s", mfc="none", color="tab:red", label="published, full training")
    ax.axhline(BM3D, ls="--", color="gray", lw=1, label=f"BM3D (published) {BM3D}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks([10, 20, 50, 100, 200, 500])
    ax.set_xlabel("multiply-accumulates per pixel (k, log scale)")
    ax.set_ylabel("BSD68 σ 25 PSNR (dB)")
    ax.set_title("Quality against compute, gray blind denoisers")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
