"""Prunable units of a ``UNetSpatioTemporalConditionModel`` or ``VideoCrafter2UNet`` and how to
remove them.

Both UNets name their blocks the same way (``down_blocks.i.{resnets,attentions}.k``, ``mid_block``,
``up_blocks.j.…``), accept a per-level ``layers_per_block`` and read attention from block types
starting with ``CrossAttn``, so everything here works from the config alone.

A *unit* is one (ResBlock, attention) pair of a down or up block (just the ResBlock in blocks
without attention: ``DownBlockSpatioTemporal`` / ``UpBlockSpatioTemporal``), or the mid block.

Names:

- ``D.i.k``: pair ``k`` of down block ``i`` (``down_blocks.i.resnets.k`` +
  ``down_blocks.i.attentions.k``);
  ``D.0`` is the highest-resolution down block.
- ``U.j.k``: pair ``k`` of up block ``j`` (``up_blocks.j.resnets.k`` …); ``U.0`` is the
  lowest-resolution up block, ``U.{n-1}`` the highest-resolution one.
- ``M``: the mid block (``mid_block``).

Only pairs whose input and output have the same shape are units, so that each can be removed on
its own (replaced by an identity) without breaking the network: in a down block pairs ``1 … L-1``
(pair 0 changes the channel count), in an up block of ``n`` resnets pairs ``1 … n-2`` (pair 0
receives the previous level's channels, pair ``n-1`` the next level's skip). For SVD
(``layers_per_block=2``: 2 pairs per down block, 3 per up block) this is the paper's "second pair"
of every block: 4 down units, 4 up units and the mid block.

The *level* of a unit is its resolution level (0 = full resolution, ``n-1`` = coarsest); down
block ``i`` is at level ``i``, up block ``j`` at level ``n-1-j``; the mid block is at depth ``n``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vdmbench.errors import ConfigError
from vdmbench.models.unets import IdentityMidBlock

UNIT_RE = re.compile(r"^(?:([DU])\.(\d+)\.(\d+)|M)$")


@dataclass(frozen=True)
class Unit:
    """One prunable unit: ``name`` (``D.i.k``/``U.j.k``/``M``), ``kind`` (down/up/mid),
    ``block`` index, ``pair`` index, resolution ``level`` (mid = number of levels) and the
    qualified module names it covers."""

    name: str
    kind: str
    block: int
    pair: int
    level: int
    modules: tuple[str, ...]

    @property
    def depth(self) -> int:
        """Resolution depth used for plots and orderings (0 = shallow / full resolution)."""
        return self.level


def _cfg(config: Mapping[str, Any] | Any) -> dict[str, Any]:
    if hasattr(config, "config"):
        config = config.config
    return dict(config)


def levels_of(config: Mapping[str, Any] | Any) -> list[int]:
    """Per-level ``layers_per_block`` of a UNet config, as a list of ints."""
    cfg = _cfg(config)
    n = len(cfg["block_out_channels"])
    lpb = cfg["layers_per_block"]
    return [int(lpb)] * n if isinstance(lpb, int) else [int(x) for x in lpb]


def has_attention(block_type: str) -> bool:
    return block_type.startswith("CrossAttn")


def has_mid_block(config: Mapping[str, Any] | Any) -> bool:
    return _cfg(config).get("mid_block_type", "UNetMidBlockSpatioTemporal") is not None


def list_units(config: Mapping[str, Any] | Any) -> list[Unit]:
    """All prunable units of a UNet (or its config), down blocks first, then mid, then up."""
    cfg = _cfg(config)
    lpb = levels_of(cfg)
    n = len(lpb)
    units: list[Unit] = []
    for i, btype in enumerate(cfg["down_block_types"]):
        for k in range(1, lpb[i]):
            mods = [f"down_blocks.{i}.resnets.{k}"]
            if has_attention(btype):
                mods.append(f"down_blocks.{i}.attentions.{k}")
            units.append(Unit(f"D.{i}.{k}", "down", i, k, i, tuple(mods)))
    if has_mid_block(cfg):
        units.append(Unit("M", "mid", -1, 0, n, ("mid_block",)))
    for j, btype in enumerate(cfg["up_block_types"]):
        level = n - 1 - j
        n_res = lpb[level] + 1
        for k in range(1, n_res - 1):
            mods = [f"up_blocks.{j}.resnets.{k}"]
            if has_attention(btype):
                mods.append(f"up_blocks.{j}.attentions.{k}")
            units.append(Unit(f"U.{j}.{k}", "up", j, k, level, tuple(mods)))
    return units


def unit_map(config: Mapping[str, Any] | Any) -> dict[str, Unit]:
    return {u.name: u for u in list_units(config)}


def resolve(config: Mapping[str, Any] | Any, names: Iterable[str], where: str = "plan"
            ) -> list[Unit]:
    """Look up unit names; an unknown name is a :class:`ConfigError` listing the known ones."""
    units = unit_map(config)
    out = []
    for name in names:
        if name not in units:
            known = ", ".join(units) or "(none)"
            raise ConfigError(f"{where}: unknown unit '{name}' for this model (known units: "
                              f"{known}; names are D.<block>.<pair>, U.<block>.<pair> or M)")
        out.append(units[name])
    return out


def unit_params(model: nn.Module, unit: Unit) -> int:
    """Number of parameters in the unit's modules."""
    total = 0
    for name in unit.modules:
        total += sum(p.numel() for p in model.get_submodule(name).parameters())
    return total


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------- identity stand-ins


