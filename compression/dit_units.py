"""Prunable units of a video diffusion transformer (DiT): one unit per transformer block.

A diffusers video transformer runs the blocks of its top-level block lists in order
(:data:`vdmbench.models.pruned_dit.BLOCK_LISTS`: Wan's ``blocks``; CogVideoX's, LTX-Video's,
Mochi's ``transformer_blocks``; HunyuanVideo's ``transformer_blocks`` then
``single_transformer_blocks``). Every block maps its tokens ``(B, L, D)`` to tokens of the same
shape, so every block is a unit that can be removed alone: the forward simply skips it (the block
list is shorter; the residual stream passes through unchanged).

Names: ``B.<g>`` with ``g`` the block's position over all lists in forward order (for HunyuanVideo
with 20 dual-stream blocks, ``B.20`` is ``single_transformer_blocks.0``); the unit's ``level``
(its depth) is ``g``. :func:`units_of` and :func:`removed_from` pick the UNet units
(:mod:`compression.units`) or these by the model, so the analysis treats both alike.

Plans (:func:`dit_preset_removed`, used by :func:`compression.plan.make_plan`):

- ``vdmini``: blocks ranked by the analysis (motion damage ascending, then content damage, then
  depth), the first ``k`` removed; ``k = round(0.2·N)`` by default (≈1.25× fewer block FLOPs:
  the speed-up the paper's v3 reports for HunyuanVideo; which blocks it removed is not published).
  The paper's UNet rule is an analysis result (deep blocks carry motion); a transformer has no
  resolution hierarchy to read it from, so the DiT rule *is* the analysis ranking and needs one.
- ``auto``: the same ranking, added until ``target_speedup`` or ``param_budget``.
- ``uniform``: ``k`` blocks evenly spaced over the depth; ``deep-first``: the last ``k`` blocks
  (controls; ``k`` = the number of blocks the ``vdmini`` plan removes).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from torch import nn

from compression.units import Unit, list_units, removed
from vdmbench.errors import ConfigError
from vdmbench.models.pruned_dit import block_lists, is_transformer

DIT_UNIT_RE = re.compile(r"^B\.(\d+)$")
#: share of blocks the DiT ``vdmini`` preset removes by default (≈1.25× block FLOPs)
VDMINI_FRACTION = 0.2


def dit_units(model: nn.Module) -> list[Unit]:
    """One unit per block, in forward order: ``B.g`` (kind ``block``, ``block`` = ``level`` =
    ``g``, ``pair`` = the index inside its list, ``modules`` = ``("<list>.<i>",)``)."""
    units = []
    g = 0
    for attr, _key, n in block_lists(model):
        for i in range(n):
            units.append(Unit(f"B.{g}", "block", g, i, g, (f"{attr}.{i}",)))
            g += 1
    return units


def resolve_dit(model: nn.Module, names: Iterable[str], where: str = "plan") -> list[Unit]:
    """Look up block unit names; an unknown one is a :class:`ConfigError`; removing every
    block is refused."""
    units = {u.name: u for u in dit_units(model)}
    out = []
    for name in names:
        if name not in units:
            raise ConfigError(f"{where}: unknown unit '{name}' for this transformer (its units "
                              f"are B.0 … B.{len(units) - 1}: one per block)")
        out.append(units[name])
    if len({u.name for u in out}) >= len(units):
        raise ConfigError(f"{where}: removes all {len(units)} blocks; keep at least one")
    return out


def kept_blocks(model: nn.Module, removed_names: Iterable[str]) -> dict[str, list[int]]:
    """Per block list, the original indices of the blocks a plan keeps (in order)."""
    gone = {(u.modules[0].rsplit(".", 1)[0], u.pair) for u in resolve_dit(model, removed_names)}
    return {attr: [i for i in range(n) if (attr, i) not in gone]
            for attr, _key, n in block_lists(model)}


@contextlib.contextmanager
def blocks_removed(model: nn.Module, units: Iterable[Unit]) -> Iterator[nn.Module]:
    """Temporarily drop ``units`` (blocks) from ``model``'s block lists, so its forward skips
    them; the original lists are put back on exit. (The config is not touched: the forward does
    not read it.)"""
    gone: dict[str, set[int]] = {}
    for u in units:
        attr = u.modules[0].rsplit(".", 1)[0]
        gone.setdefault(attr, set()).add(u.pair)
    saved: list[tuple[str, nn.ModuleList]] = []
    try:
        for attr, idx in gone.items():
            old = getattr(model, attr)
            saved.append((attr, old))
            setattr(model, attr, nn.ModuleList(b for i, b in enumerate(old) if i not in idx))
        yield model
    finally:
        for attr, old in reversed(saved):
            setattr(model, attr, old)


def units_of(model: nn.Module) -> list[Unit]:
    """The prunable units of a UNet (:func:`compression.units.list_units`) or a transformer
    (:func:`dit_units`)."""
    return dit_units(model) if is_transformer(model) else list_units(model.config)


def removed_from(model: nn.Module, units: Sequence[Unit]) -> contextlib.AbstractContextManager:
    """``units`` of ``model`` removed inside the block (UNet: identities; DiT: skipped)."""
    return blocks_removed(model, units) if is_transformer(model) else removed(model, units)


# ----------------------------------------------------------------------------- presets


def default_count(n: int) -> int:
    """Blocks the DiT ``vdmini`` preset removes from ``n``: round(0.2·n), at least 1, at most
    ``n - 1``."""
    return min(max(1, round(VDMINI_FRACTION * n)), n - 1)


def ranking(units: Sequence[Unit], scores: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Block names by analysis damage: motion ascending, then content, then depth."""
    missing = [u.name for u in units if u.name not in scores]
    if missing:
        raise ConfigError(f"the analysis has no scores for {', '.join(missing[:8])} (was it "
                          f"made for this transformer?)")
    return [u.name for u in sorted(units, key=lambda u: (float(scores[u.name].get("motion", 0)),
                                                         float(scores[u.name].get("content", 0)),
                                                         u.level))]


