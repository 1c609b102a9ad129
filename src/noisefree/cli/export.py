"""``noisefree export``: a network as one ONNX file that runs without PyTorch."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import friendly, out


@friendly
def export(
    model: str = typer.Argument(..., help="shipped name, run folder or checkpoint"),
    output: Path = typer.Option(..., "-o", "--output", help="the .onnx file to write"),
    opset: int = typer.Option(18, help="ONNX opset version"),
    check: bool = typer.Option(True, "--check/--no-check", help="compare onnxruntime with PyTorch on three sizes"),
):
    """Export a network to ONNX: dynamic batch, height and width (padding inside the graph), σ as a second input
    for noise-map models, the model card as metadata. Run it with `noisefree denoise --model FILE.onnx`."""
    from ..export import export_onnx, parity

    path = export_onnx(model, output, opset=opset)
    out.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if check:
        for shape, diff in parity(model, path).items():
            out.print(f"  onnxruntime vs PyTorch on {shape}: max |difference| {diff:.2g}")