class SkipResnet(nn.Module):
    """Stands in for a removed ResBlock: returns the first ``channels`` channels of its input
    ``(N, C, H, W)`` (an up block concatenates the skip after them, which is dropped).

    Called as SVD's ``(h, temb, image_only_indicator)`` or VC2's ``(h, temb, num_frames)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, hidden_states: torch.Tensor, temb: Any = None,
                image_only_indicator: Any = None) -> torch.Tensor:
        return hidden_states[:, : self.channels]


class SkipAttention(nn.Module):
    """Stands in for a removed ``TransformerSpatioTemporalModel`` (SVD, keyword call) or
    ``VC2SpatioTemporalTransformer`` (positional ``(h, context, num_frames)``): identity,
    returned as the 1-tuple both callers index with ``[0]``."""

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: Any = None,
                image_only_indicator: Any = None, return_dict: bool = True
                ) -> tuple[torch.Tensor]:
        return (hidden_states,)


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> nn.Module:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = parent._modules[child]  # noqa: SLF001 (works for ModuleList and attributes alike)
    parent._modules[child] = module  # noqa: SLF001
    return old


def _stand_in(model: nn.Module, unit: Unit, module_name: str) -> nn.Module:
    if unit.kind == "mid":
        return IdentityMidBlock()
    if ".attentions." in module_name:
        return SkipAttention()
    resnet = model.get_submodule(module_name)
    # SVD's SpatioTemporalResBlock keeps the width on its spatial half; VC2's ResBlock on itself
    inner = getattr(resnet, "spatial_res_block", resnet)
    channels = getattr(inner, "out_channels", None)
    if not isinstance(channels, int):
        raise ConfigError(f"cannot remove '{unit.name}': {module_name} "
                          f"({type(resnet).__name__}) has no integer out_channels")
    return SkipResnet(channels)


@contextlib.contextmanager
def removed(model: nn.Module, units: Iterable[Unit]) -> Iterator[nn.Module]:
    """Temporarily replace ``units`` of ``model`` by identities (for sensitivity analysis).

    A removed down pair still emits its skip (its input), so every other block sees the shapes
    it expects; the original modules are put back on exit.
    """
    saved: list[tuple[str, nn.Module]] = []
    try:
        for unit in units:
            for name in unit.modules:
                saved.append((name, _set_submodule(model, name, _stand_in(model, unit, name))))
        yield model
    finally:
        for name, module in reversed(saved):
            _set_submodule(model, name, module)
