"""The README's "Without clean images" tables: supervised, Noise2Noise, Neighbor2Neighbor, Noise2Void and N2V2
trained alike on train400 with one fixed noisy realization per image, scored on BSD68 beside BM3D and the
shipped gray-blind.

    python benchmarks/self_supervised.py --data ../shared/data --noise gaussian          # sigma 25
    python benchmarks/self_supervised.py --data ../shared/data --noise poissongauss      # a=0.01, b=0.0004
    python benchmarks/self_supervised.py --noise gaussian --epochs 30 --device cuda      # a bigger budget

Every learned row is the same network (a 3-level U-Net, width 16; N2V2 with its own changes: no top skip,
blur-pool, direct output), the same crops, batches and epochs; only the objective differs (two ablation rows
for Gaussian noise, beside the paper's γ 2: Neighbor2Neighbor without its regulariser, γ 0, and the same
with 128x128 crops, whose half-size sub-images are as large as the other rows' 64x64 network input). Training noise
is drawn once per image with a fixed seed (the self-supervised rows never see a clean image); evaluation is
the standard protocol (noise seeded per image, not clipped, result rounded to 8 bits). Trained runs and
scores are kept in OUT/self_supervised/NOISE-EPOCHSep/ (OUT: --out), so a re-run only redoes what is missing: a row
whose run stopped part-way (a session ended) resumes from its last epoch, so a long budget can be spread
over several sittings. A row's training time is the sum of its epochs' times (validation included), however
many sittings it took. The table goes into the README between <!-- selfsup-NOISE:start/end --> markers
(--block names another, e.g. the 30-epoch table's).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import noisefree as nf
from common import OUT, ROOT, hardware, replace_block, training_seconds
from noisefree.config import RunConfig
from noisefree.data import load_dataset
from noisefree.evaluation import evaluate_images
from noisefree.noise import parse_noise
from noisefree.resolve import resolve

NOISES = {"gaussian": ("gaussian:0.0980392", "Gaussian σ 25 (8-bit scale)"),
          "poissongauss": ("poissongauss:0.01,0.0004", "Poisson-Gaussian a = 0.01, b = 0.0004 ([0, 1] scale)")}
NETWORK = {"width": 16, "levels": 3, "blocks": 1}
N2V2_NETWORK = {**NETWORK, "top_skip": False, "blurpool": True, "residual": False}
LEARNED = {"gaussian": ["supervised", "n2n", "ne2ne", "ne2ne-gamma0", "ne2ne-gamma0-128", "n2v", "n2v2"],
           "poissongauss": ["supervised", "ne2ne", "n2v", "n2v2"]}
BASELINES = {"gaussian": {"BM3D (σ known)": "bm3d", "gray-blind (shipped, σ known)": "gray-blind"},
             "poissongauss": {"VST + BM3D (a, b known)": "vst:0.01,0.0004:bm3d",
                              "VST + gray-blind (a, b known)": "vst:0.01,0.0004:gray-blind",
                              "gray-blind (shipped, σ estimated)": "gray-blind"}}
PUBLISHED = ("Published, BSD68 σ 25 (Noise2Score, ICCV 2021, Table 2): N2V 26.77, Noise2Self 28.28, N2N 29.18, "
             "supervised 29.20, BM3D 28.59; CAREamics' N2V on BSD68: 26.7. Issue goals: N2V2 ≥ 27.3, "
             "Ne2Ne ≥ 28.6, N2N within 0.15 dB of supervised.")


# ablation rows: row -> (objective, its arguments, changes to the shared recipe)
VARIANTS = {"ne2ne-gamma0": ("ne2ne", {"gamma": 0.0}, {}),
            # 128x128 crops, so that the network's input (a half-size sub-image) is 64x64 as in the other rows
            "ne2ne-gamma0-128": ("ne2ne", {"gamma": 0.0}, {"patch_size": 128})}


def recipe(row: str, noise: str, data: Path, epochs: int, device: str) -> RunConfig:
    objective, objective_args, changes = VARIANTS.get(row, (row, {}, {}))
    return RunConfig.validated({
        "name": f"selfsup-{row}", "dataset": f"folder:{data / 'gray' / 'train400'}", "val_fraction": 0.1,
        "patch_size": 64, "patches_per_image": 16, "augment": True, "noise": noise, "clip": False,
        "fixed_noise": True, "objective": objective, "objective_args": objective_args, "model": "unet",
        "model_args": N2V2_NETWORK if objective == "n2v2" else NETWORK, "epochs": epochs, "batch_size": 16,
        "lr": 1e-3, "schedule": "cosine", "seed": 0, "device": device, "eval_images": 1, **changes})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--noise", choices=list(NOISES), required=True)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--only", default=None, help="comma-separated learned rows to do or redo, and only those "
                    "(e.g. n2v,n2v2); the table shows every row done so far")
    ap.add_argument("--table", action="store_true", help="train nothing: score the missing baselines and write "
                    "the table of the rows done so far")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--block", default=None, help="the README block to fill (default selfsup-NOISE; e.g. "
                    "selfsup-gaussian-30 for a longer budget beside the default table)")
    ap.add_argument("--note", default="", help="a sentence on how the times were taken, for the table")
    args = ap.parse_args()
    noise, label = NOISES[args.noise]
    out = results_folder(args.out, args.noise, args.epochs)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "results.json"
    results = json.loads(store.read_text()) if store.is_file() else {}
    bsd68 = load_dataset(f"folder:{args.data / 'gray' / 'bsd68'}")
    sigma = parse_noise(noise).sigma if args.noise == "gaussian" else None
    wanted = set(args.only.split(",")) if args.only else None

    def score(key: str, method: str, extra: dict) -> None:
        if key in results and (wanted is None or key not in wanted):
            return
        den = resolve(method).denoiser
        res = evaluate_images(den, bsd68, noise, clip=False, protocol="standard", sigma=sigma, keep_samples=0)
        results[key] = {**extra, "psnr": res.summary["psnr_mean"], "ssim": res.summary["ssim_mean"],
                        "noisy_psnr": res.summary["noisy_psnr_mean"], "method": method}
        store.write_text(json.dumps(results, indent=1))
        print(f"{key}: {results[key]['psnr']:.2f} dB", flush=True)

    for objective in [] if args.table else LEARNED[args.noise]:
        if (objective in results and wanted is None) or (wanted is not None and objective not in wanted):
            continue  # done already, or not asked for this time
        config = recipe(objective, noise, args.data, args.epochs, args.device)
        earlier = unfinished_run(out / "runs", config)
        if earlier is not None:
            print(f"{objective}: resuming {earlier}", flush=True)
        run = (nf.train(resume=earlier, quiet=True) if earlier is not None
               else nf.train(config, out=out / "runs", quiet=True))
        minutes = training_seconds(run) / 60
        score(objective, str(run), {"run": str(run), "epochs": args.epochs,
                                    "training": f"{minutes:.1f} min on {hardware()}, "
                                                f"{torch.get_num_threads()} thread(s)"})
    for key, method in BASELINES[args.noise].items():
        score(key, method, {"training": "—"})
    table = markdown(results, args.noise, label, args)
    (out / "results.md").write_text(table)
    replace_block(ROOT / "README.md", args.block or f"selfsup-{args.noise}", table)
    print(table)


def results_folder(out: Path, noise: str, epochs: int) -> Path:
    """Where one table's runs and scores are kept: one folder per noise and budget, so a longer budget never
    reuses (or mixes with) a shorter one's rows."""
    return out / "self_supervised" / f"{noise}-{epochs}ep"


