"""Maintaining the models noisefree ships: install a trained run, record measured results, keep checksums.

The package only reads ``src/noisefree/assets/pretrained/`` (:mod:`noisefree.pretrained`); these functions,
used by ``train_pretrained.py`` and ``pretrained_quality.py``, are the only code that writes there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
import yaml

from noisefree.card import ModelCard
from noisefree.checkpoint import find_checkpoint, load_checkpoint, read_card
from noisefree.config import RunConfig
from noisefree.pretrained import MANIFEST, PRETRAINED_DIR, list_pretrained, pretrained_files, sha256
from noisefree.resolve import resolve
from noisefree.training import validation_psnr


def install(run_dir, name: str, *, description: str | None = None, training: dict | None = None,
            rewrite: dict[str, str] | None = None) -> Path:
    """Copy the best checkpoint of ``run_dir`` in as shipped model ``name``; returns the weights path.

    The card gains the shipped name, the training recipe (``run_dir/config.yaml``) and ``training`` (e.g.
    time and hardware); ``rewrite`` replaces text in the card, e.g. the trainer's absolute data paths by the
    documented relative ones."""
    run_dir = Path(run_dir)
    weights = find_checkpoint(run_dir)
    card = read_card(weights).model_dump(mode="json")
    card["name"] = name
    if description:
        card["description"] = description
    if (run_dir / "config.yaml").is_file():
        card["training"] = {"config": yaml.safe_load((run_dir / "config.yaml").read_text()), **(training or {})}
    text = json.dumps(card)
    for old, new in (rewrite or {}).items():
        text = text.replace(old, new)
    PRETRAINED_DIR.mkdir(parents=True, exist_ok=True)
    target = PRETRAINED_DIR / f"{name}.safetensors"
    shutil.copyfile(weights, target)
    _write_card(name, ModelCard.parse(text, source=f"card for {name}"))
    return target


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
    card = ModelCard.read(card_path).model_copy(update=fields)
    card = ModelCard.parse(card.model_dump(mode="json"), source=str(card_path))  # validate the update
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
