"""Channel-pruned UNets and their save format (what a channel-pruned student's ``unet/`` holds).

A channel-pruned UNet (made by :mod:`compression.channel_prune`) is an instance of its base class
(diffusers' ``UNetSpatioTemporalConditionModel`` or
:class:`~vdmbench.models.videocrafter2_unet.VideoCrafter2UNet`) whose convolutions, linear layers
and norms are narrower than its config says. A config cannot express that, so the folder is::

    unet/config.json    the base class's diffusers config, with _class_name "ChannelPrunedUNet"
                        and a "vdmbench_pruned" section (see below)
    unet/diffusion_pytorch_model.safetensors   the pruned state dict

``vdmbench_pruned``: ``format`` ("vdmbench-pruned-unet-1"), ``base_class`` (a ``config.json``
``_class_name`` :func:`vdmbench.models.unets.unet_class` knows), ``modules`` ({name: {"type",
widths}} for every Conv/Linear/GroupNorm/LayerNorm whose width changed), ``attributes`` ({name:
{attr: int}} for diffusers blocks that store their widths, e.g. ``Downsample2D.channels``),
``ratio`` and parameter counts. :func:`load_pruned_unet` builds the base architecture from the
config, swaps in freshly built modules of the recorded widths, sets the attributes and loads the
weights strictly (every missing, unexpected or mis-shaped key is named). Nothing is unpickled and
no code is stored; loading needs nothing from ``compression/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.models.pruned_modules import CONFIG_KEY, apply_widths, spec_error, sync_attrs
from vdmbench.models.unets import load_state_exactly, read_component_config, unet_class
from vdmbench.records import atomic_write_text

PRUNED_FORMAT = "vdmbench-pruned-unet-1"
CLASS_NAME = "ChannelPrunedUNet"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"

#: diffusers blocks that store their widths as attributes: attribute → (child module, its width)
WIDTH_ATTRS: dict[str, dict[str, tuple[str, str]]] = {
    "Upsample2D": {"channels": ("conv", "in_channels"), "out_channels": ("conv", "out_channels")},
    "Downsample2D": {"channels": ("conv", "in_channels"),
                     "out_channels": ("conv", "out_channels")},
    "ResnetBlock2D": {"in_channels": ("conv1", "in_channels"),
                      "out_channels": ("conv2", "out_channels")},
    "TemporalResnetBlock": {"in_channels": ("conv1", "in_channels"),
                            "out_channels": ("conv2", "out_channels")},
}


def module_widths(m: nn.Module) -> dict[str, Any] | None:
    """The constructor widths of a prunable leaf module (None for other modules)."""
    if isinstance(m, nn.modules.conv._ConvNd):  # noqa: SLF001
        return {"in_channels": m.in_channels, "out_channels": m.out_channels}
    if isinstance(m, nn.GroupNorm):
        return {"num_groups": m.num_groups, "num_channels": m.num_channels}
    if isinstance(m, nn.LayerNorm):
        return {"normalized_shape": list(m.normalized_shape)}
    if isinstance(m, nn.Linear):
        return {"in_features": m.in_features, "out_features": m.out_features}
    return None


def sync_width_attrs(unet: nn.Module) -> None:
    """Make the width attributes of diffusers blocks agree with their (pruned) layers."""
    sync_attrs(unet, WIDTH_ATTRS)


def all_widths(unet: nn.Module) -> dict[str, dict[str, Any]]:
    """``{module name: widths}`` of every prunable leaf module (before pruning, to compare)."""
    return {n: w for n, m in unet.named_modules() if (w := module_widths(m)) is not None}


def unet_params(unet: nn.Module) -> int:
    return int(sum(p.numel() for p in unet.parameters()))


def pruned_spec(unet: nn.Module, original: Mapping[str, Mapping[str, Any]], *, ratio: float,
                params_before: int) -> dict[str, Any]:
    """The ``vdmbench_pruned`` section of a pruned ``unet`` whose widths before pruning were
    ``original`` (:func:`all_widths`)."""
    modules: dict[str, dict[str, Any]] = {}
    for name, m in unet.named_modules():
        w = module_widths(m)
        if w is not None and name in original and w != dict(original[name]):
            modules[name] = {"type": type(m).__name__, **w}
    attributes: dict[str, dict[str, int]] = {}
    for name, m in unet.named_modules():
        spec = WIDTH_ATTRS.get(type(m).__name__, {})
        changed = {a: int(getattr(m, a)) for a, (child, _) in spec.items()
                   if hasattr(m, a) and f"{name}.{child}" in modules}
        if changed:
            attributes[name] = changed
    return {"format": PRUNED_FORMAT, "base_class": type(unet).__name__, "ratio": ratio,
            "modules": modules, "attributes": attributes, "params_before": params_before,
            "params_after": unet_params(unet)}


def save_pruned_unet(unet: nn.Module, spec: Mapping[str, Any], path: str | os.PathLike[str]
                     ) -> Path:
    """Write ``path/config.json`` (the base config + ``vdmbench_pruned`` = ``spec``) and the
    safetensors state dict; returns ``path``."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    base_cfg = dict(unet.config)  # type: ignore[attr-defined]
    cfg = {"_class_name": CLASS_NAME,
           "_diffusers_version": base_cfg.get("_diffusers_version", ""),
           **{k: v for k, v in base_cfg.items() if not k.startswith("_")},
           CONFIG_KEY: dict(spec)}
    state = {k: v.detach().contiguous().cpu() for k, v in unet.state_dict().items()}
    tmp = out / f".{WEIGHTS_NAME}.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / WEIGHTS_NAME)
    atomic_write_text(out / "config.json", json.dumps(cfg, indent=2) + "\n")
    return out


