"""Checkpoints: weights as safetensors plus a JSON model card. Loading never unpickles code.

A checkpoint ``NAME`` is ``NAME.safetensors`` (the tensors; the card is also stored in its metadata) and
``NAME.json`` (the card, for people and tools). The card alone rebuilds the network:

    {"format": "noisefree-model/1", "architecture": "dncnn", "arguments": {"depth": 17}, "channels": 1,
     "noise": "gaussian:0-0.2", "clip": true, "dataset": "digits", "image_size": [28, 28],
     "normalization": "[0, 1] float", "metrics": {...}, "noisefree_version": "..."}
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from .denoiser import NetworkDenoiser
from .models import build_model

__all__ = ["CARD_FORMAT", "find_checkpoint", "load_checkpoint", "load_network", "save_checkpoint"]

CARD_FORMAT = "noisefree-model/1"


def save_checkpoint(stem, model: nn.Module, card: dict) -> Path:
    """Write ``stem.safetensors`` and ``stem.json``; returns the safetensors path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    card = {"format": CARD_FORMAT, **card}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = stem.with_suffix(".safetensors")
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(tensors, str(tmp), metadata={"noisefree_card": json.dumps(card)})
    tmp.replace(weights)  # atomic: a crash mid-write never leaves a broken checkpoint
    stem.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return weights


def find_checkpoint(path) -> Path:
    """The safetensors file for a run folder (its best checkpoint), a .json card or a .safetensors file."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.safetensors", "last.safetensors", "model.safetensors"):
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"{path}: no checkpoint (best/last/model.safetensors) in this folder")
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    elif path.suffix != ".safetensors" and path.with_suffix(".safetensors").is_file():
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    return path


def load_checkpoint(path, *, device="cpu") -> tuple[nn.Module, dict]:
    """Rebuild the network from its card and load its weights; returns (model in eval mode, card)."""
    weights = find_checkpoint(path)
    card_file = weights.with_suffix(".json")
    if card_file.is_file():
        card = json.loads(card_file.read_text())
    else:
        with safe_open(str(weights), framework="pt") as f:
            meta = f.metadata() or {}
        if "noisefree_card" not in meta:
            raise ValueError(f"{weights}: no model card (neither {card_file.name} nor embedded metadata)")
        card = json.loads(meta["noisefree_card"])
    if card.get("format") != CARD_FORMAT:
        raise ValueError(f"{weights}: unknown card format {card.get('format')!r}; expected {CARD_FORMAT}")
    model = build_model(card["architecture"], channels=int(card["channels"]), **card.get("arguments", {}))
    state = load_file(str(weights), device=str(device))
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), card


def load_network(path, *, device=None) -> NetworkDenoiser:
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, card = load_checkpoint(path, device=device)
    return NetworkDenoiser(model, card)
