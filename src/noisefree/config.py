"""The run configuration: one validated object, saved as ``config.yaml`` in every run folder.

``RunConfig.from_yaml(path)`` / ``config.to_yaml(path)`` round-trip exactly. Unknown keys are errors, so
a typo in a YAML file is reported instead of silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .models import get_spec
from .noise import parse_noise

__all__ = ["ConfigError", "RunConfig"]


class ConfigError(ValueError):
    """A configuration that does not validate; the message names the field and the file."""


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str | None = Field(None, description="run name (folder name prefix); default: preset or model")
    preset: str | None = Field(None, description="preset this configuration started from")
    # data
    dataset: str = Field("digits", description="digits | mnist | fashion-mnist | cifar10 | folder:PATH")
    data_root: str | None = Field(None, description="where torchvision datasets live (default ./data)")
    download: bool = Field(False, description="let torchvision download missing datasets")
    split: Literal["train", "test"] = "train"
    subset: str | None = Field(None, description="START:STOP images of the split to train on")
    resize: int | None = Field(None, ge=4, description="resize every image to S x S")
    grayscale: bool = False
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    patch_size: int | None = Field(None, ge=8, description="train on random crops of this size")
    patches_per_image: int = Field(8, ge=1, description="crops per image and epoch (with patch_size)")
    augment: bool = Field(False, description="random flips and 90-degree rotations")
    # evaluation after training
    eval_dataset: str | None = Field(None, description="default: the training dataset")
    eval_split: Literal["train", "test"] = "test"
    eval_subset: str | None = None
    eval_images: int | None = Field(None, ge=1, description="evaluate on at most this many images")
    # noise
    noise: str = "gaussian:0.1"
    clip: bool = Field(True, description="clip the noisy image to [0, 1]")
    # model
    model: str = "dncnn"
    model_args: dict = Field(default_factory=dict)
    init: str | None = Field(None, description="start from these weights (fine-tuning): a run folder, a "
                             "checkpoint or a shipped model name; its architecture must match model/model_args")
    # optimisation
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine"] = "constant"
    loss: Literal["mse", "l1"] = "mse"
    ema: float | None = Field(None, gt=0, lt=1, description="keep an exponential moving average of the "
                              "weights with this decay (e.g. 0.999); checkpoints and validation use it")
    patience: int | None = Field(None, ge=1, description="early stopping: epochs without improvement")
    min_delta: float = Field(0.0, ge=0)
    # machine
    seed: int = 0
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N | mps")
    amp: bool = Field(True, description="bf16 mixed precision on CUDA")
    compile: bool = Field(False, description="torch.compile the model (CUDA)")

    @field_validator("noise")
    @classmethod
    def _noise_parses(cls, v: str) -> str:
        return parse_noise(v).spec

    @field_validator("model")
    @classmethod
    def _model_known(cls, v: str) -> str:
        get_spec(v)  # KeyError lists the known models
        return v

    @model_validator(mode="after")
    def _dataset_form(self):
        for field_name in ("dataset", "eval_dataset"):
            value = getattr(self, field_name)
            if value is None:
                continue
            if not (value.startswith("folder:") or value in ("digits", "mnist", "fashion-mnist", "cifar10")):
                raise ValueError(f"{field_name}={value!r}: use digits, mnist, fashion-mnist, cifar10 or "
                                 "folder:PATH")
        return self

    # ---- YAML round trip -------------------------------------------------------------------------
    def to_yaml(self, path=None) -> str:
        text = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, path) -> RunConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        return cls.validated(data, source=str(path))

    @classmethod
    def validated(cls, data: dict, *, source: str = "configuration") -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{source}: {problems}") from None
        except KeyError as exc:
            raise ConfigError(f"{source}: {exc.args[0]}") from None
