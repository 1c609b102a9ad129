"""Run every preset (optionally with fewer epochs) on the offline data and write the README's preset table.

    python benchmarks/presets.py --data ../shared/data --max-epochs 20 --only mnist
    python benchmarks/presets.py --data ../shared/data --max-epochs 3 --only cifar10

Offline protocol (../shared/data/README.md): MNIST trains on the first 8,000 test digits and is evaluated
on the last 2,000 (the full training set is not available here); CIFAR-10 uses the JPEG copy, trains on
train/ and is evaluated on the protocol's 1,000 test images. Fashion-MNIST needs a download and is
skipped offline. Results accumulate in benchmarks/out/presets.json; each run rewrites the table from it.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path

import torch

import noisefree as nf
from common import OUT, ROOT, cifar10_folders, hardware, read_block, replace_block
from noisefree.data import DatasetError
from noisefree.presets import PRESETS


def data_fields(preset, data: Path) -> dict:
    dataset = preset.fields["dataset"]
    if dataset == "mnist":
        return {"data_root": str(data / "mnist"), "split": "test", "subset": "0:8000", "eval_split": "test",
                "eval_subset": "8000:10000"}
    if dataset == "cifar10":
        train, test100 = cifar10_folders(data)
        return {"dataset": f"folder:{train}", "eval_dataset": f"folder:{test100}"}
    return {"data_root": str(data)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--max-epochs", type=int, default=None, help="cap each preset's epochs")
    ap.add_argument("--only", default="", help="run presets whose dataset or name contains this")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--note", default="", help="how the machine was shared, named with the times, e.g. "
                    "'beside one training run'")
    args = ap.parse_args()
    if "; " in args.note or "(" in args.note:
        raise SystemExit(f"--note {args.note!r}: no '; ' or parentheses (they separate machines in the table)")

    results_file = OUT / "presets.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name, preset in PRESETS.items():
        wanted = not args.only or args.only in name or args.only in preset.fields["dataset"]
        if not name.startswith("ref-") or not wanted:  # the reference designs only
            continue
        epochs = min(preset.fields["epochs"], args.max_epochs or 10**9)
        print(f"== {name}: {epochs} epoch(s)", flush=True)
        t0 = time.time()
        try:
            run = nf.train(preset=name, epochs=epochs, device=args.device, out=OUT / "runs",
                           **data_fields(preset, args.data))
        except DatasetError as exc:
            results[name] = {"skipped": f"{preset.fields['dataset']} needs a download (torchvision); not "
                                        "available offline here"}
            print("   skipped:", exc, flush=True)
            results_file.write_text(json.dumps(results, indent=2))
            continue
        summary = json.loads((run / "summary.json").read_text())
        with open(run / "history.csv") as f:
            history = list(csv.DictReader(f))
        results[name] = {
            "epochs_run": len(history), "epochs_preset": preset.fields["epochs"],
            "seconds_per_epoch": sum(float(h["seconds"]) for h in history) / len(history),
            "wall_seconds": time.time() - t0, "hardware": ", ".join(filter(None, (
                hardware(), f"{torch.get_num_threads()} thread(s)", args.note))), "run": str(run.relative_to(ROOT)),
            **{k: summary[k] for k in ("images", "noise", "psnr_mean", "ssim_mean", "noisy_psnr_mean",
                                       "noisy_ssim_mean")},
            "command": f"python benchmarks/presets.py --data ../shared/data --max-epochs {args.max_epochs} "
                       f"--only {args.only or 'all'}",
        }
        results_file.write_text(json.dumps(results, indent=2))
    write_table(results)


def machines(line: str, rows: list[str]) -> dict[str, str]:
    """Row -> machine for ``rows``, read from a "Times measured on:" line ("M1 (row, row); M2 (row)"; a machine
    named without rows measured all of them)."""
    found = {}
    for entry in line.split("; "):
        m = re.match(r"(.*) \(([\w\-, ]+)\)$", entry)
        if m and all(n in PRESETS for n in m.group(2).split(", ")):
            found.update({n: m.group(1) for n in m.group(2).split(", ") if n in rows})
        else:
            found.update({n: entry for n in rows if n not in found})
    return found


def write_table(results: dict, readme: Path = ROOT / "README.md") -> None:
    """The README's preset table from ``results``; a preset not in them keeps the row the README has (results
    do not travel between machines), and the hardware line then names both machines."""
    old = read_block(readme, "presets")
    kept_rows = {m.group(1): line for line in old.splitlines() if (m := re.match(r"\| `([^`]+)` \|", line))}
    kept = []
    lines = ["| preset | reference reported | noisefree measured (test PSNR / SSIM; noisy input) | epochs "
             "| s/epoch | command |", "|---|---|---|---|---|---|"]
    for name, preset in PRESETS.items():
        if not name.startswith("ref-"):
            continue
        if name not in results:
            if name in kept_rows:
                lines.append(kept_rows[name])
                kept.append(name)
            continue
        r = results[name]
        if "skipped" in r:
            lines.append(f"| `{name}` | {preset.reference} | not run: {r['skipped']} | | | |")
            continue
        what = "2,000 MNIST test digits 8000-9999" if "mnist" in name else "1,000 CIFAR-10 (JPEG copy) test images"
        lines.append(
            f"| `{name}` | {preset.reference} | **{r['psnr_mean']:.2f} dB / {r['ssim_mean']:.3f}** "
            f"({r['noisy_psnr_mean']:.2f} dB / {r['noisy_ssim_mean']:.3f}) on {what}, noise `{r['noise']}` "
            f"| {r['epochs_run']} of {r['epochs_preset']} | {r['seconds_per_epoch']:.1f} | `{r['command']}` |")
    machine = {n: r["hardware"] for n, r in results.items() if "hardware" in r}
    before = re.search(r"Times measured on: (.*)\.$", old, re.M)
    if kept and before:
        machine.update(machines(before.group(1), kept))
    rows_on: dict[str, list[str]] = {}
    for name, hw in machine.items():
        rows_on.setdefault(hw, []).append(name)
    hw = (next(iter(rows_on)) if len(rows_on) == 1 else
          "; ".join(f"{hw} ({', '.join(names)})" for hw, names in rows_on.items()) or "none")
    lines.append(f"\nTimes measured on: {hw}.")
    replace_block(readme, "presets", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
