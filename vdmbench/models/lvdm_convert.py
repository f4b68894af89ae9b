"""Load lvdm (VideoCrafter2 / T2V-Turbo-v2) UNet checkpoints into :class:`VideoCrafter2UNet`.

An lvdm checkpoint is a ``.ckpt`` holding ``{"state_dict": {...}}`` (or a bare state dict, e.g.
T2V-Turbo's ``unet_*.pt``) whose UNet keys start with ``model.diffusion_model.``. Loading is strict:
every UNet key of the checkpoint must find a parameter and every parameter a key, with equal
shapes; otherwise a :class:`~vdmbench.errors.WeightsNotFoundError` names the offending keys.
Only ``torch.load(..., weights_only=True)`` and safetensors are used.

Key mapping (lvdm → ours), for ``n`` levels of ``L`` pairs each:

==============================================  =========================================
``time_embed.{0,2}``                            ``time_embedding.linear_{1,2}``
``fps_embedding.{0,2}``                         ``fps_embedding.linear_{1,2}``
``input_blocks.0.0``                            ``conv_in``
``init_attn.0``                                 ``transformer_in``
``input_blocks.{b}.0`` (ResBlock)               ``down_blocks.i.resnets.k``
``input_blocks.{b}.1`` / ``.2``                 ``down_blocks.i.attentions.k.spatial`` /
                                                ``.temporal``
``input_blocks.{b}.0.op``                       ``down_blocks.i.downsamplers.0.conv``
``middle_block.{0,1,2,3}``                      ``mid_block.resnets.0``, ``.attentions.0.spatial``,
                                                ``.attentions.0.temporal``, ``.resnets.1``
``output_blocks.{b}.{0,1,2}``                   ``up_blocks.j.resnets.k`` / attentions
``output_blocks.{b}.{last}.conv``               ``up_blocks.j.upsamplers.0.conv``
``out.{0,2}``                                   ``conv_norm_out``, ``conv_out``
``time_cond_proj``, ``motion_cond_proj``,       same names (T2V-Turbo's guidance and motion
``combine_proj``                                guidance embeddings)
==============================================  =========================================

with ``b = 1 + i·(L+1) + k`` in the encoder and ``b = j·(L+1) + k`` in the decoder. Inside a
ResBlock: ``in_layers.0/2`` → ``norm1``/``conv1``, ``emb_layers.1`` → ``time_emb_proj``,
``out_layers.0/3`` → ``norm2``/``conv2``, ``skip_connection`` → ``conv_shortcut``,
``temopral_conv`` (sic) → ``temporal_conv``. Inside a temporal transformer ``transformer_blocks`` →
``temporal_transformer_blocks``. 1×1 convolution projections (``use_linear: false`` layers such as
``init_attn``'s ``proj_in``/``proj_out``) are squeezed to linear weights.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vdmbench.errors import WeightsNotFoundError
from vdmbench.models.videocrafter2_unet import MID, VideoCrafter2UNet

PREFIX = "model.diffusion_model."

_RES = {"norm1.": "in_layers.0.", "conv1.": "in_layers.2.", "time_emb_proj.": "emb_layers.1.",
        "norm2.": "out_layers.0.", "conv2.": "out_layers.3.",
        "conv_shortcut.": "skip_connection.", "temporal_conv.": "temopral_conv."}


def _levels(config: Mapping[str, Any]) -> list[int]:
    n = len(config["block_out_channels"])
    lpb = config["layers_per_block"]
    return [int(lpb)] * n if isinstance(lpb, int) else [int(x) for x in lpb]


def module_map(config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(our prefix, lvdm prefix, kind)`` for every module that holds weights; ``kind`` is
    ``res``, ``temporal`` or ``plain`` (suffixes equal). Needs lvdm's uniform layout."""
    layers = _levels(config)
    if len(set(layers)) != 1:
        raise WeightsNotFoundError(
            f"lvdm checkpoints have the same number of pairs per level; this config has "
            f"layers_per_block={layers} (a pruned student loads with from_pretrained)")
    if config.get("mid_block_type", MID) != MID:
        raise WeightsNotFoundError("lvdm checkpoints have a mid block; this config has none")
    L, n = layers[0], len(layers)
    out: list[tuple[str, str, str]] = [
        ("time_embedding.linear_1.", "time_embed.0.", "plain"),
        ("time_embedding.linear_2.", "time_embed.2.", "plain"),
        ("conv_in.", "input_blocks.0.0.", "plain"),
        ("conv_norm_out.", "out.0.", "plain"),
        ("conv_out.", "out.2.", "plain"),
    ]
    if config.get("fps_cond", True):
        out += [("fps_embedding.linear_1.", "fps_embedding.0.", "plain"),
                ("fps_embedding.linear_2.", "fps_embedding.2.", "plain")]
    if config.get("time_cond_proj_dim"):
        out.append(("time_cond_proj.", "time_cond_proj.", "plain"))
    if config.get("motion_cond_proj_dim"):
        out += [("motion_cond_proj.", "motion_cond_proj.", "plain"),
                ("combine_proj.", "combine_proj.", "plain")]
    if config.get("addition_attention", True):
        out.append(("transformer_in.", "init_attn.0.", "temporal"))
    for i, btype in enumerate(config["down_block_types"]):
        attn = btype.startswith("CrossAttn")
        for k in range(L):
            b = 1 + i * (L + 1) + k
            out.append((f"down_blocks.{i}.resnets.{k}.", f"input_blocks.{b}.0.", "res"))
            if attn:
                out.append((f"down_blocks.{i}.attentions.{k}.spatial.", f"input_blocks.{b}.1.",
                            "plain"))
                out.append((f"down_blocks.{i}.attentions.{k}.temporal.",
                            f"input_blocks.{b}.2.", "temporal"))
        if i < n - 1:
            out.append((f"down_blocks.{i}.downsamplers.0.conv.",
                        f"input_blocks.{1 + i * (L + 1) + L}.0.op.", "plain"))
    out += [("mid_block.resnets.0.", "middle_block.0.", "res"),
            ("mid_block.attentions.0.spatial.", "middle_block.1.", "plain"),
            ("mid_block.attentions.0.temporal.", "middle_block.2.", "temporal"),
            ("mid_block.resnets.1.", "middle_block.3.", "res")]
    for j, btype in enumerate(config["up_block_types"]):
        attn = btype.startswith("CrossAttn")
        for k in range(L + 1):
            b = j * (L + 1) + k
            out.append((f"up_blocks.{j}.resnets.{k}.", f"output_blocks.{b}.0.", "res"))
            if attn:
                out.append((f"up_blocks.{j}.attentions.{k}.spatial.", f"output_blocks.{b}.1.",
                            "plain"))
                out.append((f"up_blocks.{j}.attentions.{k}.temporal.",
                            f"output_blocks.{b}.2.", "temporal"))
        if j < n - 1:
            last = 3 if attn else 1
            out.append((f"up_blocks.{j}.upsamplers.0.conv.",
                        f"output_blocks.{j * (L + 1) + L}.{last}.conv.", "plain"))
    return out


