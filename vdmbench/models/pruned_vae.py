"""The pruned temporal VAE's class and save format (what a student directory's ``vae/`` holds).

:class:`PrunedAutoencoderKLTemporalDecoder` is SVD's ``AutoencoderKLTemporalDecoder`` with a cut,
channel-pruned decoder (made by :func:`compression.vae_cuts.prune_decoder`). Its folder::

    vae/config.json                        the original diffusers config, _class_name
                                           "PrunedAutoencoderKLTemporalDecoder", plus a
                                           "vdmbench_pruned" section (see below)
    vae/diffusion_pytorch_model.safetensors   the pruned state dict

``vdmbench_pruned``: ``format`` ("vdmbench-pruned-vae-1"), ``identity`` (module names replaced by
identities), ``up_block_layers`` ({up block index: resnets kept}), ``modules`` ({name: {"type",
channel counts}} for every Conv/GroupNorm/Linear whose width changed), ``attributes`` ({name:
{attr: int}} for diffusers blocks that store their widths, e.g. ``Upsample2D.channels``),
``channel_ratio`` and parameter counts. :func:`load_pruned_vae` builds the original architecture
from the config, applies the section and loads the weights strictly (any missing, unexpected or
mis-shaped key is named in the error). Loading needs nothing from ``compression/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLTemporalDecoder
from safetensors.torch import save_file
from torch import nn

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.models.pruned_modules import CONFIG_KEY, apply_widths, spec_error, sync_attrs
from vdmbench.models.unets import load_state_exactly, read_component_config
from vdmbench.records import atomic_write_text

PRUNED_FORMAT = "vdmbench-pruned-vae-1"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"



class IdentityDecoderMidBlock(nn.Module):
    """Stands in for a removed ``MidBlockTemporalDecoder``: identity, no parameters."""

    def forward(self, hidden_states: torch.Tensor, image_only_indicator: Any = None
                ) -> torch.Tensor:
        return hidden_states


class PrunedAutoencoderKLTemporalDecoder(AutoencoderKLTemporalDecoder):
    """``AutoencoderKLTemporalDecoder`` with a cut / channel-pruned decoder.

    ``forward``/``encode``/``decode`` are the parent's; ``decode(z (B·F, C, h, w), num_frames)``
    → (B·F, 3, 8h, 8w) for SVD's 4-level VAE. ``save_pretrained`` and ``from_pretrained`` use the
    pruned format of this module (so diffusers' pipelines and the ``svd`` adapter load it when
    ``compression.json`` names this class under ``classes.vae``).
    """

    pruned_spec: dict[str, Any]

    def save_pretrained(self, save_directory: str | os.PathLike[str], *args: Any,
                        **kwargs: Any) -> None:  # type: ignore[override]
        save_pruned_vae(self, save_directory)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str],
                        *args: Any, **kwargs: Any) -> PrunedAutoencoderKLTemporalDecoder:  # type: ignore[override]
        """Load with :func:`load_pruned_vae`; accepts ``torch_dtype`` and ignores diffusers'
        hub keywords (``local_files_only``, ``use_safetensors``, ``variant`` must be None)."""
        if kwargs.get("variant"):
            raise WeightsNotFoundError(f"pruned VAE at {pretrained_model_name_or_path}: weight "
                                       f"variants are not supported (variant="
                                       f"{kwargs['variant']!r}); it has only {WEIGHTS_NAME}")
        return load_pruned_vae(pretrained_model_name_or_path, torch_dtype=kwargs.get("torch_dtype"))


# ------------------------------------------------------------------------------------ helpers


def decoder_params(vae: nn.Module) -> int:
    """Number of decoder parameters (``vae.decoder``)."""
    return int(sum(p.numel() for p in vae.decoder.parameters()))


def decode(vae: nn.Module, latents: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``vae.decode`` of (B·F, C, h, w) latents (already divided by the scaling factor) →
    (B·F, 3, H, W) frames in [-1, 1] (unclamped)."""
    return vae.decode(latents, num_frames=num_frames).sample


def module_widths(m: nn.Module) -> dict[str, int] | None:
    """The constructor widths of a prunable leaf module (None for other modules)."""
    if isinstance(m, nn.modules.conv._ConvNd):  # noqa: SLF001
        return {"in_channels": m.in_channels, "out_channels": m.out_channels}
    if isinstance(m, nn.GroupNorm):
        return {"num_channels": m.num_channels}
    if isinstance(m, nn.Linear):
        return {"in_features": m.in_features, "out_features": m.out_features}
    return None


#: diffusers blocks that store their widths as attributes: attribute → (child module, its width)
WIDTH_ATTRS: dict[str, dict[str, tuple[str, str]]] = {
    "Upsample2D": {"channels": ("conv", "in_channels"), "out_channels": ("conv", "out_channels")},
    "ResnetBlock2D": {"in_channels": ("conv1", "in_channels"),
                      "out_channels": ("conv2", "out_channels")},
    "TemporalResnetBlock": {"in_channels": ("conv1", "in_channels"),
                            "out_channels": ("conv2", "out_channels")},
}


