"""UNet classes vdmbench loads, and the one UNet loader (teachers and students alike).

- :class:`VDMiniUNetSpatioTemporalConditionModel`: diffusers' ``UNetSpatioTemporalConditionModel``
  with an optional mid block (diffusers' config cannot say "no mid block"); its ``config.json``
  names this class, so :func:`load_unet` picks it from there.
- :class:`IdentityMidBlock`: the parameter-free stand-in for a removed mid block.
- :func:`load_unet`: a ``save_pretrained`` UNet folder → the class its ``config.json``
  ``_class_name`` names (SVD classes or ``VideoCrafter2UNet``).

Students written by ``vdmbench compress`` are built from these classes, so loading one needs
nothing from ``compression/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from diffusers import UNetSpatioTemporalConditionModel
from diffusers.configuration_utils import register_to_config
from torch import nn

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.registry import load_target


class IdentityMidBlock(nn.Module):
    """Stands in for a removed ``UNetMidBlockSpatioTemporal`` (or VC2's mid block, called
    ``(h, temb, context, num_frames)``): identity, no parameters."""

    def forward(self, hidden_states: torch.Tensor, temb: Any = None,
                encoder_hidden_states: Any = None, image_only_indicator: Any = None
                ) -> torch.Tensor:
        return hidden_states



class VDMiniUNetSpatioTemporalConditionModel(UNetSpatioTemporalConditionModel):
    """``UNetSpatioTemporalConditionModel`` with an optional mid block.

    ``mid_block_type=None`` replaces the mid block by :class:`IdentityMidBlock` (no parameters);
    everything else, including ``forward``, is the parent's. Shapes as the parent:
    ``sample`` (B, F, C, H, W) → (B, F, out_channels, H, W).
    """

    @register_to_config
    def __init__(
        self,
        sample_size: int | None = None,
        in_channels: int = 8,
        out_channels: int = 4,
        down_block_types: tuple[str, ...] = (
            "CrossAttnDownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types: tuple[str, ...] = (
            "UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        addition_time_embed_dim: int = 256,
        projection_class_embeddings_input_dim: int = 768,
        layers_per_block: int | tuple[int] = 2,
        cross_attention_dim: int | tuple[int] = 1024,
        transformer_layers_per_block: int | tuple[int, tuple[tuple]] = 1,
        num_attention_heads: int | tuple[int, ...] = (5, 10, 20, 20),
        num_frames: int = 25,
        mid_block_type: str | None = "UNetMidBlockSpatioTemporal",
    ):
        super().__init__(
            sample_size=sample_size, in_channels=in_channels, out_channels=out_channels,
            down_block_types=down_block_types, up_block_types=up_block_types,
            block_out_channels=block_out_channels,
            addition_time_embed_dim=addition_time_embed_dim,
            projection_class_embeddings_input_dim=projection_class_embeddings_input_dim,
            layers_per_block=layers_per_block, cross_attention_dim=cross_attention_dim,
            transformer_layers_per_block=transformer_layers_per_block,
            num_attention_heads=num_attention_heads, num_frames=num_frames)
        if mid_block_type is None:
            self.mid_block = IdentityMidBlock()
        elif mid_block_type != "UNetMidBlockSpatioTemporal":
            raise ValueError(f"unsupported mid_block_type {mid_block_type!r}")


UNET_CLASSES: dict[str, type[nn.Module]] = {
    "UNetSpatioTemporalConditionModel": UNetSpatioTemporalConditionModel,
    "VDMiniUNetSpatioTemporalConditionModel": VDMiniUNetSpatioTemporalConditionModel,
}
#: classes :func:`load_unet` imports on demand (``_class_name`` → ``module:attr``)
LAZY_UNET_CLASSES: dict[str, str] = {
    "VideoCrafter2UNet": "vdmbench.models.videocrafter2_unet:VideoCrafter2UNet",
    "ChannelPrunedUNet": "vdmbench.models.pruned_unet:ChannelPrunedUNet",
}


def unet_class(name: str) -> type[nn.Module] | None:
    """The class :func:`load_unet` uses for a ``config.json`` ``_class_name`` (None: unknown)."""
    if name in UNET_CLASSES:
        return UNET_CLASSES[name]
    if name in LAZY_UNET_CLASSES:
        return load_target(LAZY_UNET_CLASSES[name])
    return None


def read_component_config(path: str | os.PathLike[str], component: str, what: str,
                          expected: str) -> tuple[Path, Any]:
    """The folder and parsed ``config.json`` of a saved component: ``path`` is the component's
    folder or a folder holding ``<component>/``. A missing file is a
    :class:`WeightsNotFoundError` naming ``what`` and saying what was ``expected``; bad JSON a
    :class:`ConfigError` naming the file (and line)."""
    p = Path(path)
    if (p / component / "config.json").is_file():
        p = p / component
    cfg_file = p / "config.json"
    if not cfg_file.is_file():
        raise WeightsNotFoundError(f"{what}: no config.json at {p} (expected {expected})")
    try:
        return p, json.loads(cfg_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"invalid JSON: {e}", file=str(cfg_file)) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"invalid JSON: {e.msg}", file=str(cfg_file), line=e.lineno) from None


def load_unet(path: str | os.PathLike[str], cls: type[nn.Module] | None = None,
              **kwargs: Any) -> nn.Module:
    """Load a UNet saved with ``save_pretrained`` (teacher or student) with ``cls``, or (None)
    the class named in its ``config.json`` (SVD classes, ``VideoCrafter2UNet``). ``path`` is the
    ``unet/`` folder or a folder containing one."""
    p, meta = read_component_config(
        path, "unet", "UNet", "a diffusers save_pretrained folder, e.g. <student dir>/unet")
    if cls is None:
        name = meta.get("_class_name", "UNetSpatioTemporalConditionModel")
        cls = unet_class(name)
        if cls is None:
            known = ", ".join([*UNET_CLASSES, *LAZY_UNET_CLASSES])
            raise ConfigError(f"unsupported UNet class '{name}' (known: {known})",
                              file=str(p / "config.json"), field="_class_name")
    return _realigned(cls.from_pretrained(str(p), **kwargs))


def _realigned(model: nn.Module, alignment: int = 64) -> nn.Module:
    """Copy CPU parameters/buffers that sit at addresses not aligned to ``alignment`` bytes.

    diffusers can hand back tensors that are views into the safetensors file buffer (8-byte
    aligned); CPU GEMM kernels pick a different code path for those, so the reloaded model's
    output would differ from the saved one's in the last bits. Fresh copies are aligned like any
    other allocation, which makes save → load bit-identical on CPU too.
    """
    with torch.no_grad():
        for t in (*model.parameters(), *model.buffers()):
            if t.device.type == "cpu" and t.numel() and t.data_ptr() % alignment:
                t.data = t.data.clone()
    return model


def load_state_exactly(module: nn.Module, wfile: Path) -> None:
    """Load the safetensors file ``wfile`` into ``module``: every key present, none extra, every
    shape equal, else a ConfigError naming the file and up to 8 offending keys of each kind."""
    from safetensors.torch import load_file

    state = load_file(str(wfile))
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:8]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:8]}")
        if shapes:
            parts.append("shape mismatch " + ", ".join(
                f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                for k in shapes[:8]))
        raise ConfigError(f"weights do not match the pruned architecture: {'; '.join(parts)}",
                          file=str(wfile))
    module.load_state_dict(state, strict=True)
