"""The ``noisefree`` command line: one module per command, registered here explicitly.

    noisefree train      (train.py)       noisefree evaluate   (evaluate.py)
    noisefree denoise    (denoise.py)     noisefree benchmark  (benchmark.py)
    noisefree estimate   (estimate.py)    noisefree models / presets (listing.py)
    noisefree export     (export.py)      noisefree serve      (serve.py)
"""

from __future__ import annotations

import inspect

import typer

from .benchmark import benchmark
from .denoise import denoise
from .estimate import estimate
from .evaluate import evaluate
from .export import export
from .listing import models, presets
from .serve import serve
from .train import train

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Train, evaluate, compare and apply image denoisers.")
def _register(command) -> None:
    """Add a command; the command list shows its docstring's first paragraph as one line."""
    first = inspect.cleandoc(command.__doc__ or "").split("\n\n")[0]
    app.command(short_help=" ".join(first.split()))(command)


for _command in (train, evaluate, denoise, benchmark, estimate, export, serve, models, presets):
    _register(_command)

__all__ = ["app", "main"]


def main():  # pragma: no cover
    app()
