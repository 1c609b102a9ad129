"""The model card: what a trained network is, what it was trained on, and what it measured.

One validated object (pydantic), saved as ``NAME.json`` beside ``NAME.safetensors`` and inside the
safetensors metadata. The card alone rebuilds the network (``architecture``, ``arguments``, ``channels``)
and tells every caller how to use it (``takes_sigma``, ``noise``, ``clip``, ``dataset``). Unknown fields
are errors, so a damaged or foreign card is refused by name instead of half-read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["CARD_FORMAT", "CardError", "ModelCard", "TrainingRecord", "TrainingRound"]

CARD_FORMAT = "noisefree-model/1"


class CardError(ValueError):
    """A model card that does not validate; the message names the file and the field."""


class TrainingRound(BaseModel):
    """One sitting of training the weights went through; a later round fine-tunes the one before."""

    model_config = ConfigDict(extra="forbid")

    minutes: float = Field(ge=0, description="training time: the sum of its epochs' times")
    hardware: str = Field(min_length=1, description="the machine and the torch version")
    how: str = Field("", description="epochs, learning rate, seed, and what changed from the round before")


class TrainingRecord(BaseModel):
    """How shipped weights were made: the last round's recipe and every round's time and hardware."""

    model_config = ConfigDict(extra="forbid")

    config: dict | None = Field(None, description="the last round's run configuration (a recipe)")
    run: str | None = Field(None, description="the last round's run folder name")
    rounds: list[TrainingRound] = Field(default_factory=list, description="oldest first")
    time: str | None = Field(None, description="free-text time and hardware, for records without rounds")

    @property
    def minutes(self) -> float:
        return sum(r.minutes for r in self.rounds)

    def summary(self) -> str:
        """One line for tables: rounds, total time and the machines (without torch versions: ``details`` has
        them), or the free-text ``time``."""
        if not self.rounds:
            return self.time or "time not recorded"
        machines = "; ".join(dict.fromkeys(re.sub(r", torch \S+$", "", r.hardware) for r in self.rounds))
        if len(self.rounds) == 1:
            return f"{self.minutes:.0f} min on {machines}"
        return f"{len(self.rounds)} rounds, {self.minutes:.0f} min in all ({machines})"

    def details(self) -> list[str]:
        """One line per round, oldest first: how long, on what, and what it did."""
        return [f"round {i} ({r.minutes:.0f} min on {r.hardware}): {r.how}" for i, r in enumerate(self.rounds, 1)]


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    format: str = Field(CARD_FORMAT, description="card format and version")
    name: str = Field("", description="the model's name (a run name or a shipped name; default: the architecture)")
    architecture: str = Field(description="registered architecture (see `noisefree models`)")
    arguments: dict = Field(default_factory=dict, description="the architecture's arguments")
    channels: int = Field(ge=1, description="image channels the network takes: 1 gray, 3 RGB")
    takes_sigma: bool = Field(False, description="the network takes the noise std as an input (noise-level map)")
    noise: str | None = Field(None, description="noise spec it was trained for (None: real noisy images)")
    objective: str = Field("supervised", description="what it learned from: supervised, n2n, n2v, n2v2, ne2ne")
    clip: bool = Field(True, description="whether its training noisy images were clipped to [0, 1]")
    dataset: str | None = Field(None, description="dataset it was trained on")
    ema: float | None = Field(None, description="decay of the weight average it keeps, if any")
    image_size: tuple[int, int] | None = Field(None, description="the only input size, for fixed-size designs")
    normalization: str = "[0, 1] float"
    noisefree_version: str = ""
    epoch: int | None = Field(None, description="epochs trained when this checkpoint was written")
    metrics: dict = Field(default_factory=dict, description="validation and test results")
    description: str = ""
    training: TrainingRecord | None = Field(None, description="recipe, time and hardware of shipped weights")
    benchmarks: dict | None = Field(None, description="measured quality, with the commands that measured it")

    @model_validator(mode="before")
    @classmethod
    def _takes_sigma_from_arguments(cls, data):
        """When ``takes_sigma`` is not given (new cards, and those written before it existed), the network's
        ``noise_map`` argument says it, with the architecture's registered default (``ffdnet``: True)."""
        if isinstance(data, dict) and "takes_sigma" not in data:
            from .models import get_spec

            try:
                defaults = get_spec(data.get("architecture", "")).defaults
            except KeyError:  # not one of ours (third-party, ONNX): no noise-map argument
                defaults = {}
            arguments = {**defaults, **(data.get("arguments") or {})}
            data = {**data, "takes_sigma": bool(arguments.get("noise_map", False))}
        return data

    @model_validator(mode="after")
    def _known_format(self):
        if self.format != CARD_FORMAT:
            raise ValueError(f"unknown card format {self.format!r}; this noisefree reads {CARD_FORMAT}")
        return self

    @classmethod
    def of(cls, card: ModelCard | dict) -> ModelCard:
        """``card`` itself, or a dict validated into a card (for callers that build one by hand)."""
        return card if isinstance(card, ModelCard) else cls.parse(card)

    @classmethod
    def parse(cls, data: dict | str, *, source: str = "model card") -> ModelCard:
        """A card from a dict or JSON text; :class:`CardError` names ``source`` and every bad field."""
        try:
            if isinstance(data, str):
                data = json.loads(data)
            return cls.model_validate(data)
        except json.JSONDecodeError as exc:
            raise CardError(f"{source}: not a JSON model card ({exc.msg})") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'card'}: {e['msg']}" for e in exc.errors())
            raise CardError(f"{source}: not a valid noisefree model card: {problems}") from None

    @classmethod
    def read(cls, path) -> ModelCard:
        path = Path(path)
        return cls.parse(path.read_text(), source=str(path))

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=False), indent=2) + "\n"
