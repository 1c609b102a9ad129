"""The models noisefree ships: trained weights inside the package, loaded by name, offline, checksummed.

``nf.load("gray-blind")`` finds ``assets/pretrained/gray-blind.safetensors`` and its card
``gray-blind.json``, checks both against the SHA-256 sums in ``assets/pretrained/manifest.json`` and
returns a :class:`~noisefree.denoiser.NetworkDenoiser`. Nothing is downloaded. The card says what the
model was trained on, for which noise, how long on what hardware, and what it measured with which command.

``install(run_dir, name)`` (used by ``benchmarks/train_pretrained.py``) copies a run's best checkpoint in;
``update_card(name, ...)`` (used by ``benchmarks/pretrained_quality.py``) records measured results.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from .checkpoint import find_checkpoint, load_checkpoint
from .denoiser import Denoiser, NetworkDenoiser

__all__ = ["AutoDenoiser", "PretrainedError", "install", "list_pretrained", "load_pretrained",
           "pretrained_files", "update_card"]

PRETRAINED_DIR = Path(__file__).parent / "assets" / "pretrained"
MANIFEST = PRETRAINED_DIR / "manifest.json"
BY_CHANNELS = {1: "gray-blind", 3: "color-blind"}  # what `noisefree denoise` uses without --model


class PretrainedError(RuntimeError):
    """A shipped model is missing or its files do not match their checksums."""


def list_pretrained() -> dict[str, dict]:
    """Name -> manifest entry (files, SHA-256 sums, channels, one-line description) of every shipped model."""
    if not MANIFEST.is_file():
        return {}
    return json.loads(MANIFEST.read_text())


def pretrained_files(name: str) -> tuple[Path, Path]:
    """The (weights, card) files of shipped model ``name``, after checking their SHA-256 sums."""
    models = list_pretrained()
    if name not in models:
        known = ", ".join(models) or "none are installed"
        raise KeyError(f"{name!r} is not a shipped model (shipped: {known})")
    entry = models[name]
    paths = (PRETRAINED_DIR / entry["weights"], PRETRAINED_DIR / entry["card"])
    for path, key in zip(paths, ("weights_sha256", "card_sha256")):
        if not path.is_file():
            raise PretrainedError(f"{path}: the shipped model {name!r} is missing; reinstall noisefree")
        if _sha256(path) != entry[key]:
            raise PretrainedError(f"{path}: checksum mismatch, the file is damaged or was changed; "
                                  "reinstall noisefree")
    return paths


def load_pretrained(name: str, *, device=None) -> NetworkDenoiser:
    """The shipped model ``name`` as a denoiser (checksums verified)."""
    weights, _ = pretrained_files(name)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, card = load_checkpoint(weights, device=device)
    return NetworkDenoiser(model, card)


class AutoDenoiser(Denoiser):
    """The shipped blind model that fits each image: ``gray-blind`` for one channel, ``color-blind`` for
    RGB. Models are loaded on first use."""

    name = "auto"
    channels = None

    def __init__(self, *, device=None):
        self.device = device
        self._loaded: dict[int, NetworkDenoiser] = {}

    def pick(self, channels: int) -> NetworkDenoiser:
        if channels not in BY_CHANNELS:
            raise ValueError(f"no shipped model for {channels}-channel images (gray-blind takes 1, color-blind "
                             "3); pass --model with a model trained for them")
        if channels not in self._loaded:
            self._loaded[channels] = load_pretrained(BY_CHANNELS[channels], device=self.device)
        return self._loaded[channels]

    def denoise_batch(self, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        return self.pick(x.shape[1]).denoise_batch(x, sigma)


# ---- maintaining the shipped set (benchmarks/train_pretrained.py, benchmarks/pretrained_quality.py) --------

def install(run_dir, name: str, *, description: str | None = None, training: dict | None = None,
            rewrite: dict[str, str] | None = None) -> Path:
    """Copy the best checkpoint of ``run_dir`` in as shipped model ``name``; returns the weights path.

    The card gains the shipped name, the training recipe (``run_dir/config.yaml``) and ``training`` (e.g.
    time and hardware); ``rewrite`` replaces text in the card, e.g. the trainer's absolute data paths by the
    documented relative ones."""
    weights = find_checkpoint(run_dir)
    _, card = load_checkpoint(weights)
    run_dir = Path(run_dir)
    card["name"] = name
    if description:
        card["description"] = description
    if (run_dir / "config.yaml").is_file():
        import yaml

        card["training"] = {"config": yaml.safe_load((run_dir / "config.yaml").read_text()), **(training or {})}
    text = json.dumps(card)
    for old, new in (rewrite or {}).items():
        text = text.replace(old, new)
    card = json.loads(text)
    PRETRAINED_DIR.mkdir(parents=True, exist_ok=True)
    target = PRETRAINED_DIR / f"{name}.safetensors"
    shutil.copyfile(weights, target)
    _write_card(name, card)
    return target


def update_card(name: str, **fields) -> dict:
    """Set top-level ``fields`` of shipped model ``name``'s card (e.g. measured ``benchmarks``) and refresh
    its checksum; returns the card."""
    _, card_path = pretrained_files(name)
    card = {**json.loads(card_path.read_text()), **fields}
    _write_card(name, card)
    return card


def _write_card(name: str, card: dict) -> None:
    """Write the card and record both files' checksums (and the card's channels and description) in the manifest."""
    card_path = PRETRAINED_DIR / f"{name}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    models = list_pretrained()
    models[name] = {"weights": f"{name}.safetensors", "card": f"{name}.json",
                    "weights_sha256": _sha256(PRETRAINED_DIR / f"{name}.safetensors"),
                    "card_sha256": _sha256(card_path), "channels": int(card["channels"]),
                    "description": card.get("description", "")}
    MANIFEST.write_text(json.dumps(dict(sorted(models.items())), indent=2) + "\n")


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