def lvdm_name(our_key: str, modules: list[tuple[str, str, str]]) -> str:
    """The lvdm key (without ``model.diffusion_model.``) of one of our state-dict keys."""
    best = max((m for m in modules if our_key.startswith(m[0])), key=lambda m: len(m[0]),
               default=None)
    if best is None:
        raise KeyError(our_key)
    ours, theirs, kind = best
    rest = our_key[len(ours):]
    if kind == "res":
        for a, b in _RES.items():
            if rest.startswith(a):
                return theirs + b + rest[len(a):]
    if kind == "temporal" and rest.startswith("temporal_transformer_blocks."):
        return theirs + "transformer_blocks." + rest[len("temporal_transformer_blocks."):]
    return theirs + rest


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a ``.ckpt``/``.pt`` (``torch.load(weights_only=True)``, ``state_dict`` unnested)
    or ``.safetensors`` file."""
    p = Path(path)
    if not p.is_file():
        raise WeightsNotFoundError(f"lvdm checkpoint not found at {p}")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (unpickling errors have many types)
        raise WeightsNotFoundError(f"{p}: cannot load with torch.load(weights_only=True): "
                                   f"{e}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise WeightsNotFoundError(f"{p}: expected a state dict, got {type(obj).__name__}")
    return {k: v for k, v in obj.items() if torch.is_tensor(v)}


def convert_state_dict(lvdm: Mapping[str, torch.Tensor], config: Mapping[str, Any],
                       source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Our state dict from an lvdm one (keys with or without ``model.diffusion_model.``; other
    keys such as the VAE's ``first_stage_model.*`` are ignored when the prefix is present).

    Strict: raises :class:`WeightsNotFoundError` listing lvdm UNet keys nothing consumes,
    parameters no key provides, and shape mismatches, each by name."""
    has_prefix = any(k.startswith(PREFIX) for k in lvdm)
    theirs = ({k[len(PREFIX):]: v for k, v in lvdm.items() if k.startswith(PREFIX)}
              if has_prefix else dict(lvdm))
    with torch.device("meta"):  # shapes only: no memory for the 1.4 B parameters
        target = VideoCrafter2UNet.from_config(dict(config))
    shapes = {k: v.shape for k, v in target.state_dict().items()}
    modules = module_map(config)
    out: dict[str, torch.Tensor] = {}
    missing, bad_shape, used = [], [], set()
    for key, shape in shapes.items():
        name = lvdm_name(key, modules)
        if name not in theirs:
            missing.append(f"{key} (expected {PREFIX}{name})")
            continue
        t = theirs[name]
        used.add(name)
        if (t.shape != shape and t.dim() > len(shape) and t.shape[:len(shape)] == shape
                and all(s == 1 for s in t.shape[len(shape):])):
            t = t.reshape(shape)  # 1x1 conv projection → linear
        if t.shape != shape:
            bad_shape.append(f"{PREFIX}{name}: {tuple(t.shape)} vs {key}: {tuple(shape)}")
            continue
        out[key] = t
    unexpected = sorted(f"{PREFIX}{k}" for k in theirs if k not in used)
    if missing or unexpected or bad_shape:
        parts = []
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): " + ", ".join(unexpected[:20]))
        if missing:
            parts.append(f"{len(missing)} missing key(s): " + ", ".join(missing[:20]))
        if bad_shape:
            parts.append(f"{len(bad_shape)} shape mismatch(es): " + ", ".join(bad_shape[:20]))
        raise WeightsNotFoundError(f"{source}: does not match the VideoCrafter2 UNet config; "
                                   + "; ".join(parts))
    return out


def load_lvdm_unet(path: str | os.PathLike[str], config: Mapping[str, Any] | None = None,
                   dtype: torch.dtype = torch.float32) -> VideoCrafter2UNet:
    """Build :class:`VideoCrafter2UNet` (``config`` or VideoCrafter2's default) and load an lvdm
    checkpoint into it strictly. Returns the model in eval mode."""
    cfg = dict(config) if config is not None else default_config()
    state = convert_state_dict(read_state_dict(path), cfg, source=str(path))
    with torch.device("meta"):
        model = VideoCrafter2UNet.from_config(cfg)
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(dtype).eval()


def default_config() -> dict[str, Any]:
    """VideoCrafter2's UNet config (the class defaults), without building the model."""
    sig = inspect.signature(VideoCrafter2UNet.__init__)
    return {k: v.default for k, v in sig.parameters.items() if k != "self"}