def sync_width_attrs(decoder: nn.Module) -> None:
    """Make the width attributes of diffusers blocks agree with their (pruned) convolutions."""
    sync_attrs(decoder, WIDTH_ATTRS)


def apply_cuts(vae: nn.Module, drop_mid_block: bool, up_block_layers: Mapping[int, int]
                ) -> list[str]:
    """Replace the mid block by an identity and truncate up blocks; returns the identity names."""
    dec = vae.decoder
    identity: list[str] = []
    if drop_mid_block:
        dec.mid_block = IdentityDecoderMidBlock()
        identity.append("decoder.mid_block")
    n_up = len(dec.up_blocks)
    for idx, keep in up_block_layers.items():
        i = int(idx)
        if not 0 <= i < n_up:
            raise ConfigError(f"up block {i} does not exist (the decoder has {n_up})",
                              field=f"{CONFIG_KEY}.up_block_layers")
        have = len(dec.up_blocks[i].resnets)
        if not 1 <= int(keep) <= have:
            raise ConfigError(f"up block {i}: cannot keep {keep} of its {have} resnets "
                              f"(1 … {have})", field=f"{CONFIG_KEY}.up_block_layers")
        dec.up_blocks[i].resnets = nn.ModuleList(list(dec.up_blocks[i].resnets)[:int(keep)])
    return identity




def save_pruned_vae(vae: PrunedAutoencoderKLTemporalDecoder, path: str | os.PathLike[str]
                    ) -> Path:
    """Write ``path/config.json`` (diffusers config + ``vdmbench_pruned``) and the safetensors
    state dict; returns ``path``."""
    spec = getattr(vae, "pruned_spec", None)
    if not spec:
        raise ConfigError("save_pruned_vae: this VAE was not made by prune_decoder / "
                          "load_pruned_vae (no pruned_spec)")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {k: v for k, v in dict(vae.config).items() if not k.startswith("_")}
    cfg = {"_class_name": PrunedAutoencoderKLTemporalDecoder.__name__,
           "_diffusers_version": dict(vae.config).get("_diffusers_version", ""), **cfg,
           CONFIG_KEY: spec}
    state = {k: v.detach().contiguous().cpu() for k, v in vae.state_dict().items()}
    tmp = out / f".{WEIGHTS_NAME}.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / WEIGHTS_NAME)
    atomic_write_text(out / "config.json", json.dumps(cfg, indent=2, sort_keys=False) + "\n")
    return out


def load_pruned_vae(path: str | os.PathLike[str], torch_dtype: torch.dtype | None = None,
                    device: str | torch.device = "cpu") -> PrunedAutoencoderKLTemporalDecoder:
    """Rebuild a pruned VAE from ``path`` (its ``vae/`` folder or a folder containing one) and load
    its weights strictly. Errors name the file and every mismatched key."""
    p, cfg = read_component_config(
        path, "vae", "pruned VAE", "the vae/ folder written by save_pruned_vae / vdmbench compress")
    cfg_file = p / "config.json"
    if not isinstance(cfg, dict) or not isinstance(cfg.get(CONFIG_KEY), dict):
        raise spec_error(cfg_file, f"no '{CONFIG_KEY}' section: not a pruned VAE (load a plain "
                          f"one with AutoencoderKLTemporalDecoder.from_pretrained)", "")
    spec = cfg[CONFIG_KEY]
    if spec.get("format") != PRUNED_FORMAT:
        raise spec_error(cfg_file, f"unsupported format {spec.get('format')!r} (this version "
                          f"reads {PRUNED_FORMAT!r})", "format")
    wfile = p / WEIGHTS_NAME
    if not wfile.is_file():
        raise WeightsNotFoundError(f"pruned VAE: {wfile} not found (its config is there); put "
                                   f"the safetensors file written by save_pruned_vae there")
    base_cfg = {k: v for k, v in cfg.items() if k != CONFIG_KEY and not k.startswith("_")}
    try:
        vae = PrunedAutoencoderKLTemporalDecoder.from_config(base_cfg)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"cannot build the base VAE: {e}", file=str(cfg_file)) from None
    identity = spec.get("identity", [])
    unknown = [n for n in identity if n != "decoder.mid_block"]
    if unknown:
        raise spec_error(cfg_file, f"only decoder.mid_block can be an identity, got {unknown}",
                          "identity")
    try:
        ubl = {int(k): int(v) for k, v in spec.get("up_block_layers", {}).items()}
    except (TypeError, ValueError, AttributeError):
        raise spec_error(cfg_file, "must map up block indices to resnet counts",
                          "up_block_layers") from None
    try:
        apply_cuts(vae, "decoder.mid_block" in identity, ubl)
    except ConfigError as e:
        raise ConfigError(str(e), file=str(cfg_file), field=e.field) from None
    apply_widths(vae, spec, cfg_file, "VAE")
    load_state_exactly(vae, wfile)
    vae.pruned_spec = spec
    nn.Module.to(vae, device=device, dtype=torch_dtype)
    return vae.eval()
