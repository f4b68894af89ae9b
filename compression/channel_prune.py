"""Structured channel pruning + distillation as a registered compressor (``channel``).

1. **Prune**: Torch-Pruning's DepGraph (``tp.pruner.BasePruner``, ``GroupMagnitudeImportance``
   (L2), local pruning) removes the fraction ``ratio`` of the channels of every dependency group
   of the teacher UNet: every level's convolutions, the resnets' time projections, the
   transformers' projections, attention head dimensions (equally in every head; the number of
   heads is kept), feed-forward widths (GEGLU's value and gate halves alike) and the time
   embedding. ``conv_out`` keeps its output
   channels (the image), ``conv_in`` its input channels (the UNet's input) and the
   cross-attention keys/values their inputs (the context). ``GroupNorm`` grouping is not a
   constraint: Torch-Pruning removes the same number of channels from every group, which leaves
   nothing to remove where a group holds one channel (the synthetic teachers' 32-channel norms
   have 32 groups) or two channels of which one comes from a skip connection (the up blocks'
   concatenations); instead every pruned norm keeps its channels per group and has fewer
   groups (a per-channel norm stays per-channel: its output on the kept channels is
   unchanged). ``ratio`` 0 is the teacher, bit for bit.
2. **Distil**: :func:`compression.distill.train`, with the VDMini student's budget (the recipe
   its shipped student was trained with: steps, batch, learning rate, EMA, seed, data) and its
   losses where they
   apply: the denoising and output terms and MCA (it reads the teacher's encoder on the student's
   *output*). ICD compares block outputs of equal shape, which a channel-pruned student does not
   have, so ``loss.lambda_icd`` must be 0.
3. **Save**: ``unet/`` in :mod:`vdmbench.models.pruned_unet`'s format + ``compression.json``
   (``classes.unet`` = ``vdmbench.models.pruned_unet:ChannelPrunedUNet``), so the adapter loads
   the student from ``weights:`` like a VDMini student, without ``compression/``.

Lives in ``compression/`` (not ``baselines/``) because it reuses the VDMini distillation loop
(:mod:`compression.distill`); ``baselines/`` imports only the harness core.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from compression.recipe import DataSpec, LossSpec, Recipe, TrainSpec, load_recipe
from compression.recipe import default_recipe as vdmini_recipe
from vdmbench.acceleration import Compressor
from vdmbench.diffusion.denoiser import DenoiserSpec, state_hash
from vdmbench.errors import ConfigError
from vdmbench.models.pruned_unet import (
    CLASS_NAME,
    PRUNED_FORMAT,
    all_widths,
    pruned_spec,
    save_pruned_unet,
    sync_width_attrs,
    unet_params,
)
from vdmbench.paths import link_path
from vdmbench.records import atomic_write_text

STUDENT_FORMAT = "vdmbench-student-1"
#: the shipped students (their recipe.yaml is the budget they were trained with)
STUDENTS_DIR = Path(__file__).resolve().parent / "students"
#: Torch-Pruning's shape-inference recursion limit while tracing (its default, 500, is too small
#: for the SVD UNet's up-block skip concatenations; see docs/baselines.md)
TRACE_RECURSION_DEPTH = 10_000


class ChannelRecipe(BaseModel):
    """A channel-pruning recipe: ``ratio`` + the distillation settings of
    :class:`compression.recipe.Recipe` (``loss``, ``train``, ``data``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1] = 1
    model: str = Field(description="registered model adapter whose teacher is pruned")
    description: str = ""
    ratio: float = Field(0.5, ge=0.0, lt=1.0, description="fraction of the channels removed "
                         "from every dependency group (0 = the teacher)")
    loss: LossSpec = Field(default_factory=lambda: LossSpec(lambda_icd=0.0))
    train: TrainSpec = Field(default_factory=TrainSpec)
    data: DataSpec = Field(default_factory=DataSpec)

    @model_validator(mode="after")
    def _no_icd(self) -> ChannelRecipe:
        if self.loss.lambda_icd != 0 or self.loss.icd_taps:
            raise ValueError("loss.lambda_icd must be 0 (ICD compares block outputs of equal "
                             "shape; a channel-pruned student's are narrower)")
        return self

    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def vdmini_budget(model: str) -> Recipe:
    """The recipe the shipped VDMini student of ``model`` was trained with
    (``compression/students/<model>-vdmini/recipe.yaml``), else the model's shipped recipe
    (``compression/recipes/<model>.yaml``). (For synth-i2v they differ: the student was trained
    for 600 steps, the recipe file says 300.)"""
    used = STUDENTS_DIR / f"{model}-vdmini" / "recipe.yaml"
    return load_recipe(used) if used.is_file() else vdmini_recipe(model)


