"""Build, save and load students: ``apply(teacher, plan)`` → a proper diffusers-style UNet.

Teachers are diffusers' ``UNetSpatioTemporalConditionModel`` (SVD family) or vdmbench's
``VideoCrafter2UNet`` (T2V); a student is a model of the same family (see :func:`student_class`).

The student's config is the teacher's with per-level ``layers_per_block`` (diffusers accepts a
tuple): removing ``k`` pairs from ``D.i`` and ``U.(n-1-i)`` lowers level ``i`` by ``k``, so the down
block pushes ``k`` fewer skips and the up block consumes ``k`` fewer. Kept weights are copied from
the teacher: student pair ``m`` of a block is the ``m``-th kept teacher pair. In an up block the
skips are consumed last-in first-out, so after a removal the remaining up pairs read the remaining
down outputs in the same order as before; which skip a middle up pair reads shifts by the number
of removed pairs (distillation adapts to it).

diffusers' config cannot say "no mid block". A student without one is a
:class:`VDMiniUNetSpatioTemporalConditionModel` (a registered ``ModelMixin`` subclass with one extra
config key, ``mid_block_type: null``, whose mid block is a parameter-free identity); its
``config.json`` names that class, and :func:`load_unet` picks the right class from it. A student
that keeps the mid block is a plain ``UNetSpatioTemporalConditionModel``.
``VideoCrafter2UNet`` expresses both natively (``layers_per_block`` list, ``mid_block_type: null``),
so its students are ``VideoCrafter2UNet`` instances.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers import UNetSpatioTemporalConditionModel
from torch import nn

from compression.dit_student import apply_dit
from compression.plan import DepthPlan, atomic_write_text, check_plan
from compression.units import levels_of
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.models.pruned_dit import is_transformer
from vdmbench.models.unets import (
    VDMiniUNetSpatioTemporalConditionModel,
)
from vdmbench.paths import link_path

STUDENT_FORMAT = "vdmbench-student-1"


def student_config(teacher_config: Mapping[str, Any], plan: DepthPlan) -> dict[str, Any]:
    """The student's diffusers config (without ``_``-prefixed keys)."""
    units = check_plan(teacher_config, plan)
    cfg = {k: v for k, v in dict(teacher_config).items() if not k.startswith("_")}
    lpb = levels_of(cfg)
    for u in units:
        if u.kind == "down":
            lpb[u.level] -= 1
    cfg["layers_per_block"] = list(lpb)
    if any(u.kind == "mid" for u in units):
        cfg["mid_block_type"] = None
    return cfg


def _kept(total: int, removed: set[int]) -> list[int]:
    return [k for k in range(total) if k not in removed]


def teacher_key_map(teacher_config: Mapping[str, Any], plan: DepthPlan) -> dict[str, str]:
    """Prefix map student module path → teacher module path for every re-indexed pair
    (``down_blocks.0.resnets.1`` → ``down_blocks.0.resnets.2`` …)."""
    units = check_plan(teacher_config, plan)
    lpb = levels_of(teacher_config)
    n = len(lpb)
    out: dict[str, str] = {}
    for i in range(n):
        gone = {u.pair for u in units if u.kind == "down" and u.block == i}
        for m, k in enumerate(_kept(lpb[i], gone)):
            for sub in ("resnets", "attentions"):
                out[f"down_blocks.{i}.{sub}.{m}."] = f"down_blocks.{i}.{sub}.{k}."
    for j in range(n):
        gone = {u.pair for u in units if u.kind == "up" and u.block == j}
        for m, k in enumerate(_kept(lpb[n - 1 - j] + 1, gone)):
            for sub in ("resnets", "attentions"):
                out[f"up_blocks.{j}.{sub}.{m}."] = f"up_blocks.{j}.{sub}.{k}."
    return out


def _teacher_name(student_key: str, key_map: Mapping[str, str]) -> str:
    parts = student_key.split(".")
    if len(parts) > 4 and parts[2] in ("resnets", "attentions"):
        prefix = ".".join(parts[:4]) + "."
        if prefix in key_map:
            return key_map[prefix] + student_key[len(prefix):]
    return student_key


def student_class(teacher: nn.Module, cfg: Mapping[str, Any]) -> type[nn.Module]:
    """The class of ``teacher``'s student with config ``cfg`` (from :func:`student_config`).

    SVD family: :class:`VDMiniUNetSpatioTemporalConditionModel` when the config carries
    ``mid_block_type`` (diffusers' class has no such key), else
    ``UNetSpatioTemporalConditionModel``.
    Any other ``ConfigMixin`` model (``VideoCrafter2UNet``): its own class, which must accept
    ``mid_block_type`` when the plan removes the mid block.
    """
    kind = type(teacher)
    if isinstance(teacher, UNetSpatioTemporalConditionModel):
        if "mid_block_type" in cfg:
            return VDMiniUNetSpatioTemporalConditionModel
        return UNetSpatioTemporalConditionModel
    if not callable(getattr(kind, "from_config", None)):
        raise ConfigError(f"cannot build a student of {kind.__name__}: it is not a diffusers "
                          f"ConfigMixin model (no from_config)")
    if cfg.get("mid_block_type", "") is None and (
            "mid_block_type" not in inspect.signature(kind.__init__).parameters):
        raise ConfigError(f"cannot remove the mid block of a {kind.__name__}: its config has no "
                          f"'mid_block_type' key")
    return kind


