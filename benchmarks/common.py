"""Helpers shared by the benchmark scripts: hardware description, data preparation, README blocks."""

from __future__ import annotations

import csv
import os
import re
import tarfile
from pathlib import Path

import torch

from noisefree.devices import machine_description

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"


def hardware() -> str:
    """The machine (CPU model, cores, GPU) and the torch version: named with every time we report."""
    return f"{machine_description()}, torch {torch.__version__.split('+')[0]}"


def load_note() -> str:
    """How busy the machine was when a timing began (the 1-minute load average against the core count): an
    empty string on an idle machine, else a clause that says the times are not an idle machine's."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load < 0.5:
        return ""
    return (f"; the machine was busy (load average {load:.1f} on {cores} cores when it began), so the times are "
            "longer than an idle machine's")


def cifar10_folders(data: Path) -> tuple[Path, Path]:
    """Extract the CIFAR-10 JPEG copy once; return (train folder, protocol test folder).

    The protocol's test set is the first 100 files (sorted names) of each class folder of test/, classes in
    sorted order: 1,000 images whose sorted-path order gives seeds 0..999. It is linked into its own folder so
    ``folder:`` datasets see exactly those images in that order.
    """
    base = OUT / "cifar10"
    train, test100 = base / "train", base / "test100"
    if not (base / ".extracted").exists():
        base.mkdir(parents=True, exist_ok=True)
        with tarfile.open(data / "cifar10" / "cifar10-jpg.tar.gz") as tar:
            tar.extractall(base, filter="data")
        (base / ".extracted").touch()
    if not test100.exists():
        for cls in sorted(p.name for p in (base / "test").iterdir() if p.is_dir()):
            (test100 / cls).mkdir(parents=True, exist_ok=True)
            for f in sorted((base / "test" / cls).iterdir())[:100]:
                os.link(f, test100 / cls / f.name)
    return train, test100


SKIMAGE_PHOTOS = {  # colour photographs that ship with scikit-image, with their licences (skimage/data/README)
    "astronaut": "NASA, public domain", "chelsea": "Stefan van der Walt, CC0", "coffee": "Rachel Michetti, CC0",
    "rocket": "NASA / Kennedy Space Center, public domain",
}


def skimage_photos() -> Path:
    """A folder of scikit-image's colour photographs as 8-bit PNGs (made once): colour test images from
    outside CBSD68, for judging a colour model on more than one set."""
    from skimage import data

    from noisefree.io import write_image

    folder = OUT / "skimage_photos"
    for name in SKIMAGE_PHOTOS:
        path = folder / f"{name}.png"
        if not path.is_file():
            write_image(path, getattr(data, name)().astype("float32") / 255, dtype="uint8")
    return folder


def labelled(specs: str) -> list[tuple[str, str]]:
    """(label, method) pairs from comma-separated ``NAME`` or ``LABEL=PATH`` items (a name is its own label)."""
    return [tuple(m.split("=", 1)) if "=" in m else (m, m) for m in specs.split(",") if m]


def _block(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}:start -->\n)(.*?)(<!-- {name}:end -->)", re.S)


def read_block(path: Path, name: str) -> str:
    """The text between <!-- name:start --> and <!-- name:end --> in ``path`` ("" if there is no such block)."""
    found = _block(name).search(path.read_text())
    return found.group(2) if found else ""


def replace_block(path: Path, name: str, text: str) -> None:
    """Replace the text between <!-- name:start --> and <!-- name:end --> in ``path``."""
    doc = path.read_text()
    pattern = _block(name)
    if not pattern.search(doc):
        raise SystemExit(f"{path}: no <!-- {name}:start --> ... <!-- {name}:end --> block to fill")
    path.write_text(pattern.sub(lambda m: m.group(1) + text.rstrip() + "\n" + m.group(3), doc))


def training_seconds(run: Path) -> float:
    """Seconds the run spent training, validation included, summed over its epochs (and sittings)."""
    with open(Path(run) / "history.csv", newline="") as f:
        return sum(float(row["seconds"]) for row in csv.DictReader(f))
