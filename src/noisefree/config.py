"""The run configuration: one validated object, saved as ``config.yaml`` in every run folder.

``RunConfig.from_yaml(path)`` / ``config.to_yaml(path)`` round-trip exactly. Unknown keys are errors, so
a typo in a YAML file is reported instead of silently ignored. :meth:`RunConfig.resolve` is the one place
where a preset, a YAML file and overrides (command-line options, keyword arguments) are merged; the
``noisefree train`` options are generated from these fields, so a new field is added here only.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .data import check_dataset_spec
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
    split: Literal["train", "test"] = Field("train", description="split of the dataset to train on")
    subset: str | None = Field(None, description="START:STOP[:STEP] images of the split to train on")
    resize: int | None = Field(None, ge=4, description="resize every image to S x S")
    grayscale: bool = Field(False, description="turn RGB images gray")
    axes: str | None = Field(None, description="axis order of TIFF stacks in the dataset when the files do not "
                             "record it, e.g. ZYX, TYX, ZYXS (every plane is one training image)")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="fraction of images held out for validation")
    patch_size: int | None = Field(None, ge=8, description="train on random crops of this size")
    patches_per_image: int = Field(8, ge=1, description="crops per image and epoch (with patch_size)")
    augment: bool = Field(False, description="random flips and 90-degree rotations")
    scales: list[float] = Field([1.0], description="train on the training images at these scales too, each "
                                "downscaled once with antialiasing (e.g. 1,0.7,0.5; DnCNN used 1,0.9,0.8,0.7): "
                                "finer detail per pixel, and colour detail at full resolution from photos whose "
                                "colour was stored at half resolution (JPEG 4:2:0). Each scale adds "
                                "patches_per_image crops per image to an epoch; validation uses the same scales")
    saturation: float | None = Field(None, ge=1, description="colour images: scale each training crop's colour "
                                     "saturation by a factor drawn log-uniformly from [1/S, S] (e.g. 2.5) before the "
                                     "noise is added, so the network meets strong colour edges as well as the "
                                     "muted colours of most photos; supervised training with fresh noise only")
    half_chroma: bool = Field(False, description="colour training images whose colour is stored at half "
                              "resolution (JPEG 4:2:0, as CBSD432's): compare the network's colour (Cb, Cr) with "
                              "theirs in 2x2 block means only, so it is not taught to blur colour detail that "
                              "their files could not hold; crops at scale 0.5 or less (see scales) have colour "
                              "at full resolution and keep the plain loss. Supervised training only")
    noisy: bool = Field(False, description="the dataset's images are already noisy: they are the network's input "
                        "as they are, nothing is added, there is no clean reference (train with n2v, n2v2, ne2ne, "
                        "or n2n with pair_dataset)")
    pair_dataset: str | None = Field(None, description="n2n on real pairs: folder:PATH with a second noisy image "
                                     "of each scene, under the same relative file name as in dataset")
    # evaluation after training
    eval_dataset: str | None = Field(None, description="dataset of the final evaluation (default: the training one)")
    eval_split: Literal["train", "test"] = Field("test", description="split of the final evaluation")
    eval_subset: str | None = Field(None, description="START:STOP[:STEP] images of the final evaluation")
    eval_images: int | None = Field(None, ge=1, description="evaluate on at most this many images")
    # noise
    noise: str = Field("gaussian:0.1", description="e.g. gaussian:0.1, gaussian:0-0.2, saltpepper:0.02, masking:0.3, "
                       "poisson:30, speckle:0.1, combined with +")
    clip: bool = Field(True, description="clip the noisy image to [0, 1]")
    fixed_noise: bool | None = Field(None, description="draw one noisy realization per training image once (two "
                                     "for n2n) instead of fresh noise every batch; default: on for self-supervised "
                                     "objectives, off for supervised")
    # objective
    objective: Literal["supervised", "n2n", "n2v", "n2v2", "ne2ne"] = Field(
        "supervised", description="what the network learns from: clean images (supervised), noisy pairs (n2n), "
        "single noisy images (n2v, n2v2: blind spot; ne2ne: Neighbor2Neighbor)")
    objective_args: dict = Field(default_factory=dict, description='the objective\'s arguments (JSON on the command '
                                 'line): n2v/n2v2 \'{"fraction": 0.02, "radius": 2}\', ne2ne \'{"gamma": 2}\'')
    # model
    model: str = Field("dncnn", description="architecture (see `noisefree models`)")
    model_args: dict = Field(default_factory=dict, description='architecture arguments (JSON on the command line, '
                             'e.g. \'{"width": 32, "noise_map": true}\')')
    init: str | None = Field(None, description="start from these weights (fine-tuning): a run folder, a "
                             "checkpoint or a shipped model name; its architecture must match model/model_args")
    # optimisation
    epochs: int = Field(10, ge=1, description="passes over the training images")
    batch_size: int = Field(64, ge=1, description="images (or crops) per step")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay")
    schedule: Literal["constant", "cosine"] = Field("constant", description="learning-rate schedule over the epochs "
                                                                     "(those that fit the time budget, with minutes)")
    warmup: int = Field(0, ge=0, description="steps over which the learning rate rises linearly from 0 to the "
                        "schedule's (e.g. 300 when fine-tuning with init: Adam restarted on trained weights moves "
                        "every weight by about lr in its first steps, and a weight average keeps those steps)")
    loss: Literal["mse", "l1", "psnr"] = Field("mse", description="training loss: mse, l1, or psnr (minus each "
                                               "image's PSNR, averaged: every noise level of a blind model counts "
                                               "as in mean PSNR, not only the noisiest; supervised and n2n)")
    ema: float | None = Field(None, gt=0, lt=1, description="keep an exponential moving average of the "
                              "weights with this decay (e.g. 0.999); checkpoints and validation use it")
    minutes: float | None = Field(None, gt=0, description="time budget: stop after about this many minutes of "
                                  "training (epochs and their validation; loading and the final evaluation come "
                                  "on top). The cosine schedule spans the epochs that fit, re-estimated after "
                                  "each epoch from the time measured; epochs stays the most that may run")
    patience: int | None = Field(None, ge=1, description="early stopping: epochs without improvement")
    min_delta: float = Field(0.0, ge=0, description="smallest validation-loss decrease that counts as improvement")
    # machine
    seed: int = Field(0, description="seed of the split, the crops and the noise")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N | mps")
    amp: bool = Field(True, description="bf16 mixed precision on CUDA and on CPUs with native bf16 (AVX512-BF16, AMX)")
    compile: bool = Field(False, description="torch.compile the model (CUDA only)")
    tensorboard: bool = Field(False, description="log losses, validation PSNR/SSIM, learning rate and sample "
                              "images to RUN/tensorboard/ (needs the tensorboard package)")
    nproc: int = Field(1, ge=1, description="processes on this machine (torchrun + DDP, one per GPU, or gloo on "
                       "CPUs); the global batch is batch_size x nproc")

    @field_validator("noise")
    @classmethod
    def _noise_parses(cls, v: str) -> str:
        return parse_noise(v).spec

    @field_validator("model")
    @classmethod
    def _model_known(cls, v: str) -> str:
        get_spec(v)  # KeyError lists the known models
        return v

    @field_validator("dataset", "eval_dataset", "pair_dataset")
    @classmethod
    def _dataset_form(cls, v: str | None) -> str | None:
        return v if v is None else check_dataset_spec(v)

    @field_validator("model_args", "objective_args", mode="before")
    @classmethod
    def _model_args_json(cls, v):
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{v!r} is not JSON ({exc.msg}); e.g. '{{\"width\": 32}}'") from None
            if not isinstance(v, dict):
                raise ValueError(f"expected a JSON object such as '{{\"width\": 32}}', got {v!r}")
        return v

    @field_validator("scales", mode="before")
    @classmethod
    def _scales_list(cls, v):
        if isinstance(v, str):  # the command line: 1,0.7,0.5
            try:
                v = [float(t) for t in v.split(",") if t.strip()]
            except ValueError:
                raise ValueError(f"{v!r}: expected scales separated by commas, e.g. 1,0.7,0.5") from None
        return v

    @field_validator("scales")
    @classmethod
    def _scales_valid(cls, v: list[float]) -> list[float]:
        if not v or any(not 0 < s <= 1 for s in v) or len(set(v)) != len(v):
            raise ValueError(f"scales {v}: give distinct factors in (0, 1], e.g. 1,0.7,0.5 (1 is the images as "
                             "they are)")
        return v

    @model_validator(mode="after")
    def _objective_fits_data(self):
        from .objectives import make_objective

        objective = make_objective(self.objective, self.objective_args, loss=self.loss)
        if self.noisy and not objective.self_supervised:
            raise ValueError("supervised training needs clean images, and noisy says there are none: choose "
                             "--objective n2v2, ne2ne or n2v (single noisy images), or n2n with --pair-dataset")
        if self.noisy and self.objective == "n2n" and not self.pair_dataset:
            raise ValueError("n2n on noisy images needs a second noisy image of each scene: --pair-dataset "
                             "folder:PATH (same file names); with single noisy images use n2v2 or ne2ne")
        if self.noisy and self.scales != [1.0]:
            raise ValueError(f"scales {self.scales} on noisy images would shrink their noise along with them, so "
                             "the network would learn from noise unlike the images it will denoise: drop scales "
                             "(rescaling is for clean training images)")
        if self.saturation is not None and self.uses_fixed_noise:
            raise ValueError(f"saturation {self.saturation} changes the clean crops every batch, which a fixed noisy "
                             "realization (or noisy data) cannot follow: use it for supervised training with fresh "
                             "noise, or drop it")
        if self.half_chroma and (objective.self_supervised or self.noisy):
            raise ValueError("half_chroma changes what a clean target is compared on, and "
                             f"{self.objective} training has no clean target: drop it")
        if self.scales != [1.0] and self.patch_size is None:
            raise ValueError(f"scales {self.scales} make images of several sizes, so training needs crops: add "
                             "--patch-size (e.g. 64)")
        if self.pair_dataset and not (self.noisy and self.objective == "n2n"):
            raise ValueError("pair_dataset is for n2n on real noisy pairs: add --noisy --objective n2n, or drop it")
        if self.fixed_noise is False and objective.self_supervised and not self.noisy:
            raise ValueError(f"{self.objective} on clean images with fresh noise every batch would learn from many "
                             "noisy copies of each image, which amounts to seeing the clean one: leave fixed_noise "
                             "on (one fixed noisy realization per image)")
        return self

    @property
    def uses_fixed_noise(self) -> bool:
        """Whether training draws its noise once per image (see :mod:`noisefree.training_data`)."""
        return not self.noisy and (self.fixed_noise if self.fixed_noise is not None else self.objective != "supervised")

    # ---- one merge: preset or YAML file, then overrides -----------------------------------------
    @classmethod
    def resolve(cls, *, preset: str | None = None, config: RunConfig | dict | str | Path | None = None,
                overrides: dict | None = None) -> RunConfig:
        """The configuration a run uses: a ``preset`` or a ``config`` (object, dict or YAML file), with
        ``overrides`` (None values ignored) on top, validated once. Errors name the source."""
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        if preset is not None and config is not None:
            raise ConfigError("give a preset or a configuration, not both")
        if preset is not None:
            from .presets import PRESETS

            if preset not in PRESETS:
                raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)} (see `noisefree presets`)")
            base, source = {**PRESETS[preset].fields, "preset": preset, "name": preset}, f"preset {preset}"
        elif isinstance(config, (str, Path)):
            base, source = _read_yaml(Path(config)), str(config)
        elif isinstance(config, RunConfig):
            base, source = config.model_dump(), "configuration"
        else:
            base, source = dict(config or {}), "configuration"
        if overrides:
            source += " with the options given"
        return cls.validated({**base, **overrides}, source=source)

    # ---- YAML round trip -------------------------------------------------------------------------
    def to_yaml(self, path=None) -> str:
        text = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, path) -> RunConfig:
        return cls.validated(_read_yaml(Path(path)), source=str(path))

    @classmethod
    def validated(cls, data: dict, *, source: str = "configuration") -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {_problem(e)}" for e in exc.errors())
            raise ConfigError(f"{source}: {problems}") from None
        except KeyError as exc:
            raise ConfigError(f"{source}: {exc.args[0]}") from None


def _problem(error: dict) -> str:
    """One validation error in words; an unknown field names the known ones closest to it (``epochz``: epochs)."""
    if error["type"] != "extra_forbidden" or len(error["loc"]) != 1:
        return error["msg"].removeprefix("Value error, ")
    close = difflib.get_close_matches(str(error["loc"][0]), list(RunConfig.model_fields), n=2, cutoff=0.6)
    return "not a configuration field" + (f": did you mean {' or '.join(close)}?" if close else
                                          " (`noisefree train --help` lists them)")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a folder, not a configuration file (a run's is RUN/config.yaml)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; a configuration is YAML (see examples/)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a configuration is a YAML mapping of fields (e.g. `epochs: 10`), "
                          f"not a {type(data).__name__}")
    return data
