"""Where torch runs (one rule for every command and API call), and what the machine is (named with every time)."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import torch

__all__ = ["bf16_autocast", "machine_description", "pick_device"]


def pick_device(name: str | torch.device | None = "auto", *, local_rank: int | None = None) -> torch.device:
    """``"auto"`` (or None): CUDA if present, else Apple's MPS, else the CPU. Any other name (``cpu``,
    ``cuda``, ``cuda:1``, ``mps``) is checked for availability and returned as a :class:`torch.device`.
    ``local_rank`` (one process per GPU, under torchrun): CUDA without an index means ``cuda:local_rank``."""
    device = name if isinstance(name, torch.device) else _named_device(name)
    if local_rank is not None and device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank)
    return device


def _named_device(name: str | None) -> torch.device:
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"device {name!r} asked for, but MPS is not available here; use --device cpu")
    return device


def bf16_autocast(device: torch.device) -> bool:
    """Whether bf16 autocast pays on ``device``: CUDA GPUs with bf16 units, and CPUs with native bf16
    instructions (AVX512-BF16 or AMX), where a training step of the shipped U-Nets takes about half as long.
    Elsewhere (older CPUs emulate bf16; MPS) it stays off."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_has_bf16()


@functools.cache
def _cpu_has_bf16() -> bool:
    try:
        return cpuinfo_has_bf16(Path("/proc/cpuinfo").read_text())
    except OSError:  # not Linux: no way to tell, so no
        return False


def cpuinfo_has_bf16(cpuinfo: str) -> bool:
    """Whether a ``/proc/cpuinfo`` text lists native bf16 instructions (``avx512_bf16`` or ``amx_bf16``)."""
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def machine_description() -> str:
    """CPU model and cores (and GPU), named with every time this project reports."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text
