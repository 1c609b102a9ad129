"""Checkpoints: weights as safetensors plus a JSON model card. Loading never unpickles code.

A checkpoint ``NAME`` is ``NAME.safetensors`` (the tensors; the card is also stored in its metadata) and
``NAME.json`` (the :class:`~noisefree.card.ModelCard`, for people and tools). The card alone rebuilds the
network. Anything else given as a checkpoint (a PyTorch ``.pt``/``.pth`` pickle, a damaged file) is refused
with a message naming the file, before any of its content is interpreted.
"""

from __future__ import annotations

import struct
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from .card import CardError, ModelCard
from .models import build_model

__all__ = ["CheckpointError", "find_checkpoint", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_NAMES = ("best.safetensors", "last.safetensors", "model.safetensors")  # what a run folder holds


class CheckpointError(ValueError):
    """A file that is not a noisefree checkpoint, or one that is damaged; the message names it."""


def save_checkpoint(stem, model: nn.Module, card: ModelCard | dict) -> Path:
    """Write ``stem.safetensors`` and ``stem.json``; returns the safetensors path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    card = ModelCard.of(card)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = stem.with_suffix(".safetensors")
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(tensors, str(tmp), metadata={"noisefree_card": card.model_dump_json()})
    tmp.replace(weights)  # atomic: a crash mid-write never leaves a broken checkpoint
    stem.with_suffix(".json").write_text(card.to_json())
    return weights


def find_checkpoint(path) -> Path:
    """The safetensors file for a run folder (its best checkpoint), a .json card or a .safetensors file."""
    path = Path(path)
    if path.is_dir():
        for name in CHECKPOINT_NAMES:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"{path}: no checkpoint ({'/'.join(n.split('.')[0] for n in CHECKPOINT_NAMES)}"
                                ".safetensors) in this folder; is it a noisefree run folder?")
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    elif path.suffix != ".safetensors" and path.with_suffix(".safetensors").is_file():
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    return path


def check_safetensors(path: Path) -> None:
    """Refuse, by name, a file that is not in the safetensors format, without interpreting its content."""
    with open(path, "rb") as f:
        head = f.read(9)
    size = path.stat().st_size
    if len(head) == 9 and head[8:9] == b"{" and 2 <= struct.unpack("<Q", head[:8])[0] <= size - 8:
        return
    if head[:4] == b"PK\x03\x04":
        what = "a zip archive: probably a PyTorch .pt/.pth checkpoint (pickled code)"
    elif head[:1] == b"\x80":
        what = "a Python pickle: probably a PyTorch .pt/.pth checkpoint"
    elif not head:
        what = "an empty file"
    else:
        what = "not in the safetensors format"
    raise CheckpointError(
        f"{path}: not a noisefree checkpoint ({what}). noisefree reads only .safetensors weights with a "
        "noisefree model card and never runs pickled code. Give a noisefree run folder, a .safetensors "
        "checkpoint it wrote, a shipped model name or a classical method (see `noisefree models`).")


def read_card(weights: Path) -> ModelCard:
    """The card beside ``weights`` (``.json``), else the one in its safetensors metadata."""
    card_file = weights.with_suffix(".json")
    if card_file.is_file():
        return ModelCard.read(card_file)
    check_safetensors(weights)
    try:
        with safe_open(str(weights), framework="pt") as f:
            meta = f.metadata() or {}
    except SafetensorError as exc:
        raise CheckpointError(f"{weights}: damaged safetensors file ({exc})") from None
    if "noisefree_card" not in meta:
        raise CheckpointError(f"{weights}: no model card (neither {card_file.name} beside it nor one in its "
                              "metadata); it was not written by noisefree")
    return ModelCard.parse(meta["noisefree_card"], source=f"{weights} (embedded card)")


def load_checkpoint(path, *, device="cpu") -> tuple[nn.Module, ModelCard]:
    """Rebuild the network from its card and load its weights; returns (model in eval mode, card)."""
    weights = find_checkpoint(path)
    check_safetensors(weights)
    try:
        card = read_card(weights)
    except CardError as exc:
        raise CheckpointError(str(exc)) from None
    model = build_model(card.architecture, channels=card.channels, **card.arguments)
    try:
        state = load_file(str(weights), device=str(device))
    except SafetensorError as exc:
        raise CheckpointError(f"{weights}: damaged safetensors file ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise CheckpointError(f"{weights}: its weights do not fit the {card.architecture} its card describes "
                              f"({first})") from None
    return model.to(device).eval(), card
