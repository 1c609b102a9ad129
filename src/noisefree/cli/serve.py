"""``noisefree serve``: the local web page."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import err, friendly, out, tagged


@friendly
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on (this computer only, by default)"),
    port: int = typer.Option(8000, min=1, max=65535, help="port"),
    runs: Path | None = typer.Option(None, help="offer the run folders found in this folder too"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="allow an address other computers can reach"),
    max_upload_mb: float = typer.Option(64, help="largest upload accepted, in MB"),
    max_megapixels: float = typer.Option(50, help="largest image accepted (also the decompression-bomb guard)"),
    device: str | None = typer.Option(None, help="cpu | cuda | mps (default: best available)"),
):
    """Serve a local web page: drop an image, pick a method and σ, compare before/after, download the result."""
    from ..web import create_app

    if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
        raise ValueError(f"--host {host} lets other computers use this server (and its CPU); add --allow-remote "
                         "if that is what you want")
    try:
        import uvicorn
    except ImportError:
        raise ImportError("the web page needs the web extra: pip install 'noisefree[web]'") from None
    app = create_app(runs=runs, max_upload_mb=max_upload_mb, max_megapixels=max_megapixels, device=device)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(tagged("warning:", "yellow", f"listening on {host}: anyone who can reach this machine can upload "
                         "images and use its CPU/GPU; there is no login"))
    out.print(f"noisefree is at http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/  "
              "(Ctrl+C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
