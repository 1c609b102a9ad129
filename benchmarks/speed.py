"""Speed of the shipped models, and of a DnCNN for scale: cost per pixel, inference and training throughput.

    python benchmarks/speed.py                 # CPU (all threads torch uses), writes the README block
    python benchmarks/speed.py --device cuda   # the GPU block: float32 and bf16 inference, bf16 training

For each model: multiply-accumulates per pixel (counted by torch.utils.flop_counter on a 256 x 256 input:
FLOPs / 2 / pixels), inference megapixels per second through ``den(x)`` (padding, folded batch norms,
channels-last, no tiling at this size; median of 3 runs after a warm-up) on one 1024 x 1024 image on a
CPU, on a batch of eight on a GPU (float32, and bf16 autocast as ``--precision bf16`` runs it), and
training crops per second for the shipped recipe's patch size and batch, set up as ``noisefree train``
does (channels-last; bf16 autocast on CUDA and on CPUs with native bf16, where float32 is timed too; fused
Adam on CUDA; forward, backward, Adam step; median of 5 steps after 2).
Everything is measured in one run on one machine, so the ratios between rows hold even where the machine
is not idle.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
import yaml
from torch.utils.flop_counter import FlopCounterMode

import noisefree as nf
from common import ROOT, hardware, replace_block
from noisefree.denoiser import NetworkDenoiser, set_precision
from noisefree.devices import bf16_autocast
from noisefree.models import build_model
from noisefree.noise import Gaussian, TorchRandom, corrupt
from noisefree.pretrained import list_pretrained

RECIPES = ROOT / "benchmarks" / "pretrained"


def macs_per_pixel(model, channels: int, takes_sigma: bool) -> float:
    x = torch.rand(1, channels, 256, 256)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, torch.tensor([0.1]) if takes_sigma else None)
    return counter.get_total_flops() / 2 / (256 * 256)


def inference_mp_per_s(den, channels: int, device: str, *, sigma: float | None = None, repeats: int = 3,
                       batch: int = 1) -> float:
    """Megapixels per second of ``den(x, sigma)`` on ``batch`` 1024 x 1024 images at once: median of
    ``repeats`` after a warm-up."""
    x = torch.rand(batch, channels, 1024, 1024, device=device)
    den(x, sigma)  # warm-up
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        den(x, sigma)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return batch * 1024 * 1024 / 1e6 / statistics.median(times)


def training_crops_per_s(name: str, arch: str, args: dict, channels: int, device: str, *,
                         bf16: bool) -> tuple[float, int, int]:
    recipe = yaml.safe_load((RECIPES / f"{name}.yaml").read_text()) if (RECIPES / f"{name}.yaml").is_file() else {}
    patch = recipe.get("patch_size") or {"cifar10": 32, "mnist": 28}.get(name, 64)  # whole images, or crops
    batch = recipe.get("batch_size", 16)
    cuda = device.startswith("cuda")
    model = build_model(arch, channels=channels, **args).to(device).train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=cuda or None)
    rng = TorchRandom(torch.Generator(device=device).manual_seed(0))
    takes_sigma = bool(args.get("noise_map"))
    times = []
    for step in range(7):
        clean = torch.rand(batch, channels, patch, patch, device=device)
        noisy, sigma = corrupt(clean, Gaussian(0, 0.2), rng, clip=False)
        noisy = noisy.contiguous(memory_format=torch.channels_last)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            out = model(noisy, sigma if takes_sigma else None)
        loss = F.mse_loss(out.float(), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        if step >= 2:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times), patch, batch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    rows, gpu = [], args.device.startswith("cuda")
    amp = bf16_autocast(torch.device(args.device))  # as `noisefree train` sets it up (its --amp default)
    cpu_bf16 = amp and not gpu
    models = [(name, nf.load(name, device=args.device)) for name in list_pretrained()]
    dncnn = build_model("dncnn", channels=1)  # the published DnCNN-B size (17 layers, 64 features), untrained
    models.append(("dncnn (17x64, for scale)", NetworkDenoiser(dncnn, {"architecture": "dncnn", "channels": 1})
                   .to(args.device)))
    for name, den in models:
        card = den.card
        macs = macs_per_pixel(den.model.cpu(), card.channels, card.takes_sigma)
        den.to(args.device)
        images = 8 if gpu else 1
        mp_s = inference_mp_per_s(den, card.channels, args.device, batch=images)
        bf16 = inference_mp_per_s(set_precision(den, "bf16"), card.channels, args.device, batch=images) if amp else None
        set_precision(den, "float32")
        train_args = (name, card.architecture, card.arguments, card.channels, args.device)
        crops, patch, batch = training_crops_per_s(*train_args, bf16=amp)
        crops32 = training_crops_per_s(*train_args, bf16=False)[0] if cpu_bf16 else None
        rows.append((name, card, macs, mp_s, bf16, crops, crops32, patch, batch))
        print(f"{name}: {macs / 1e3:.1f} kMAC/pixel, {mp_s:.3f} MP/s ({1 / mp_s:.2f} s/MP) inference"
              + (f", bf16 {bf16:.3f} MP/s" if amp else "")
              + f", {crops:.1f} crops/s training ({patch}x{patch}, batch {batch})"
              + (f", {crops32:.1f} in float32" if crops32 else ""), flush=True)
    threads = torch.get_num_threads()
    columns = ["model", "architecture", "kMAC / pixel", "inference s / MP (1024²)",
               "MP / s" + (" (batch of 8)" if gpu else "")]
    columns += ["bf16 MP / s"] if gpu else ["bf16 inference s / MP"] if cpu_bf16 else []
    columns += ["training crops / s (size, batch)", "training MP / s"]
    columns += ["float32 training crops / s"] if cpu_bf16 else []
    lines = [f"`python benchmarks/speed.py{' --device ' + args.device if args.device != 'cpu' else ''}` on "
             f"{hardware()}" + (f", {threads} threads" if args.device == "cpu" else "") + "; one run, so the "
             "ratios between rows hold.", "", "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    if cpu_bf16:
        lines[0] += (" This CPU has native bf16: `--precision bf16` inference is timed too, and training runs "
                     "in bf16 autocast (`noisefree train`'s default, `--no-amp` turns it off), the last column "
                     "timing the same step in float32.")
    for name, card, macs, mp_s, bf16, crops, crops32, patch, batch in rows:
        arch = f"{card.architecture} {', '.join(f'{k} {v}' for k, v in card.arguments.items())}".strip()
        cells = [f"`{name}`", arch, f"{macs / 1e3:.1f}", f"{1 / mp_s:.2f}", f"{mp_s:.3f}"]
        cells += [f"{bf16:.1f}"] if gpu else [f"{1 / bf16:.2f}"] if cpu_bf16 else []
        cells += [f"{crops:.1f} ({patch}², {batch})", f"{crops * patch * patch / 1e6:.3f}"]
        cells += [f"{crops32:.1f}"] if cpu_bf16 else []
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    if not args.no_readme:
        replace_block(ROOT / "README.md", f"speed-{'cpu' if args.device == 'cpu' else 'gpu'}", text)


if __name__ == "__main__":
    main()
