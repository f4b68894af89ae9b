"""Compression recipes: YAML validated by pydantic (``extra="forbid"``).

Errors name the file, the line and the field.

See ``compression/recipes/synth-i2v.yaml`` and docs/compression.md for every key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vdmbench.errors import ConfigError
from vdmbench.suite import load_yaml_with_lines, validate_model
from vdmbench.training_data.spec import TrainingDataSpec

RECIPE_DIR = Path(__file__).resolve().parent / "recipes"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSpec(_Strict):
    """Which units to drop: a preset or a plan JSON ``path``."""

    preset: Literal["none", "vdmini", "auto", "uniform", "deep-first"] = "vdmini"
    path: str | None = Field(None, description="plan JSON file; overrides preset")
    analysis: str | None = Field(None, description="analysis.json for preset 'auto' (and "
                                                   "'vdmini' on a video transformer)")
    target_speedup: float | None = Field(None, ge=1.0)
    param_budget: float | None = Field(None, gt=0.0, le=1.0)


class LossSpec(_Strict):
    """L = denoise·L_den + output·L_out + λ_ICD·L_ICD + λ_MCA·L_MCA."""

    denoise: float = Field(1.0, ge=0, description="EDM denoising loss weight (part of L_task)")
    output: float = Field(1.0, ge=0, description="output distillation weight (part of L_task)")
    lambda_icd: float = Field(0.1, ge=0)
    lambda_mca: float = Field(1.0, ge=0)
    icd_taps: list[str] | None = Field(None, description="student module names; None = every "
                                                         "down/up block output (a video "
                                                         "transformer: every block output)")
    mca_sigma_mean: float = Field(-1.0, description="log σ' mean of the re-noising level")
    mca_sigma_std: float = Field(1.0, gt=0)
    mca_hidden: int = Field(32, gt=0, description="discriminator head width")
    mca_start_step: int = Field(0, ge=0, description="steps before the adversarial term starts")


class TrainSpec(_Strict):
    max_steps: int = Field(200, gt=0, description="optimizer steps")
    batch_size: int = Field(4, gt=0, description="clips per micro-batch per process")
    grad_accum: int = Field(1, gt=0)
    lr: float = Field(1e-4, gt=0)
    disc_lr: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    ema_decay: float | None = Field(0.99, gt=0, lt=1, description="None disables EMA")
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    seed: int = Field(0, ge=0)
    checkpoint_every: int = Field(50, gt=0)
    keep_checkpoints: int = Field(2, gt=0)
    grad_clip: float | None = Field(1.0, gt=0)
    num_threads: int | None = Field(1, gt=0, description="torch CPU threads; None = leave")
    # memory (see docs/compression.md, "Fitting a 24 GB GPU")
    teacher_dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="dtype the frozen teacher is cast to before training (its "
                               "inputs are cast to it, its outputs back to float32)")
    gradient_checkpointing: bool = Field(False, description="recompute the student's block "
                                         "activations in the backward pass (diffusers models)")
    optimizer: Literal["adamw", "adafactor", "adamw8bit", "small-state"] = Field(
        "adamw", description="student optimizer; 'small-state' = bitsandbytes 8-bit AdamW "
                             "where bitsandbytes is installed and the device is CUDA, else "
                             "torch.optim.Adafactor")
    adafactor_lr: float | None = Field(None, gt=0, description="Adafactor's lr (relative to "
                                       "each parameter's RMS, torch.optim.Adafactor); None = lr")
    ema_device: Literal["model", "cpu"] = Field("model", description="where the EMA's float32 "
                                                "shadow weights live")


class DataSpec(TrainingDataSpec):
    """The training data (``data:``): a registered dataset with a suite's ``dataset:`` schema
    (:class:`vdmbench.training_data.spec.TrainingDataSpec`); ``vdmbench compress --dataset NAME
    --dataset-option KEY=VALUE`` overrides it. Left without ``name``, the synthetic adapters
    train on their own SynthMotion clips; every real model needs a dataset (``noise`` for a
    smoke run)."""


class VaeSpec(_Strict):
    """VAE decoder pruning + fine-tuning (latent I2V models with a temporal VAE: ``sfv``)."""

    enabled: bool = False
    drop_mid_block: bool = True
    last_up_block_layers: int = Field(1, gt=0, description="resnets kept in the last up block")
    channel_ratio: float = Field(0.75, gt=0, le=1, description="fraction of decoder channels "
                                 "kept per dependency group (1 = no channel pruning)")
    finetune_steps: int = Field(0, ge=0, description="decoder distillation steps")
    batch_size: int = Field(1, gt=0, description="clips per fine-tune step")
    lr: float = Field(1e-4, gt=0)
    disc_lr: float | None = Field(None, gt=0, description="patch discriminator lr (None = lr)")
    adversarial: float = Field(0.1, ge=0, description="weight of the patch-GAN hinge term")
    frame_clips: int | None = Field(None, gt=0, description="clips whose real frames are "
                                    "cached for this stage: the first N of the dataset's "
                                    "candidates (None = all; uint8 frames are ~22× the size of "
                                    "their fp16 latents)")
    real: float = Field(1.0, ge=0, description="weight of the L1 reconstruction of the real "
                        "frames (training data from a video dataset; the patch discriminator "
                        "then takes real frames as real)")
    perceptual: float = Field(0.0, ge=0, description="weight of the perceptual term; needs "
                              "perceptual_weights")
    perceptual_weights: str | None = Field(None, description="safetensors file of an LPIPS-VGG "
                                           "network (see docs/compression.md)")

    @model_validator(mode="after")
    def _perceptual_needs_weights(self) -> VaeSpec:
        if self.perceptual > 0 and not self.perceptual_weights:
            raise ValueError("perceptual > 0 needs perceptual_weights (a local safetensors "
                             "file; nothing is downloaded)")
        return self


class Recipe(_Strict):
    """A compression recipe (see docs/compression.md)."""

    schema_version: Literal[1] = 1
    model: str = Field(description="registered model adapter whose teacher is compressed "
                                   "(vdmbench ls models); checked when the teacher loads")
    description: str = ""
    plan: PlanSpec = Field(default_factory=PlanSpec)
    loss: LossSpec = Field(default_factory=LossSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    vae: VaeSpec = Field(default_factory=VaeSpec)

    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


R = TypeVar("R", bound=BaseModel)


def load_recipe(path: str | os.PathLike[str], schema: type[R] = Recipe) -> R:  # type: ignore[assignment]
    """Read a recipe YAML file and validate it against ``schema`` (the VDMini :class:`Recipe`, or
    another compressor's recipe model); errors name file, line and field."""
    p = Path(path)
    data, lines = load_yaml_with_lines(p)
    if not isinstance(data, dict):
        raise ConfigError("a recipe must be a YAML mapping", file=str(p), line=1)
    return validate_model(schema, data, file=str(p), lines=lines)


def default_recipe(model: str) -> Recipe:
    """The shipped recipe of ``model`` (``compression/recipes/<model>.yaml``)."""
    p = RECIPE_DIR / f"{model}.yaml"
    if not p.is_file():
        raise ConfigError(f"no shipped recipe for model '{model}'", file=str(p))
    return load_recipe(p)


def with_overrides(recipe: Recipe, **train: object) -> Recipe:
    """A copy with ``train`` fields replaced (``None`` values are ignored)."""
    upd = {k: v for k, v in train.items() if v is not None}
    if not upd:
        return recipe
    return recipe.model_copy(update={"train": recipe.train.model_copy(update=upd)})
