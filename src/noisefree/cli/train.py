"""``noisefree train``: a preset, a YAML file or options in; a run folder out."""

from __future__ import annotations

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

    given = sorted(f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None)
    if resume is not None:
        if given or preset or config:
            raise ValueError(f"--resume continues a run with its own {resume / 'config.yaml'}; "
                             f"{', '.join(given + ['--preset'] * bool(preset) + ['--config'] * bool(config))} "
                             "would be ignored. Edit that file (e.g. more epochs) or start a new run instead")
        run_dir = api_train(resume=resume, out=out_dir, quiet=quiet)
    else:
        run_dir = api_train(RunConfig.resolve(preset=preset, config=config, overrides=overrides), out=out_dir,
                            quiet=quiet)
    out.print(f"run folder: {run_dir}")
    out.print(f"report: {run_dir / 'report.md'}")
