"""From a name to a method: the one place that tells shipped models, classical methods, run folders and
checkpoint files apart. ``nf.load``, every command and the benchmark go through :func:`resolve`.

    method = resolve("gray-blind")        # a shipped model      -> method.kind == "shipped"
    method = resolve("nlm")               # a classical method   -> "classical"
    method = resolve("runs/demo-2026...") # a run folder, or a .safetensors/.json checkpoint -> "checkpoint"
    method = resolve("model.onnx")        # an exported network, run by onnxruntime -> "onnx"
    method = resolve("drunet_gray.pth")   # a published network, recognised by spandrel -> "thirdparty"
    method = resolve("auto")              # gray-blind or color-blind by each image's channels -> "auto"
    method = resolve("vst:bm3d")          # any of these on Poisson-Gaussian data, through the Anscombe
    method = resolve("vst:0.01,0.0004:gray-blind")  # transform (a, b estimated per image, or given) -> "vst"
    method = resolve("x8:gray-blind")     # any of these averaged over 8 flips/rotations -> "x8"
    method.denoiser(noisy, sigma=None)    # the one call every method answers
    method.identity                       # what defines its output (content checksums), for result caches

A path on disk always wins over a name. Other frameworks' checkpoints (``.pth``/``.pt``/``.ckpt`` state dicts)
are read with ``weights_only=True`` and recognised by spandrel (:mod:`noisefree.thirdparty`); a file that
holds code is refused by name, without running it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .card import ModelCard
from .checkpoint import CHECKPOINT_NAMES, find_checkpoint, load_checkpoint
from .classical import CLASSICAL, ClassicalDenoiser
from .denoiser import Denoiser, NetworkDenoiser
from .devices import pick_device
from .pretrained import AutoDenoiser, list_pretrained, load_pretrained, sha256

__all__ = ["MODEL_SUFFIXES", "Method", "UnknownMethodError", "known_names", "looks_like_method", "resolve"]

# files that are meant as a model when given where a model or an image may stand (`noisefree denoise A B`)
MODEL_SUFFIXES = (".safetensors", ".json", ".onnx", ".pt", ".pth", ".ckpt")


class UnknownMethodError(FileNotFoundError):
    """Neither a file on disk nor a known method name; the message lists the names."""


@dataclass(frozen=True)
class Method:
    denoiser: Denoiser
    identify: Callable[[], str] = field(repr=False, compare=False)  # see identity
    kind: str = "object"  # "shipped", "auto", "classical", "checkpoint", "onnx", "thirdparty", "vst", "x8", "object"
    path: Path | None = None  # the run folder or file a checkpoint came from

    @cached_property
    def identity(self) -> str:
        """What defines the output (a checkpoint's SHA-256, a shipped model's sum, a classical method's rule),
        for result caches; worked out when first asked, so loading alone never hashes a weights file."""
        return self.identify()

    @property
    def card(self) -> ModelCard | None:
        return getattr(self.denoiser, "card", None)

    @property
    def name(self) -> str:
        return self.denoiser.name


def known_names() -> list[str]:
    """Every name :func:`resolve` understands without a path."""
    return [*list_pretrained(), "auto", *CLASSICAL]


def looks_like_method(arg: str) -> bool:
    """Whether ``arg`` (the first argument of ``noisefree denoise``) names a method rather than an input."""
    path = Path(arg)
    if path.is_dir():
        return any((path / name).is_file() for name in CHECKPOINT_NAMES)
    if path.is_file():
        return path.suffix.lower() in MODEL_SUFFIXES
    if arg.startswith("vst:"):
        return looks_like_method(_vst_parts(arg)[2])
    if arg.startswith("x8:"):
        return looks_like_method(arg[len("x8:"):])
    return arg in known_names()


def _vst_parts(name: str) -> tuple[float | None, float | None, str]:
    """``vst:NAME`` or ``vst:A,B:NAME`` -> (a, b, NAME)."""
    rest = name[len("vst:"):]
    head, sep, tail = rest.partition(":")
    if sep and "," in head:
        try:
            a, b = (float(v) for v in head.split(","))
            return a, b, tail
        except ValueError:
            pass
    return None, None, rest


def resolve(name_or_path, *, device=None) -> Method:
    """The :class:`Method` for a shipped name, ``auto``, a classical name, a run folder or a checkpoint file."""
    if isinstance(name_or_path, Method):
        return name_or_path
    if isinstance(name_or_path, Denoiser):
        return Method(name_or_path, lambda: f"object:{id(name_or_path)}", "object")
    name = str(name_or_path)
    path = Path(name)
    shipped = list_pretrained()
    if path.is_file() and path.suffix.lower() == ".onnx":
        from .export import OnnxDenoiser

        return Method(OnnxDenoiser(path), lambda: f"onnx:{sha256(path)}", "onnx", path)
    if path.is_file() and path.suffix.lower() in (".pth", ".pt", ".ckpt"):
        from .thirdparty import ThirdPartyDenoiser

        den = ThirdPartyDenoiser(path, device=pick_device(device))
        return Method(den, lambda: f"thirdparty:{sha256(path)}", "thirdparty", path)
    if path.exists():
        model, card = load_checkpoint(path, device=pick_device(device))
        den = NetworkDenoiser(model, card)
        return Method(den, lambda: f"checkpoint:{sha256(find_checkpoint(path))}", "checkpoint", path)
    if name in shipped:
        return Method(load_pretrained(name, device=device),
                      lambda: f"shipped:{name}@{shipped[name]['weights_sha256']}", "shipped")
    if name == "auto":
        parts = ",".join(f"{n}@{e['weights_sha256']}" for n, e in sorted(shipped.items()))
        return Method(AutoDenoiser(device=device), lambda: f"auto:{parts}", "auto")
    if name.startswith("vst:") and not path.exists():
        from .vst import VSTDenoiser

        a, b, inner_name = _vst_parts(name)
        inner = resolve(inner_name, device=device)
        return Method(VSTDenoiser(inner.denoiser, a=a, b=b), lambda: f"vst:{a},{b}:{inner.identity}", "vst",
                      inner.path)
    if name.startswith("x8:") and not path.exists():
        from .ensemble import SelfEnsemble

        inner = resolve(name[len("x8:"):], device=device)
        return Method(SelfEnsemble(inner.denoiser), lambda: f"x8:{inner.identity}", "x8", inner.path)
    if name in CLASSICAL:
        den = ClassicalDenoiser(name)
        return Method(den, lambda: f"classical:{den.identity}", "classical")
    raise UnknownMethodError(f"{name}: neither a checkpoint or run folder on disk nor a known method name "
                             f"(shipped: {', '.join(shipped) or 'none'}; auto; classical: {', '.join(CLASSICAL)}; "
                             "vst:NAME for Poisson-Gaussian data; x8:NAME for the 8-orientation average; see "
                             "`noisefree models`)")

