"""``noisefree models`` and ``noisefree presets``: what can be trained and loaded by name."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from .common import out


def models(as_json: bool = typer.Option(False, "--json", help="machine-readable output")):
    """List the registered architectures with their parameter counts, and the shipped pretrained models."""
    from ..card import ModelCard
    from ..models import build_model, list_models
    from ..pretrained import PRETRAINED_DIR, list_pretrained, pretrained_files

    rows = []
    for spec in list_models():
        counts = {c: sum(p.numel() for p in build_model(spec.name, channels=c).parameters()) for c in (1, 3)}
        size = "x".join(map(str, spec.fixed_size)) + " only" if spec.fixed_size else (
            "any" if spec.multiple == 1 else f"any (padded to {spec.multiple}k+{spec.offset})")
        rows.append({"name": spec.name, "params_gray": counts[1], "params_color": counts[3], "sizes": size,
                     "reference": spec.reference, "description": spec.description})
    shipped_models = list_pretrained()
    for name, entry in shipped_models.items():
        record = ModelCard.read(pretrained_files(name)[1]).training  # checksums verified on the way
        entry["trained"] = record.summary() if record else "not recorded"
    if as_json:
        out.print_json(json.dumps({"architectures": rows, "pretrained": shipped_models}))
        return
    table = Table(title="noisefree models")
    table.add_column("name", no_wrap=True, style="bold")
    for col in ("params (gray)", "params (RGB)", "input sizes", "follows", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], f"{r['params_gray']:,}", f"{r['params_color']:,}", r["sizes"], r["reference"],
                      r["description"])
    out.print(table)
    shipped = Table(title="shipped pretrained models (nf.load(NAME), noisefree denoise --model NAME)")
    for col in ("name", "channels", "size", "description", "trained"):
        shipped.add_column(col, overflow="fold", style="bold" if col == "name" else None)
    for name, entry in shipped_models.items():
        size = (PRETRAINED_DIR / entry["weights"]).stat().st_size / 1e6
        shipped.add_row(name, str(entry["channels"]), f"{size:.1f} MB", entry["description"], entry["trained"])
    out.print(shipped)


def presets():
    """List the presets: the reference designs and the demo."""
    from ..presets import PRESETS

    table = Table(title="noisefree presets (noisefree train --preset NAME)")
    table.add_column("name", no_wrap=True, style="bold")
    for col in ("dataset", "model", "noise", "epochs", "what the reference reported"):
        table.add_column(col, overflow="fold")
    for p in PRESETS.values():
        f = p.fields
        table.add_row(p.name, f["dataset"] + (f" ->{f['resize']}px" if f.get("resize") else ""), f["model"],
                      f["noise"], str(f["epochs"]) + (f", patience {f['patience']}" if f.get("patience") else ""),
                      p.reference)
    out.print(table)
