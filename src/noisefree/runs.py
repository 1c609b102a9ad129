"""Run folders: their names, their history file, and the held-out images a finished run is evaluated on."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np

from .config import RunConfig
from .data import ImageSet, load_dataset

__all__ = ["eval_set", "new_run_dir", "slug", "write_history"]


def slug(text: str) -> str:
    """A file-name-safe short form of a dataset or run name."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.split("/")[-1] or text)[:40]


def new_run_dir(out: Path, name: str) -> Path:
    """A new folder ``out/NAME-YYYYmmdd-HHMMSS`` (with a counter if that exists)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out / f"{slug(name)}-{stamp}"
    k = 1
    while run_dir.exists():
        k += 1
        run_dir = out / f"{slug(name)}-{stamp}-{k}"
    run_dir.mkdir(parents=True)
    return run_dir


def eval_set(config: RunConfig, val_set: ImageSet) -> ImageSet:
    """Held-out data for the final evaluation: the dataset's test split, or the validation split for
    datasets without one (folders)."""
    dataset = config.eval_dataset or config.dataset
    same = dataset == config.dataset and (config.eval_split, config.eval_subset) == (config.split, config.subset)
    if (dataset.startswith("folder:") and dataset == config.dataset) or same:
        test = val_set.to("cpu")
    else:
        test = load_dataset(dataset, split=config.eval_split, root=config.data_root, download=config.download,
                            resize=config.resize, subset=config.eval_subset, grayscale=config.grayscale,
                            axes=config.axes)
    if config.eval_images:
        test = test.select(np.arange(min(config.eval_images, len(test))))
    return test


def write_history(history: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