def load_pruned_unet(path: str | os.PathLike[str], torch_dtype: torch.dtype | None = None
                     ) -> nn.Module:
    """Rebuild a channel-pruned UNet from ``path`` (its ``unet/`` folder or a folder holding
    one) and load its weights strictly; an instance of the base class, in eval mode."""
    p, cfg = read_component_config(path, "unet", "pruned UNet",
                                   "the unet/ folder of a channel-pruned student")
    cfg_file = p / "config.json"
    if not isinstance(cfg, dict) or not isinstance(cfg.get(CONFIG_KEY), dict):
        raise spec_error(cfg_file, f"no '{CONFIG_KEY}' section: not a channel-pruned UNet", "")
    spec = cfg[CONFIG_KEY]
    if spec.get("format") != PRUNED_FORMAT:
        raise spec_error(cfg_file, f"unsupported format {spec.get('format')!r} (this version "
                          f"reads {PRUNED_FORMAT!r})", "format")
    cls = unet_class(str(spec.get("base_class")))
    if cls is None or cls.__name__ == CLASS_NAME:
        raise spec_error(cfg_file, f"unknown base class {spec.get('base_class')!r}",
                          "base_class")
    wfile = p / WEIGHTS_NAME
    if not wfile.is_file():
        raise WeightsNotFoundError(f"pruned UNet: {wfile} not found (its config is there)")
    base_cfg = {k: v for k, v in cfg.items() if k != CONFIG_KEY and not k.startswith("_")}
    try:
        unet = cls.from_config(base_cfg)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"cannot build the base UNet: {e}", file=str(cfg_file)) from None
    apply_widths(unet, spec, cfg_file, "UNet")
    load_state_exactly(unet, wfile)
    unet.pruned_spec = spec
    if torch_dtype is not None:
        unet.to(torch_dtype)
    return unet.eval()


class ChannelPrunedUNet:
    """What ``config.json``'s ``_class_name`` "ChannelPrunedUNet" and ``compression.json``'s
    ``classes.unet`` name: :meth:`from_pretrained` is :func:`load_pruned_unet` (it returns an
    instance of the recorded base class)."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str],
                        *args: Any, **kwargs: Any) -> nn.Module:
        """Accepts ``torch_dtype``; a weight ``variant`` is refused (there is one file)."""
        if kwargs.get("variant"):
            raise WeightsNotFoundError(f"pruned UNet at {pretrained_model_name_or_path}: weight "
                                       f"variants are not supported (variant="
                                       f"{kwargs['variant']!r}); it has only {WEIGHTS_NAME}")
        return load_pruned_unet(pretrained_model_name_or_path,
                                torch_dtype=kwargs.get("torch_dtype"))
