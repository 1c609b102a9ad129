"""What every command shares: the consoles, known errors as one red line, and option parsing helpers."""

from __future__ import annotations

import functools
import inspect
import typing
import warnings
from pathlib import Path

import typer
from rich.console import Console

from ..progress import tagged

out = Console(soft_wrap=True, markup=False, emoji=False)  # names print as they are: "scan[1].png", "folder:one:"
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)

PRECISION_HELP = ("networks: float32 (exact) | bf16 (autocast: about twice as fast on GPUs with bf16 units and "
                  "on CPUs with native bf16, e.g. AVX512-BF16; outputs differ in the third or fourth decimal)")


def friendly(fn):
    """Known errors become one red line naming the problem (exit 1), not a traceback; warnings one yellow line,
    without the source line Python would print, each text once per command (the same check may run at each
    level of ``--sigma 15,25,50``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pydantic import ValidationError

        shown = set()

        def show_once(message, category, *_args, **_kwargs):
            if (category, str(message)) not in shown:
                shown.add((category, str(message)))
                _show_warning(message, category)

        try:
            with warnings.catch_warnings():
                warnings.showwarning = show_once
                return fn(*args, **kwargs)
        except typer.Exit:  # click's Exit is a RuntimeError: let it through untouched
            raise
        except (ValueError, KeyError, RuntimeError, OSError, ImportError, ValidationError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
                msg = f"{exc.filename}: {exc.strerror or msg}"
            err.print(tagged("error:", "bold red", msg), highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _show_warning(message, category) -> None:
    kind = "" if category is UserWarning else f"{category.__name__}: "
    err.print(tagged("warning:", "yellow", f"{kind}{message}"), highlight=False, soft_wrap=True)


def floats(text: str | None, option: str = "--sigma") -> list[float]:
    """``"15,25,50"`` -> [15.0, 25.0, 50.0]; a clear error for anything else."""
    if not text:
        return []
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected numbers separated by commas, e.g. 15,25,50") from None
    if any(not 0 <= v < float("inf") for v in values):
        raise ValueError(f"{option} {text!r}: noise levels are numbers >= 0")
    return values


def config_options(fn):
    """Give a command one option per :class:`~noisefree.config.RunConfig` field (``--batch-size``,
    ``--augment/--no-augment``, ...; help from the field's description) and pass the given ones to it as
    ``overrides`` (a dict, None where not given). A new config field is a new option with no code here."""
    from .. import config as config_module

    fields = {name: f for name, f in config_module.RunConfig.model_fields.items() if name != "preset"}
    generated = []
    for name, f in fields.items():
        flag = name.replace("_", "-")
        kind, choices = _option_type(f.annotation)
        help_text = (f.description or "") + (f" ({' | '.join(choices)})" if choices else "")
        decls = [f"--{flag}/--no-{flag}"] if kind is bool else [f"--{flag}"]
        generated.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind | None,
                                           default=typer.Option(None, *decls, help=help_text,
                                                                rich_help_panel="Run configuration")))
    own = [p for p in inspect.signature(fn).parameters.values() if p.name != "overrides"]

    @functools.wraps(fn)
    def wrapper(**kwargs):
        overrides = {name: kwargs.pop(name) for name in fields}
        return fn(**kwargs, overrides=overrides)

    params = own + generated
    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _option_type(annotation) -> tuple[type, list[str]]:
    """The command-line type of a config field: bool, int, float or str (Literal choices listed; dicts as JSON,
    lists comma-separated)."""
    if typing.get_origin(annotation) is typing.Literal:
        return str, [str(a) for a in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (list, dict):  # given as text, parsed by the config's validators
        return str, []
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1:  # X | None
        return _option_type(args[0])
    if annotation in (bool, int, float):
        return annotation, []
    return str, []


def default_output(model: str, tag: str) -> Path:
    """Where a command writes for ``model`` when no -o is given: inside its run folder, else evaluations/."""
    path = Path(model)
    base = (path if path.is_dir() else path.parent) if path.exists() else Path("evaluations") / model
    return base / tag
