"""Fine-tuning: start a run from the weights of another (``--init RUN|CHECKPOINT|SHIPPED_NAME``)."""

from __future__ import annotations

import json

import torch
from torch import nn

from .card import ModelCard
from .models.unet import ResBlock, UNet, blocks_per_level
from .resolve import resolve

__all__ = ["add_noise_map_input", "deepen_unet", "load_initial_weights"]


def load_initial_weights(model: nn.Module, init: str, target: ModelCard) -> None:
    """Copy the weights of ``init`` (run folder, checkpoint or shipped name) into ``model``, which ``target``
    describes. The architecture and its arguments must match, except that a blind network can start one
    with a noise-level map (see :func:`add_noise_map_input`) and a U-Net one with more residual blocks per
    level (see :func:`deepen_unet`); a mismatch names the options that fit."""
    method = resolve(init, device="cpu")
    if method.card is None:
        raise ValueError(f"--init {init}: a {method.kind} method has no weights; give a run folder, a "
                         "checkpoint or a shipped model name")
    start, card = method.denoiser.model, method.card
    fix = f"use --model {card.architecture} --model-args '{json.dumps(card.arguments)}' (see its model card)"
    if (card.architecture, card.channels) != (target.architecture, target.channels):
        raise ValueError(f"--init {init}: a {card.architecture} network for {card.channels} channel(s); "
                         f"this run builds {target.architecture} for {target.channels}: {fix}")
    state = start.state_dict()
    if _deeper_unet(card.arguments, target.arguments) and isinstance(start, UNet) and isinstance(model, UNet):
        state = deepen_unet(start, model)
    if target.takes_sigma and not card.takes_sigma:
        state = add_noise_map_input(state, model.state_dict())
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise ValueError(f"--init {init}: its {card.architecture} has arguments {card.arguments}, this "
                         f"run asks for {target.arguments}: {fix}") from None


def add_noise_map_input(state: dict, target: dict) -> dict:
    """A blind network's weights for the same network with a noise-level map: the first convolution gains
    one input channel (the map) with zero weights, so the result starts out denoising exactly as before."""
    grown = dict(state)
    for key, weight in state.items():
        want = target.get(key)
        if want is not None and weight.ndim == 4 and want.shape[1] == weight.shape[1] + 1 \
                and want.shape[0] == weight.shape[0] and want.shape[2:] == weight.shape[2:]:
            grown[key] = torch.cat([weight, weight.new_zeros(weight.shape[0], 1, *weight.shape[2:])], 1)
    return grown


def _deeper_unet(start: dict, target: dict) -> bool:
    """Whether ``target`` U-Net arguments differ from ``start``'s only by more blocks at some levels (and
    none fewer at any)."""
    rest = [{k: v for k, v in args.items() if k not in ("blocks", "noise_map")} for args in (start, target)]
    if rest[0] != rest[1]:
        return False
    levels = start.get("levels", 4)
    old, new = (blocks_per_level(args.get("blocks", 2), levels) for args in (start, target))
    return new != old and all(b >= a for a, b in zip(old, new))


def deepen_unet(start: UNet, model: UNet) -> dict:
    """``start``'s weights as a state dict for ``model``, the same U-Net with more residual blocks per level:
    each level keeps its blocks (first ones) and its up/down convolutions; the extra blocks get a zero last
    convolution, so they start as identities and the deeper network denoises exactly as ``start`` does (the
    first convolution of each stays random, so they learn from the first step on)."""
    state = dict(model.state_dict())
    names = {module: name for name, module in model.named_modules()}

    def copy(src: nn.Module, dst: nn.Module) -> None:
        for key, value in src.state_dict().items():
            state[f"{names[dst]}.{key}"] = value.clone()

    copy(start.head, model.head)
    copy(start.tail, model.tail)
    for src, dst in zip([*start.down, start.body, *start.up], [*model.down, model.body, *model.up]):
        src_blocks, dst_blocks = ([m for m in stage if isinstance(m, ResBlock)] for stage in (src, dst))
        src_rest, dst_rest = ([m for m in stage if not isinstance(m, ResBlock)] for stage in (src, dst))
        for a, b in [*zip(src_blocks, dst_blocks), *zip(src_rest, dst_rest)]:
            copy(a, b)
        for block in dst_blocks[len(src_blocks):]:
            last = f"{names[block]}.body.2.weight"
            state[last] = torch.zeros_like(state[last])
    return state
