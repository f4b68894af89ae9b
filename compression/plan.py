"""Depth plans: which units a student drops, as printable, saveable, replayable data.

A :class:`DepthPlan` is frozen; ``save``/``load`` round-trip through JSON::

    {"schema_version": 1, "preset": "vdmini", "base": "synth-i2v",
     "removed": ["D.0.1", "D.1.1", "D.3.1", "M", "U.0.1", "U.2.1", "U.3.1"],
     "scores": {"D.0.1": {"content": 0.01, "motion": 0.002, "latency_ms": 3.1, "params": 1234}},
     "provenance": {"created_by": "compression.plan.make_plan", ...}}

diffusers' ``UNetSpatioTemporalConditionModel`` ties the resnet count of up block ``U.j`` to the
layer count of down block ``D.(n-1-j)`` (one skip per down output), so a plan that removes ``k``
pairs from ``D.i`` must remove ``k`` pairs from ``U.(n-1-i)``; :func:`check_plan` enforces it and
the presets always remove matched pairs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compression.dit_units import (
    DIT_UNIT_RE,
    dit_preset_removed,
    dit_units,
    kept_blocks,
    ranking,
    resolve_dit,
)
from compression.units import Unit, levels_of, list_units, resolve
from vdmbench.errors import ConfigError
from vdmbench.models.pruned_dit import block_lists, is_transformer
from vdmbench.records import atomic_write_text

PRESETS = ("none", "vdmini", "auto", "uniform", "deep-first")
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DepthPlan:
    """Removed unit names (sorted), their analysis scores, the preset and its provenance."""

    removed: tuple[str, ...]
    preset: str = "custom"
    base: str = ""
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "removed", tuple(sorted(set(self.removed), key=_unit_order)))

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "preset": self.preset, "base": self.base,
                "removed": list(self.removed),
                "scores": {k: dict(v) for k, v in self.scores.items()},
                "provenance": dict(self.provenance)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "plan") -> DepthPlan:
        if not isinstance(d, Mapping):
            raise ConfigError("a plan must be a JSON object", file=source)
        allowed = {"schema_version", "preset", "base", "removed", "scores", "provenance"}
        extra = sorted(set(d) - allowed)
        if extra:
            raise ConfigError(f"unknown key '{extra[0]}' (allowed: {', '.join(sorted(allowed))})",
                              file=source, field=extra[0])
        if d.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ConfigError(f"unsupported schema_version {d.get('schema_version')!r}",
                              file=source, field="schema_version")
        removed = d.get("removed")
        if not isinstance(removed, list) or not all(isinstance(x, str) for x in removed):
            raise ConfigError("'removed' must be a list of unit names", file=source,
                              field="removed")
        return cls(removed=tuple(removed), preset=str(d.get("preset", "custom")),
                   base=str(d.get("base", "")), scores=dict(d.get("scores", {})),
                   provenance=dict(d.get("provenance", {})))

    @classmethod
    def from_json(cls, text: str, source: str = "plan") -> DepthPlan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid JSON: {e.msg}", file=source, line=e.lineno) from None
        return cls.from_dict(data, source)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the plan as JSON atomically; returns the path."""
        return atomic_write_text(Path(path), self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DepthPlan:
        p = Path(path)
        if not p.is_file():
            raise ConfigError("plan file not found", file=str(p))
        return cls.from_json(p.read_text(encoding="utf-8"), str(p))

    def __str__(self) -> str:
        lines = [f"DepthPlan preset={self.preset} base={self.base or '-'} "
                 f"removes {len(self.removed)} unit(s)"]
        for name in self.removed:
            s = self.scores.get(name, {})
            extra = " ".join(f"{k}={v:.4g}" for k, v in sorted(s.items())
                             if isinstance(v, int | float))
            lines.append(f"  - {name}" + (f"  {extra}" if extra else ""))
        return "\n".join(lines)


def _unit_order(name: str) -> tuple:
    if (m := DIT_UNIT_RE.match(name)) is not None:  # a transformer block: by depth
        return (4, int(m.group(1)), 0)
    if name == "M":
        return (1, 0, 0)
    kind, block, pair = name.split(".") if name.count(".") == 2 else (name, "0", "0")
    try:
        return (0 if kind == "D" else 2, int(block), int(pair))
    except ValueError:
        return (3, 0, 0)


def check_plan(config: Mapping[str, Any] | Any, plan: DepthPlan) -> list[Unit]:
    """Validate a plan against a UNet config (or a transformer model: its blocks); returns its
    units. Raises :class:`ConfigError` for unknown units or unmatched down/up removals
    (diffusers ties their counts), or a transformer plan removing every block."""
    if is_transformer(config):
        return resolve_dit(config, plan.removed, where=f"plan '{plan.preset}'")
    units = resolve(config, plan.removed, where=f"plan '{plan.preset}'")
    n = len(levels_of(config))
    down = [0] * n
    up = [0] * n
    for u in units:
        if u.kind == "down":
            down[u.level] += 1
        elif u.kind == "up":
            up[u.level] += 1
    for level in range(n):
        if down[level] != up[level]:
            raise ConfigError(
                f"plan '{plan.preset}': removes {down[level]} pair(s) from D.{level} but "
                f"{up[level]} from U.{n - 1 - level}; a UNetSpatioTemporalConditionModel feeds "
                f"each down-block output to the matching up block, so both must lose the same "
                f"number of pairs")
    return units


# ----------------------------------------------------------------------------- presets


def level_cuts(config: Mapping[str, Any] | Any) -> list[tuple[str, ...]]:
    """Removable groups: matched (``D.i.k``, ``U.(n-1-i).k``) pairs, and ``("M",)``."""
    units = list_units(config)
    n = len(levels_of(config))
    by_name = {u.name: u for u in units}
    cuts: list[tuple[str, ...]] = []
    for u in units:
        if u.kind == "down":
            partner = f"U.{n - 1 - u.level}.{u.pair}"
            if partner in by_name:
                cuts.append((u.name, partner))
        elif u.kind == "mid":
            cuts.append(("M",))
    return cuts


def _cut_level(cut: tuple[str, ...], n: int) -> int:
    return n if cut == ("M",) else int(cut[0].split(".")[1])


def vdmini_removed(config: Mapping[str, Any] | Any) -> list[str]:
    """The paper's rule: in every down and up block drop the second pair (``.1``), except in
    ``D.2`` and ``U.1`` (level 2, the motion-critical level for SVD), and drop the mid block."""
    n = len(levels_of(config))
    keep_level = 2 if n > 2 else -1
    out = []
    for cut in level_cuts(config):
        if cut == ("M",):
            out.append("M")
            continue
        level = _cut_level(cut, n)
        pair = int(cut[0].split(".")[2])
        if pair == 1 and level != keep_level:
            out.extend(cut)
    return out


def _scores_for(cut: tuple[str, ...], scores: Mapping[str, Mapping[str, float]]) -> dict:
    tot: dict[str, float] = {}
    for name in cut:
        for k, v in scores.get(name, {}).items():
            if isinstance(v, int | float):
                tot[k] = tot.get(k, 0.0) + float(v)
    return tot


def make_plan(preset: str, config: Mapping[str, Any] | Any, *, base: str = "",
              scores: Mapping[str, Mapping[str, float]] | None = None,
              unit_params: Mapping[str, int] | None = None,
              total_params: int | None = None,
              target_speedup: float | None = None,
              param_budget: float | None = None,
              match_removed: Sequence[str] | None = None) -> DepthPlan:
    """Build a plan by preset.

    - ``none``: removes nothing (the student equals the teacher).
    - ``vdmini``: :func:`vdmini_removed`.
    - ``auto``: from analysis ``scores`` (needs ``motion``, ``content``, ``latency_ms``,
      ``params`` per unit): cuts ordered by motion damage, then depth (shallow first); cuts are
      added while the estimated speed-up stays below ``target_speedup`` (latency shares) or the
      parameter fraction kept stays above ``param_budget`` (0–1).
    - ``uniform``: the same number of pairs from every level (``k = 1, 2, …``) until the removed
      parameters reach those of ``match_removed`` (default: the ``vdmini`` plan's units).
    - ``deep-first``: cuts from the deepest level (mid block first) upwards until the removed
      parameters reach those of ``match_removed`` (default: ``vdmini``).

    ``unit_params`` (unit name → parameter count) is needed by ``uniform``/``deep-first``.

    ``config`` may be a video transformer *model* (not its config: its block lists are read
    from the module): the presets are then those of
    :func:`compression.dit_units.dit_preset_removed` (``auto`` over the analysis ranking), and
    the plan's provenance records the kept blocks (:func:`with_kept_blocks`).
    """
    scores = dict(scores or {})
    if is_transformer(config):
        return _make_dit_plan(preset, config, base=base, scores=scores,
                              total_params=total_params, target_speedup=target_speedup,
                              param_budget=param_budget, match_removed=match_removed)
    n = len(levels_of(config))
    prov: dict[str, Any] = {"created_by": "compression.plan.make_plan", "preset": preset}
    if preset == "none":
        removed: list[str] = []
    elif preset == "vdmini":
        removed = vdmini_removed(config)
        prov["rule"] = "drop pair 1 of every down/up block except D.2 and U.1; drop the mid block"
    elif preset == "auto":
        removed = _auto(config, scores, target_speedup, param_budget, total_params, prov)
    elif preset in ("uniform", "deep-first"):
        if unit_params is None:
            raise ConfigError(f"preset '{preset}' needs per-unit parameter counts")
        target_names = list(match_removed) if match_removed is not None else vdmini_removed(config)
        target = sum(unit_params.get(x, 0) for x in target_names)
        prov["match_removed_params"] = target
        cuts = level_cuts(config)
        removed = []
        got = 0
        if preset == "deep-first":
            order = sorted(cuts, key=lambda c: (-_cut_level(c, n), c))
            for cut in order:
                if got >= target:
                    break
                removed.extend(cut)
                got += sum(unit_params.get(x, 0) for x in cut)
        else:
            by_round: dict[int, list[tuple[str, ...]]] = {}
            for cut in cuts:
                if cut == ("M",):
                    continue
                by_round.setdefault(int(cut[0].split(".")[2]), []).append(cut)
            for r in sorted(by_round):
                if got >= target:
                    break
                for cut in by_round[r]:
                    removed.extend(cut)
                    got += sum(unit_params.get(x, 0) for x in cut)
        prov["removed_params"] = got
    else:
        raise ConfigError(f"unknown plan preset '{preset}' (known: {', '.join(PRESETS)}; or a "
                          f"path to a plan JSON file)")
    kept_scores = {name: dict(scores[name]) for name in removed if name in scores}
    plan = DepthPlan(removed=tuple(removed), preset=preset, base=base, scores=kept_scores,
                     provenance=prov)
    check_plan(config, plan)
    return plan


def _make_dit_plan(preset: str, model: Any, *, base: str,
                   scores: Mapping[str, Mapping[str, float]], total_params: int | None,
                   target_speedup: float | None, param_budget: float | None,
                   match_removed: Sequence[str] | None) -> DepthPlan:
    prov: dict[str, Any] = {"created_by": "compression.plan.make_plan", "preset": preset}
    budget = target_speedup is not None or param_budget is not None
    if preset == "auto" or (preset == "vdmini" and budget):
        removed = _auto(model, scores, target_speedup, param_budget, total_params, prov)
    else:
        removed = dit_preset_removed(preset, model, scores=scores, match_removed=match_removed,
                                     prov=prov)
    kept_scores = {name: dict(scores[name]) for name in removed if name in scores}
    plan = DepthPlan(removed=tuple(removed), preset=preset, base=base, scores=kept_scores,
                     provenance=prov)
    check_plan(model, plan)
    return with_kept_blocks(plan, model)


def with_kept_blocks(plan: DepthPlan, model: Any) -> DepthPlan:
    """``plan`` with ``provenance.kept_blocks`` (block list → original indices kept) and
    ``provenance.teacher_blocks`` (block list → its length) of the transformer ``model``."""
    prov = {**dict(plan.provenance), "kept_blocks": kept_blocks(model, plan.removed),
            "teacher_blocks": {attr: n for attr, _key, n in block_lists(model)}}
    return DepthPlan(removed=plan.removed, preset=plan.preset, base=plan.base,
                     scores=plan.scores, provenance=prov)


def _auto(config: Any, scores: Mapping[str, Mapping[str, float]], target_speedup: float | None,
          param_budget: float | None, total_params: int | None, prov: dict) -> list[str]:
    if not scores:
        raise ConfigError("preset 'auto' needs an analysis (run `vdmbench analyze` first and "
                          "pass its analysis.json)")
    if is_transformer(config):
        units = dit_units(config)
        order = [(name,) for name in ranking(units, scores)][: len(units) - 1]
    else:
        n = len(levels_of(config))
        cuts = level_cuts(config)
        missing = [x for c in cuts for x in c if x not in scores]
        if missing:
            raise ConfigError(f"preset 'auto': the analysis has no scores for "
                              f"{', '.join(missing)}")
        order = sorted(cuts, key=lambda c: (_scores_for(c, scores).get("motion", 0.0),
                                            _cut_level(c, n),
                                            _scores_for(c, scores).get("content", 0.0)))
    return _budgeted(order, scores, target_speedup, param_budget, total_params, prov)


def _budgeted(order: Sequence[tuple[str, ...]], scores: Mapping[str, Mapping[str, float]],
              target_speedup: float | None, param_budget: float | None,
              total_params: int | None, prov: dict) -> list[str]:
    """Cuts of ``order`` added until ``target_speedup`` (from the analysis' latency shares) or
    until the kept parameter fraction is ≤ ``param_budget`` (exactly one of them)."""
    if (target_speedup is None) == (param_budget is None):
        raise ConfigError("preset 'auto' needs exactly one of target_speedup or param_budget")
    prov["order"] = ["+".join(c) for c in order]
    full_ms = float(next(iter(scores.values())).get("full_latency_ms", 0.0))
    removed: list[str] = []
    if target_speedup is not None:
        if target_speedup < 1.0:
            raise ConfigError(f"target_speedup must be >= 1, got {target_speedup}")
        if full_ms <= 0:
            raise ConfigError("preset 'auto': the analysis has no full_latency_ms")
        saved = 0.0
        prov["target_speedup"] = target_speedup
        for cut in order:
            if full_ms / max(full_ms - saved, 1e-9) >= target_speedup:
                break
            removed.extend(cut)
            saved += _scores_for(cut, scores).get("latency_ms", 0.0)
        prov["estimated_speedup"] = full_ms / max(full_ms - saved, 1e-9)
    else:
        if not 0.0 < float(param_budget) <= 1.0:  # type: ignore[arg-type]
            raise ConfigError(f"param_budget must be in (0, 1], got {param_budget}")
        if not total_params:
            raise ConfigError("preset 'auto' with param_budget needs the model's parameter count")
        prov["param_budget"] = param_budget
        kept = float(total_params)
        for cut in order:
            if kept / total_params <= float(param_budget):  # type: ignore[arg-type]
                break
            removed.extend(cut)
            kept -= _scores_for(cut, scores).get("params", 0.0)
        prov["estimated_param_fraction"] = kept / total_params
    return removed