def command(noise: str, results: dict, block: str | None, epochs: int) -> str:
    """The command that makes this table: its budget, its block, and its learned rows when they are not all."""
    learned = [k for k in LEARNED[noise] if k in results]
    budgets = sorted({r["epochs"] for r in results.values() if r.get("epochs")}) or [epochs]
    return (f"python benchmarks/self_supervised.py --data ../shared/data --noise {noise} --epochs "
            f"{'/'.join(map(str, budgets))}" + (f" --only {','.join(learned)}" if learned != LEARNED[noise] else "")
            + (f" --block {block}" if block else ""))


def unfinished_run(runs: Path, config: RunConfig) -> Path | None:
    """The newest run folder under ``runs`` trained with ``config`` (name and device aside) that has not
    finished (no summary.json yet), or None: the row to resume rather than start again."""
    same = {"name", "device"}
    want = config.model_dump(exclude=same)
    for run in sorted(runs.glob(f"{config.name}-*"), key=lambda p: p.name, reverse=True):
        if not (run / "config.yaml").is_file() or (run / "summary.json").is_file():
            continue
        if RunConfig.from_yaml(run / "config.yaml").model_dump(exclude=same) == want:
            return run
    return None


def markdown(results: dict, noise: str, label: str, args) -> str:
    names = {"supervised": "supervised (clean targets)", "n2n": "Noise2Noise (synthetic pairs)",
             "ne2ne": "Neighbor2Neighbor (γ 2, the paper's)",
             "ne2ne-gamma0": "Neighbor2Neighbor, γ 0 (no regulariser)",
             "ne2ne-gamma0-128": "Neighbor2Neighbor, γ 0, 128x128 crops (64x64 sub-images)",
             "n2v": "Noise2Void", "n2v2": "N2V2"}
    lines = [f"`{command(noise, results, args.block, args.epochs)}`", "",
             f"BSD68 (68 images), {label}, standard protocol; learned rows: train400 (360 train / 40 validation), "
             f"one fixed noisy realization per image, 3-level U-Net w16 (N2V2: its variant), 64x64 crops x 16 per "
             "image and epoch, batch 16, Adam 1e-3 cosine.", "",
             "| method | clean images seen | BSD68 PSNR / SSIM | training |", "|---|---|---|---|"]
    order = [*LEARNED[noise], *BASELINES[noise]]  # learned rows first, in a fixed order, whatever ran first
    for key, r in sorted(results.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
        seen = ("yes" if key == "supervised" else "no" if key in names else
                "yes (shipped model)" if "gray-blind" in key else "— (no training)")
        budget = f", {r['epochs']} epochs" if r.get("epochs") else ""
        row = f"| {names.get(key, key)} | {seen} | {r['psnr']:.2f} / {r['ssim']:.4f} |"
        lines.append(f"{row} {r['training']}{budget} |")
    noisy = next(iter(results.values()))["noisy_psnr"] if results else float("nan")
    sentences = [f"Noisy input: {noisy:.2f} dB.", PUBLISHED if noise == "gaussian" else "", args.note]
    lines += ["", " ".join(s for s in sentences if s)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