def channel_recipe(model: str, ratio: float = 0.5) -> ChannelRecipe:
    """The VDMini student's budget for ``model`` (:func:`vdmini_budget`: its ``train``,
    ``data`` and losses, ICD off) at ``ratio``."""
    base = vdmini_budget(model)
    loss = base.loss.model_copy(update={"lambda_icd": 0.0, "icd_taps": None})
    return ChannelRecipe(model=model, ratio=ratio, loss=loss, train=base.train, data=base.data,
                         description=f"channel pruning (ratio {ratio}) + the VDMini "
                                     f"distillation budget of {model}, ICD off")


def load_channel_recipe(path: str | os.PathLike[str]) -> ChannelRecipe:
    """A recipe YAML, validated (errors name the file, line and field)."""
    return load_recipe(path, ChannelRecipe)


class _Traced(nn.Module):
    """``unet(**inputs).sample`` as one tensor (what DepGraph traces)."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, **inputs: Any) -> torch.Tensor:
        return self.unet(**inputs, return_dict=False)[0]


@contextlib.contextmanager
def _trace_depth(depth: int) -> Iterator[None]:
    from torch_pruning.dependency import constants

    old = constants.MAX_RECURSION_DEPTH
    constants.MAX_RECURSION_DEPTH = depth
    try:
        yield
    finally:
        constants.MAX_RECURSION_DEPTH = old


def example_inputs(teacher: DenoiserSpec, seed: int = 0) -> dict[str, Any]:
    """UNet keyword inputs for tracing: one clip of ``teacher.batch`` at σ = 1."""
    batch = teacher.batch(1, seed)
    x0 = batch["x0"].float()
    return teacher.encode_inputs(x0, torch.ones(1, dtype=x0.dtype), batch)


def prune_unet(unet: nn.Module, ratio: float, inputs: dict[str, Any]) -> nn.Module:
    """A channel-pruned float32 copy of ``unet`` (``unet`` is untouched), carrying
    ``pruned_spec`` (the ``vdmbench_pruned`` section). ``inputs``: UNet keyword inputs for
    tracing (:func:`example_inputs`)."""
    import torch_pruning as tp
    from diffusers.models.attention_processor import Attention

    if not 0.0 <= ratio < 1.0:
        raise ConfigError(f"ratio must be in [0, 1) (fraction of channels removed), got {ratio}",
                          field="ratio")
    student = copy.deepcopy(unet).float().eval()
    before = all_widths(student)
    params_before = unet_params(student)
    if ratio > 0:
        student.requires_grad_(True)  # DepGraph follows autograd
        num_heads: dict[nn.Module, int] = {}
        for m in student.modules():
            if isinstance(m, Attention):
                for lin in (m.to_q, m.to_k, m.to_v):
                    num_heads[lin] = int(m.heads)
        # GEGLU's projection is chunked into (value, gate) halves: prune both alike
        halves: dict[nn.Module, int] = {m.proj: 2 for m in student.modules()
                                        if type(m).__name__ == "GEGLU"}
        norms = {m: m.num_channels // m.num_groups for m in student.modules()
                 if isinstance(m, nn.GroupNorm)}
        with warnings.catch_warnings(), _trace_depth(TRACE_RECURSION_DEPTH):
            # AlphaBlender's scalar mix_factor is an "unwrapped" (1,) parameter: nothing to prune
            warnings.filterwarnings("ignore", message=".*[Uu]nwrapped parameters.*")
            pruner = tp.pruner.BasePruner(
                _Traced(student), dict(inputs),
                importance=tp.importance.GroupMagnitudeImportance(p=2), pruning_ratio=ratio,
                ignored_layers=[student.conv_out], num_heads=num_heads,
                out_channel_groups=halves, global_pruning=False)
            for groups in (pruner.in_channel_groups, pruner.out_channel_groups):
                for m in norms:
                    groups.pop(m, None)
            pruner.step()
        for m, size in norms.items():  # keep the channels per group
            m.num_groups = (m.num_channels // size if m.num_channels % size == 0
                            else math.gcd(m.num_channels, m.num_groups))
        sync_width_attrs(student)
        student.requires_grad_(False)
    student.pruned_spec = pruned_spec(student, before, ratio=ratio,  # type: ignore[assignment]
                                      params_before=params_before)
    return student.eval()


def save_channel_student(out_dir: str | os.PathLike[str], unet: nn.Module, *, base_model: str,
                         base_weights: str | None, base_weights_sha256: str,
                         recipe: ChannelRecipe, extra: dict[str, Any]) -> Path:
    """``out_dir/unet`` (pruned format) and ``out_dir/compression.json`` (written last)."""
    out = Path(out_dir)
    spec = unet.pruned_spec  # type: ignore[attr-defined]
    save_pruned_unet(unet, spec, out / "unet")
    record = {
        "format": STUDENT_FORMAT,
        "method": "channel",
        "base_model": base_model,
        "base_weights": link_path(base_weights, out),
        "base_weights_sha256": base_weights_sha256,
        "classes": {"unet": f"vdmbench.models.pruned_unet:{CLASS_NAME}"},
        "unet_class": spec["base_class"],
        "pruned_format": PRUNED_FORMAT,
        "ratio": recipe.ratio,
        "recipe_sha256": recipe.content_hash(),
        "kernel_backend": "none",
        "unet_params": unet_params(unet),
        "teacher_unet_params": spec["params_before"],
        "unet_sha256": state_hash(unet),
        "vae": False,
        **extra,
    }
    atomic_write_text(out / "compression.json", json.dumps(record, indent=2, sort_keys=True)
                      + "\n")
    return out


class ChannelPruneCompressor(Compressor):
    """``channel``: Torch-Pruning channel pruning + distillation (see the module docstring)."""

    name: ClassVar[str] = "channel"
    Recipe: ClassVar[type[BaseModel]] = ChannelRecipe

    def default_recipe(self, model: str) -> ChannelRecipe:
        return channel_recipe(model)

    def load_recipe(self, path: str | Path) -> ChannelRecipe:
        return load_channel_recipe(path)

    def fit(self, teacher: DenoiserSpec, recipe: BaseModel, out: str | Path, *,
            plan: Any = None, resume: bool = True, progress: bool = True,
            stop_after: int | None = None, vae_finetune_steps: int | None = None,
            release_teacher: bool = False, data_cache: str | Path | None = None,
            **kwargs: Any) -> Path:
        """Prune ``teacher.unet`` by ``recipe.ratio``, distil, write the student directory.
        ``plan`` and ``vae_finetune_steps`` belong to ``vdmini`` and are refused."""
        from compression.distill import train

        if not isinstance(recipe, ChannelRecipe):
            raise TypeError(f"channel needs a ChannelRecipe, got {type(recipe)}")
        if plan is not None:
            raise ConfigError("--plan/--analysis select a VDMini depth plan; method 'channel' "
                              "takes recipe.ratio", field="plan")
        if vae_finetune_steps is not None:
            raise ConfigError("--vae-steps belongs to method 'vdmini' (VAE decoder pruning)",
                              field="vae.finetune_steps")
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if recipe.train.num_threads is not None:
            torch.set_num_threads(recipe.train.num_threads)
        from compression.compress import attach_data, clips_seen
        from vdmbench import training_data

        source = training_data.check(recipe.data)
        data_info = attach_data(teacher, recipe.data, data_cache, source=source,
                                progress=progress)
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"),
                                                            sort_keys=False))
        teacher_sha = teacher.sha256
        student = prune_unet(teacher.unet, recipe.ratio, example_inputs(teacher))
        spec = student.pruned_spec  # type: ignore[attr-defined]
        res = train(teacher, student, recipe, out_dir / "train",  # type: ignore[arg-type]
                    resume=resume, progress=progress, stop_after=stop_after)
        if res.steps < recipe.train.max_steps:
            return out_dir
        student.pruned_spec = spec  # type: ignore[assignment]
        return save_channel_student(
            out_dir, student.float().cpu(), base_model=teacher.name,
            base_weights=teacher.weights, base_weights_sha256=teacher_sha, recipe=recipe,
            extra={"train_steps": res.steps, "final_losses": res.final_row,
                   "data": {**data_info, "clips_seen": clips_seen(res.segments)}})
