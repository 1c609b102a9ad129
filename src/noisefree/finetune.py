"""Fine-tuning: start a run from the weights of another (``--init RUN|CHECKPOINT|SHIPPED_NAME``)."""

from __future__ import annotations

import json

import torch
from torch import nn

from .card import ModelCard
from .resolve import resolve

__all__ = ["add_noise_map_input", "load_initial_weights"]


def load_initial_weights(model: nn.Module, init: str, target: ModelCard) -> None:
    """Copy the weights of ``init`` (run folder, checkpoint or shipped name) into ``model``, which ``target``
    describes. The architecture and its arguments must match, except that a blind network can start one
    with a noise-level map (see :func:`add_noise_map_input`); a mismatch names the options that fit."""
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
