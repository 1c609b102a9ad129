"""The models noisefree ships: trained weights inside the package, loaded by name, offline, checksummed.

``nf.load("gray-blind")`` finds ``assets/pretrained/gray-blind.safetensors`` and its card
``gray-blind.json``, checks both against the SHA-256 sums in ``assets/pretrained/manifest.json`` and
returns a :class:`~noisefree.denoiser.NetworkDenoiser`. Nothing is downloaded. The card says what the
model was trained on, for which noise, how long on what hardware, and what it measured with which command.

This module only reads the shipped set; ``benchmarks/shipping.py`` maintains it (installs a trained run,
records measured results and checksums).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .denoiser import Denoiser, NetworkDenoiser
from .devices import pick_device

__all__ = ["AutoDenoiser", "PretrainedError", "list_pretrained", "load_pretrained", "pretrained_files", "sha256"]

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
        if sha256(path) != entry[key]:
            raise PretrainedError(f"{path}: checksum mismatch, the file is damaged or was changed; "
                                  "reinstall noisefree")
    return paths


def load_pretrained(name: str, *, device=None) -> NetworkDenoiser:
    """The shipped model ``name`` as a denoiser (checksums verified)."""
    weights, _ = pretrained_files(name)
    model, card = load_checkpoint(weights, device=pick_device(device))
    return NetworkDenoiser(model, card)


class AutoDenoiser(Denoiser):
    """The shipped blind model that fits each image: ``gray-blind`` for one channel, ``color-blind`` for
    RGB. Models are loaded on first use."""

    name = "auto"
    channels = None
    takes_precision = True

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
        model = self.pick(x.shape[1])
        model.tile_progress, model.precision = self.tile_progress, self.precision
        return model.denoise_batch(x, sigma)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
