"""``noisefree models`` and ``noisefree presets``: what can be trained and loaded by name."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from .common import friendly, out


@friendly
def models(
    name: str | None = typer.Argument(None, help="a shipped model, run folder or checkpoint: print its model card"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
):
    """List the registered architectures with their parameter counts, and the shipped pretrained models; with
    a NAME, that model's card: what it is, how it was trained (every round), and what it measured."""
    if name is not None:
        return show_card(name, as_json=as_json)
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


def show_card(name: str, *, as_json: bool = False) -> None:
    """``noisefree models NAME``: the model card of a shipped model, run folder or checkpoint."""
    from ..resolve import resolve

    method = resolve(name)
    card = method.card
    if card is None:
        raise ValueError(f"{name} is a {method.kind} method and has no model card; `noisefree models` lists "
                         "the shipped models, and a run folder or checkpoint has one")
    if as_json:
        out.print_json(card.to_json())
        return
    model = getattr(method.denoiser, "model", None)  # an exported (ONNX) network has a card but no torch module
    params = f", {sum(p.numel() for p in model.parameters()):,} parameters" if hasattr(model, "parameters") else ""
    args = ", ".join(f"{k}={v}" for k, v in card.arguments.items())
    facts = Table(title=f"{card.name or name}: {card.description or card.architecture}", show_header=False)
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    for key, value in (("network", f"{card.architecture}({args}){params}, {card.channels} "
                                   f"channel{'s' * (card.channels > 1)}"),
                       ("noise", f"{card.noise or 'real noisy images'}, noisy inputs "
                                 f"{'clipped' if card.clip else 'not clipped'} in training"),
                       ("noise-level map", "yes: `--sigma` / den(x, sigma=...) steer it, estimated per image "
                                           "when not given" if card.takes_sigma else "no (blind)"),
                       ("trained on", f"{card.dataset or 'not recorded'}, objective {card.objective}"
                                      + (f", weight average (EMA {card.ema})" if card.ema else "")),
                       ("where", str(method.path) if method.path else method.kind)):
        facts.add_row(key, value)
    out.print(facts)
    record = card.training
    if record is not None:
        out.print(f"training: {record.summary()}", highlight=False)
        for line in record.details():
            out.print(f"  - {line}", highlight=False)
    bench = card.benchmarks or {}
    for label, block in bench.get("results", {}).items():
        blind = any("psnr_blind" in r for r in block["rows"].values())
        table = Table(title=f"{label}, {block.get('protocol', '')} protocol ({bench.get('hardware', '')})")
        for col in ("σ", "PSNR dB", *(["blind PSNR dB"] if blind else []), "SSIM", "noisy PSNR", "images"):
            table.add_column(col, justify="right")
        for sigma, r in block["rows"].items():
            table.add_row(sigma, f"{r['psnr']:.2f}", *([f"{r['psnr_blind']:.2f}"] if blind else []),
                          f"{r['ssim']:.4f}", f"{r['noisy_psnr']:.2f}", str(r["images"]))
        out.print(table)
        for key in ("evaluate", "evaluate_blind"):
            if block.get(key):
                out.print(f"  {block[key]}", highlight=False, soft_wrap=True)
    if card.metrics.get("validation"):
        v = card.metrics["validation"]
        out.print(f"validation (its held-out training images): PSNR {v.get('psnr', float('nan')):.2f} dB, "
                  f"SSIM {v.get('ssim', float('nan')):.4f}", highlight=False)


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
