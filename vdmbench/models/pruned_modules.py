"""What the pruned-model formats (:mod:`vdmbench.models.pruned_unet`,
:mod:`vdmbench.models.pruned_vae`) share: rebuilding leaf modules at recorded widths, swapping
them into a model, setting diffusers blocks' width attributes, all with errors that name the
config file and the field of the ``vdmbench_pruned`` section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from vdmbench.errors import ConfigError

CONFIG_KEY = "vdmbench_pruned"


def spec_error(cfg_file: Path, msg: str, key: str) -> ConfigError:
    """A ConfigError naming ``cfg_file`` and the field ``vdmbench_pruned.<key>``."""
    return ConfigError(msg, file=str(cfg_file), field=f"{CONFIG_KEY}.{key}" if key else CONFIG_KEY)


def rebuilt(m: nn.Module, w: Mapping[str, Any], name: str, what: str) -> nn.Module:
    """A freshly initialised module like ``m`` with the widths ``w`` (a GroupNorm keeps its
    group count unless ``w`` gives ``num_groups``); ``what`` names the model in errors."""
    if isinstance(m, nn.modules.conv._ConvNd) and not m.transposed:  # noqa: SLF001
        return type(m)(int(w["in_channels"]), int(w["out_channels"]), m.kernel_size,
                       stride=m.stride, padding=m.padding, dilation=m.dilation, groups=m.groups,
                       bias=m.bias is not None, padding_mode=m.padding_mode)
    if isinstance(m, nn.GroupNorm):
        return nn.GroupNorm(int(w.get("num_groups", m.num_groups)), int(w["num_channels"]),
                            eps=m.eps, affine=m.affine)
    if isinstance(m, nn.LayerNorm):
        return nn.LayerNorm([int(v) for v in w["normalized_shape"]], eps=m.eps,
                            elementwise_affine=m.elementwise_affine,
                            bias=m.bias is not None)
    if isinstance(m, nn.Linear):
        return nn.Linear(int(w["in_features"]), int(w["out_features"]), bias=m.bias is not None)
    raise ConfigError(f"pruned {what}: cannot rebuild module '{name}' of type "
                      f"{type(m).__name__}", field=f"{CONFIG_KEY}.modules.{name}")


def set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    """Put ``module`` at the dotted path ``name`` of ``root``."""
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    parent._modules[child] = module  # noqa: SLF001 (ModuleList and attributes alike)


def apply_widths(root: nn.Module, spec: Mapping[str, Any], cfg_file: Path, what: str) -> None:
    """Swap in modules of the widths in ``spec["modules"]`` and set the integer attributes in
    ``spec["attributes"]`` (in place)."""
    for name, w in spec.get("modules", {}).items():
        try:
            old = root.get_submodule(name)
        except AttributeError:
            raise spec_error(cfg_file, f"module '{name}' does not exist in the architecture",
                             f"modules.{name}") from None
        if type(old).__name__ != w.get("type"):
            raise spec_error(cfg_file, f"module '{name}' is a {type(old).__name__}, the file "
                             f"says {w.get('type')}", f"modules.{name}")
        set_submodule(root, name, rebuilt(old, w, name, what))
    for name, attrs in spec.get("attributes", {}).items():
        m = root.get_submodule(name)
        for a, v in attrs.items():
            if not hasattr(m, a):
                raise spec_error(cfg_file, f"'{name}' has no attribute '{a}'",
                                 f"attributes.{name}")
            setattr(m, a, int(v))


def sync_attrs(root: nn.Module, table: Mapping[str, Mapping[str, tuple[str, str]]]) -> None:
    """Make the width attributes of diffusers blocks (``table``: block class name → attribute →
    (child module, its width)) agree with their (pruned) layers."""
    for m in root.modules():
        for attr, (child, width) in table.get(type(m).__name__, {}).items():
            sub = getattr(m, child, None)
            if sub is not None and hasattr(m, attr):
                setattr(m, attr, int(getattr(sub, width)))
