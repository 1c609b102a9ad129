"""Maintaining the models noisefree ships: install a trained run, record measured results, keep checksums.

The package only reads ``src/noisefree/assets/pretrained/`` (:mod:`noisefree.pretrained`); these functions,
used by ``train_pretrained.py`` and ``pretrained_quality.py``, are the only code that writes there.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import save_file

from common import training_seconds
from noisefree.card import ModelCard
from noisefree.checkpoint import find_checkpoint, load_checkpoint, read_card
from noisefree.config import RunConfig
from noisefree.models.unet import blocks_per_level
from noisefree.pretrained import MANIFEST, PRETRAINED_DIR, list_pretrained, pretrained_files, sha256
from noisefree.resolve import resolve
from noisefree.training import validation_psnr


def install(run_dir, name: str, *, description: str | None = None, hardware: str, note: str = "",
            rewrite: dict[str, str] | None = None) -> Path:
    """Copy the best checkpoint of ``run_dir`` in as shipped model ``name``, in half precision
    (:func:`store_half`); returns the weights path.

    The card gains the shipped name, the run's recipe (``run_dir/config.yaml``) and its training record: the
    shipped model's earlier rounds when the recipe fine-tunes it (``init: NAME``), then this run as a new
    round (:func:`new_round`, trained on ``hardware``, with ``note``). ``rewrite`` replaces text in the card,
    e.g. the trainer's absolute data paths by the documented relative ones."""
    run_dir = Path(run_dir)
    weights = find_checkpoint(run_dir)
    card = read_card(weights).model_dump(mode="json")
    card["name"] = name
    if description:
        card["description"] = description
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    earlier, start = [], None
    if config.get("init") == name and name in list_pretrained():
        shipped = ModelCard.read(pretrained_files(name)[1])
        earlier = [] if shipped.training is None else [r.model_dump() for r in shipped.training.rounds]
        start = shipped.arguments
    card["training"] = {"config": config, "run": run_dir.name,
                        "rounds": earlier + [new_round(run_dir, hardware=hardware, note=note, start=start)]}
    text = json.dumps(card)
    for old, new in (rewrite or {}).items():
        text = text.replace(old, new)
    PRETRAINED_DIR.mkdir(parents=True, exist_ok=True)
    target = PRETRAINED_DIR / f"{name}.safetensors"
    store_half(weights, target)
    _write_card(name, ModelCard.parse(text, source=f"card for {name}"))
    return target


def store_half(source, target) -> None:
    """Write the safetensors file ``source`` to ``target`` with its float32 tensors as float16, metadata
    kept: half the size; loading copies them back into the float32 network (``load_state_dict`` casts), and
    the rounding (a relative 5e-4 per weight) moved the shipped models' PSNR by at most 0.001 dB (measured by
    ``pretrained_quality.py`` before and after)."""
    with safe_open(str(source), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    tensors = {k: v.half() if v.dtype == torch.float32 else v for k, v in tensors.items()}
    tmp = Path(str(target) + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(target)


def _short(x: float) -> str:
    """1e-3, 2e-4, 1.5e-4 rather than 0.0002."""
    return f"{x:g}" if x >= 1e-2 else f"{x:.1e}".replace(".0e", "e").replace("e-0", "e-")


def new_round(run_dir, *, hardware: str, note: str = "", start: dict | None = None) -> dict:
    """``run_dir`` as one training round: its minutes (the sum of its epochs' times, whatever the sittings)
    and what it did, read from its recipe: epochs, crops, learning rate, seed, scales, saturation, start.
    ``start``, the model arguments of the weights it fine-tuned, adds how ``--init`` grew them: a noise-level
    map, more residual blocks."""
    run_dir = Path(run_dir)
    config = RunConfig.from_yaml(run_dir / "config.yaml")
    with open(run_dir / "history.csv", newline="") as f:
        epochs = sum(1 for _ in csv.DictReader(f))
    crops = f" of {config.patch_size}x{config.patch_size} crops" if config.patch_size else ""
    how = [f"{epochs} epoch{'s' * (epochs != 1)}{crops} at lr {_short(config.lr)}, seed {config.seed}"]
    if config.ema:
        how.append(f"weight average (EMA {config.ema:g})")
    if config.warmup:
        how.append(f"{config.warmup}-step warmup")
    if config.scales != [1.0]:
        how.append("at scales " + ", ".join(f"{s:g}" for s in config.scales))
    if config.saturation:
        how.append(f"random saturation up to {config.saturation:g}x either way")
    if config.half_chroma:
        how.append("half-resolution chroma loss")
    how.append(f"fine-tuned from {config.init}" if config.init else "from scratch")
    how += _growth(start or {}, config.model_args) if config.init else []
    text = ", ".join(how) + (f"; {note}" if note else "")
    return {"minutes": round(training_seconds(run_dir) / 60, 1), "hardware": hardware, "how": text}


def _growth(start: dict, target: dict) -> list[str]:
    """How ``--init`` grew a network with arguments ``start`` into one with ``target``'s, in words."""
    grown = []
    if target.get("noise_map") and not start.get("noise_map"):
        grown.append("noise-level map added (one zero-weighted input channel)")
    levels = target.get("levels", 4)  # compared level by level, as --init does: 3 and [3, 3, 3, 3] are the same
    if "blocks" in target and blocks_per_level(target["blocks"], levels) != blocks_per_level(start.get("blocks", 2),
                                                                                              levels):
        grown.append(f"deepened from {start['blocks']} to {target['blocks']} residual blocks per level, the new "
                     "blocks starting as identities")
    return grown


def validation_gain(name: str, run_dir) -> float | None:
    """PSNR of ``run_dir``'s best weights minus that of the shipped ``name``, both on the run's validation
    images with its validation noise (printed); None when nothing of that name ships yet."""
    if name not in list_pretrained():
        return None
    config = RunConfig.from_yaml(Path(run_dir) / "config.yaml")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    new, _ = load_checkpoint(find_checkpoint(Path(run_dir)))
    before = validation_psnr(resolve(name, device="cpu").denoiser.model, config, device=device)
    after = validation_psnr(new, config, device=device)
    print(f"{name}: validation PSNR {before:.3f} dB shipped, {after:.3f} dB {Path(run_dir).name}", flush=True)
    return after - before


def update_card(name: str, **fields) -> ModelCard:
    """Set ``fields`` of shipped model ``name``'s card (e.g. measured ``benchmarks``) and refresh its checksum."""
    _, card_path = pretrained_files(name)
    card = ModelCard.read(card_path).model_dump(mode="json")
    card = ModelCard.parse({**card, **fields}, source=str(card_path))  # validate the update
    _write_card(name, card)
    return card


def _write_card(name: str, card: ModelCard) -> None:
    """Write the card and record both files' checksums (and the card's channels and description) in the manifest."""
    card_path = PRETRAINED_DIR / f"{name}.json"
    card_path.write_text(card.to_json())
    models = list_pretrained()
    models[name] = {"weights": f"{name}.safetensors", "card": f"{name}.json",
                    "weights_sha256": sha256(PRETRAINED_DIR / f"{name}.safetensors"),
                    "card_sha256": sha256(card_path), "channels": card.channels, "description": card.description}
    MANIFEST.write_text(json.dumps(dict(sorted(models.items())), indent=2) + "\n")
