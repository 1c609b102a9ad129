"""``noisefree train``: a preset, a YAML file or options in; a run folder out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from .common import config_options, friendly, out


@friendly
@config_options
def train(
    preset: str | None = typer.Option(None, help="start from a preset (see `noisefree presets`)"),
    config: Path | None = typer.Option(None, help="start from a YAML configuration (e.g. a run's config.yaml)"),
    resume: Path | None = typer.Option(None, help="continue the run in this folder exactly where it stopped"),
    out_dir: Path = typer.Option(Path("runs"), "--out", help="folder for run folders"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing while training"),
    *, overrides: dict,
):
    """Train a denoiser; writes a run folder with checkpoints, history, evaluation and report.md.

    The run-configuration options below override the preset or YAML file; every run saves the result as
    RUN/config.yaml."""
    from ..api import train as api_train
    from ..config import RunConfig
    from ..distributed import launch, under_torchrun

    given = sorted(f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None)
    if resume is not None:
        if given or preset or config:
            raise ValueError(f"--resume continues a run with its own {resume / 'config.yaml'}; "
                             f"{', '.join(given + ['--preset'] * bool(preset) + ['--config'] * bool(config))} "
                             "would be ignored. Edit that file (e.g. more epochs) or start a new run instead")
        cfg = RunConfig.from_yaml(resume / "config.yaml") if (resume / "config.yaml").is_file() else None
    else:
        cfg = RunConfig.resolve(preset=preset, config=config, overrides=overrides)
    if cfg is not None and cfg.nproc > 1 and not under_torchrun():  # one process per worker, under torchrun
        raise typer.Exit(launch(cfg.nproc, sys.argv[1:]))
    run_dir = api_train(resume=resume, out=out_dir, quiet=quiet) if resume is not None else api_train(
        cfg, out=out_dir, quiet=quiet)
    if os.environ.get("RANK", "0") == "0":
        out.print(f"run folder: {run_dir}")
        out.print(f"report: {run_dir / 'report.md'}")
