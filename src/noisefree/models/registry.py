"""The model registry: architectures found by name, registered explicitly in ``models/__init__.py``.

Each entry records how to build the network and what input sizes it takes: ``fixed_size`` for designs
with dense layers (they refuse other sizes), or ``multiple``/``offset`` for fully convolutional ones,
which accept any size after reflect-padding H and W up to the next value with ``value % multiple ==
offset`` (and cropping back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

__all__ = ["ModelSpec", "build_model", "get_spec", "list_models", "register"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: Callable[..., nn.Module]
    description: str
    reference: str = ""  # which reference design or paper it follows
    fixed_size: tuple[int, int] | None = None
    multiple: int = 1
    offset: int = 0
    minimum: int = 1
    defaults: dict = field(default_factory=dict)

    def padded_size(self, n: int) -> int:
        """Smallest size >= n (and >= minimum) the network accepts."""
        n = max(n, self.minimum)
        return n + (self.offset - n) % self.multiple

    def check_size(self, h: int, w: int) -> None:
        if self.fixed_size and (h, w) != tuple(self.fixed_size):
            fh, fw = self.fixed_size
            raise ValueError(f"model {self.name!r} has dense layers and takes only {fh}x{fw} images, got "
                             f"{h}x{w}; resize the data (--resize {fh}) or choose a fully convolutional model")


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def list_models() -> list[ModelSpec]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def build_model(name: str, *, channels: int, **kwargs) -> nn.Module:
    """Build architecture ``name`` for ``channels`` image channels with its default arguments updated
    by ``kwargs``."""
    spec = get_spec(name)
    args = {**spec.defaults, **kwargs}
    try:
        return spec.factory(channels=channels, **args)
    except TypeError as exc:
        raise ValueError(f"bad arguments for model {name!r}: {exc}") from exc