def uniform_removed(n: int, k: int) -> list[int]:
    """``k`` block positions evenly spaced over ``n``: ``floor((j + ½)·n / k)``."""
    return [int((j + 0.5) * n / k) for j in range(k)]


def dit_preset_removed(preset: str, model: nn.Module, *,
                       scores: Mapping[str, Mapping[str, float]],
                       match_removed: Sequence[str] | None, prov: dict[str, Any]) -> list[str]:
    """Removed block names of ``preset`` (``none``, ``vdmini``, ``uniform``, ``deep-first``;
    ``auto`` is :func:`compression.plan.make_plan`'s, over :func:`ranking`); records the rule in
    ``prov``. ``match_removed``: the plan whose block count the controls match (default: the
    ``vdmini`` count, :func:`default_count`)."""
    units = dit_units(model)
    n = len(units)
    k = len(match_removed) if match_removed is not None else default_count(n)
    if preset == "none" or (k == 0 and preset in ("uniform", "deep-first")):
        return []
    if preset == "vdmini":
        if not scores:
            raise ConfigError("plan preset 'vdmini' on a transformer removes the blocks the "
                              "analysis ranks least harmful to motion: run `vdmbench analyze` "
                              "first and pass its analysis.json (--analysis FILE, or "
                              "plan.analysis in the recipe)")
        order = ranking(units, scores)
        prov["rule"] = (f"remove the {k} of {n} blocks whose removal hurts motion least "
                        f"(analysis ranking: motion, then content, then depth)")
        prov["order"] = order
        return order[:k]
    if preset == "uniform":
        prov["rule"] = f"{k} of {n} blocks evenly spaced over the depth"
        return [f"B.{g}" for g in uniform_removed(n, k)]
    if preset == "deep-first":
        prov["rule"] = f"the last {k} of {n} blocks"
        return [f"B.{g}" for g in range(n - k, n)]
    raise ConfigError(f"unknown plan preset '{preset}' for a transformer (known: none, vdmini, "
                      f"auto, uniform, deep-first; or a plan JSON file)")