def apply(teacher: nn.Module, plan: DepthPlan) -> nn.Module:
    """Build the student of ``teacher`` under ``plan``, kept weights copied from the teacher.

    ``teacher`` is a ``UNetSpatioTemporalConditionModel`` (→ that class or the no-mid-block
    subclass) or a ``VideoCrafter2UNet`` (→ a ``VideoCrafter2UNet``); see :func:`student_class`.
    The student is on the teacher's device and dtype, in eval mode; its forward takes and returns
    the same shapes as the teacher's. A diffusers video transformer teacher gives a shorter
    transformer of its class (:func:`compression.dit_student.apply_dit`).
    """
    if is_transformer(teacher):
        return apply_dit(teacher, plan)
    cfg = student_config(teacher.config, plan)
    student = student_class(teacher, cfg).from_config(cfg)
    key_map = teacher_key_map(teacher.config, plan)
    t_state = teacher.state_dict()
    s_state = student.state_dict()  # shares storage with the student's parameters
    for key, value in s_state.items():
        src = _teacher_name(key, key_map)
        if src not in t_state:
            raise ConfigError(f"cannot build student: teacher has no weight '{src}' for '{key}'")
        if t_state[src].shape != value.shape:
            raise ConfigError(
                f"plan '{plan.preset}' is not realizable: student weight '{key}' "
                f"{tuple(value.shape)} would come from teacher '{src}' {tuple(t_state[src].shape)}")
    with torch.no_grad():  # in place: no second copy of the student (4.5 GB for SF-V)
        for key, value in s_state.items():
            value.copy_(t_state[_teacher_name(key, key_map)])
    p = next(teacher.parameters())
    if p.device.type != "cpu" or p.dtype != torch.float32:
        student = student.to(device=p.device, dtype=p.dtype)
    return student.eval()


def save_student(out_dir: str | os.PathLike[str], unet: nn.Module, plan: DepthPlan, *,
                 base_model: str, base_weights_sha256: str, base_weights: str | None,
                 recipe_sha256: str | None, kernel_backend: str = "none",
                 vae: nn.Module | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/unet`` (save_pretrained, safetensors), optionally ``out_dir/vae``, and
    ``out_dir/compression.json`` (written last, atomically). Returns ``out_dir``.

    A video transformer student (``is_transformer(unet)``) goes to ``out_dir/transformer``
    instead, its class under
    ``classes.transformer`` (the diffusers class: plain ``from_pretrained`` loads it), and
    ``compression.json`` gets ``denoiser_component: "transformer"`` and ``kept_blocks`` (the
    plan's ``provenance.kept_blocks``: block list → the teacher's block indices kept).

    ``compression.json`` ``classes.unet`` is ``"module:qualname"`` of ``type(unet)`` (SVD classes,
    ``compression.student:VDMiniUNetSpatioTemporalConditionModel`` or
    ``vdmbench.models.videocrafter2_unet:VideoCrafter2UNet``); ``extra["classes"]`` is merged in.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    component = "transformer" if is_transformer(unet) else "unet"
    unet.save_pretrained(str(out / component), safe_serialization=True)
    if vae is not None:
        vae.save_pretrained(str(out / "vae"), safe_serialization=True)
    record = {
        "format": STUDENT_FORMAT,
        "base_model": base_model,
        "base_weights_sha256": base_weights_sha256,
        "base_weights": link_path(base_weights, out),
        "plan": plan.to_dict(),
        "recipe_sha256": recipe_sha256,
        "kernel_backend": kernel_backend,
        "unet_class": type(unet).__name__,
        # read by every adapter (svd/sfv and synth-i2v): which class loads each component
        "classes": {component: f"{type(unet).__module__}:{type(unet).__qualname__}"},
        "unet_params": sum(p.numel() for p in unet.parameters()),
        "unet_sha256": state_hash(unet),
        "vae": vae is not None,
    }
    if component == "transformer":
        record["denoiser_component"] = component
        record["kept_blocks"] = plan.provenance.get("kept_blocks")
    if extra:
        extra = dict(extra)
        # an explicit ``classes`` entry adds to (or overrides) the UNet's, it does not drop it
        classes = {**record["classes"], **dict(extra.pop("classes", None) or {})}
        record.update(extra)
        record["classes"] = classes
    atomic_write_text(out / "compression.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return out


def read_compression_json(student_dir: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(student_dir) / "compression.json"
    if not p.is_file():
        raise WeightsNotFoundError(f"student: no compression.json in {Path(student_dir)} "
                                   f"(make one with `vdmbench compress … --out DIR`)")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"invalid JSON: {e.msg}", file=str(p), line=e.lineno) from None
