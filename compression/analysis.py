"""Block sensitivity analysis (the paper's Fig. 1, for the UNets and for video transformers).

For every unit (UNet pairs and mid block, :mod:`compression.units`; a transformer's blocks,
:mod:`compression.dit_units`) the unit is removed (a UNet unit replaced by an identity, a
transformer block skipped) and the model samples the calibration set from the same seeds as the
unpruned model. Against the unpruned samples we measure:

- ``content``: per-frame content distance — mean over frames of the L2 distance between per-frame
  content-net embeddings when a content extractor is given, else the per-frame RMSE of the
  outputs divided by the teacher outputs' standard deviation;
- ``motion``: clip-level motion distance — L2 between motion-net clip embeddings when a motion
  extractor is given, else a temporal-difference statistic: the relative L1 change of the
  per-frame-pair motion profile ``m_f = mean|x_{f+1} − x_f|`` (f = 0 … F-2);
- ``latency_ms``: one denoiser step with the unit minus one without it (median timings, same run);
- ``params`` and ``param_share``: the unit's parameters and their share of the denoiser.

Outputs: ``analysis.json`` (rows + model info), ``analysis.csv``, ``analysis.md`` and
``analysis.png`` (content vs motion damage by depth).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from compression.dit_units import removed_from, units_of
from compression.units import Unit, count_params, unit_params
from vdmbench.diffusion.denoiser import DenoiserSpec
from vdmbench.records import atomic_save_figure, atomic_write_text
from vdmbench.speed import measure


@dataclass(frozen=True)
class UnitScore:
    """One row of the analysis table (distances are means over the calibration set)."""

    unit: str
    kind: str
    level: int
    modules: str
    content: float
    motion: float
    latency_ms: float
    params: int
    param_share: float
    full_latency_ms: float


def motion_profile(x: torch.Tensor) -> torch.Tensor:
    """(B, F, C, H, W) → (B, F-1): mean absolute difference of consecutive frames."""
    return (x[:, 1:] - x[:, :-1]).abs().flatten(2).mean(dim=2)


def content_distance(student: torch.Tensor, teacher: torch.Tensor,
                     content_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
                     ) -> torch.Tensor:
    """Per-clip content distance (B,). Inputs (B, F, C, H, W) model outputs or, with
    ``content_fn`` (uint8 (B, F, H, W, 3) → per-frame features (B·F, d)), videos."""
    if content_fn is not None:
        b, f = student.shape[:2]
        fs = content_fn(student).reshape(b, f, -1)
        ft = content_fn(teacher).reshape(b, f, -1)
        return (fs - ft).norm(dim=2).mean(dim=1)
    scale = teacher.float().std().clamp_min(1e-8)
    per_frame = ((student.float() - teacher.float()) ** 2).flatten(2).mean(dim=2).sqrt()
    return per_frame.mean(dim=1) / scale


def motion_distance(student: torch.Tensor, teacher: torch.Tensor,
                    motion_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
                    ) -> torch.Tensor:
    """Per-clip motion distance (B,); see the module docstring."""
    if motion_fn is not None:
        return (motion_fn(student) - motion_fn(teacher)).norm(dim=1)
    ms, mt = motion_profile(student.float()), motion_profile(teacher.float())
    return (ms - mt).abs().mean(dim=1) / mt.mean(dim=1).clamp_min(1e-8)


def _video_or_raw(family: DenoiserSpec, x0: torch.Tensor, have_nets: bool) -> torch.Tensor:
    if have_nets:
        v = family.to_video(x0)
        if v is not None:
            return v
    return x0


def analyze(family: DenoiserSpec, *, num_clips: int = 8, batch_size: int = 4, seed: int = 0,
            steps: int | None = None, units: Sequence[Unit] | None = None,
            content_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
            motion_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
            timing_iters: int = 5, progress: bool = True) -> list[UnitScore]:
    """Score every unit of ``family.unet`` (a UNet or a video transformer; see the module
    docstring)."""
    unet = family.unet.eval()
    units = list(units) if units is not None else units_of(unet)
    total = count_params(unet)
    nets = content_fn is not None and motion_fn is not None
    batches = [family.batch(min(batch_size, num_clips - k), seed + k, split="val")
               for k in range(0, num_clips, batch_size)]
    seeds = [seed * 1000 + k for k in range(len(batches))]

    def outputs() -> list[torch.Tensor]:
        return [_video_or_raw(family, family.sample(unet, b, s, steps), nets)
                for b, s in zip(batches, seeds)]

    def step_ms() -> float:
        b = batches[0]
        x = family.noise(b, 0)
        sig = torch.ones(x.shape[0], dtype=x.dtype)

        def fn() -> None:
            with torch.no_grad():
                family.denoise(unet, x, sig, b)

        return measure(fn, warmup=1, iters=timing_iters, device=family.device).median_s * 1e3

    ref = outputs()
    full_ms = step_ms()
    rows: list[UnitScore] = []
    it: Any = units
    if progress:
        from rich.progress import track
        it = track(units, description="analysing units")
    for unit in it:
        with removed_from(unet, [unit]):
            outs = outputs()
            ms = step_ms()
        c = torch.cat([content_distance(o, r, content_fn if nets else None)
                       for o, r in zip(outs, ref)]).mean()
        m = torch.cat([motion_distance(o, r, motion_fn if nets else None)
                       for o, r in zip(outs, ref)]).mean()
        p = unit_params(unet, unit)
        rows.append(UnitScore(unit.name, unit.kind, unit.level, "+".join(unit.modules),
                              float(c), float(m), max(full_ms - ms, 0.0), p, p / total, full_ms))
    return rows


def scores_dict(rows: Sequence[UnitScore]) -> dict[str, dict[str, float]]:
    """unit → {content, motion, latency_ms, params, full_latency_ms} (for plans)."""
    return {r.unit: {"content": r.content, "motion": r.motion, "latency_ms": r.latency_ms,
                     "params": float(r.params), "full_latency_ms": r.full_latency_ms}
            for r in rows}


def write_report(rows: Sequence[UnitScore], out_dir: str | os.PathLike[str], *,
                 info: dict[str, Any]) -> dict[str, Path]:
    """Write analysis.json/.csv/.md/.png into ``out_dir``; returns their paths."""
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame([asdict(r) for r in rows])
    paths = {
        "json": atomic_write_text(out / "analysis.json", json.dumps(
            {"info": info, "rows": [asdict(r) for r in rows]}, indent=2) + "\n"),
        "csv": atomic_write_text(out / "analysis.csv", df.to_csv(index=False)),
    }
    md = ["| unit | level | content | motion | latency ms | params | param share | modules |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r.unit} | {r.level} | {r.content:.4g} | {r.motion:.4g} | "
                  f"{r.latency_ms:.3g} | {r.params} | {r.param_share:.3f} | {r.modules} |")
    head = "\n".join(f"- {k}: {v}" for k, v in info.items())
    paths["md"] = atomic_write_text(out / "analysis.md", head + "\n\n" + "\n".join(md) + "\n")
    paths["png"] = plot(rows, out / "analysis.png", title=str(info.get("model", "")))
    return paths


def plot(rows: Sequence[UnitScore], path: Path, title: str = "") -> Path:
    """Content vs motion damage per unit, ordered by depth (UNet: down → mid → up; transformer:
    block 0 → last)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [r.unit for r in rows]
    x = range(len(rows))
    axes[0].bar([i - 0.2 for i in x], [r.content for r in rows], 0.4, label="content")
    axes[0].bar([i + 0.2 for i in x], [r.motion for r in rows], 0.4, label="motion")
    axes[0].set_xticks(list(x), names, rotation=45)
    axes[0].set_ylabel("damage when removed")
    axes[0].legend()
    dit = bool(rows) and rows[0].kind == "block"
    axes[0].set_title("per block (first → last)" if dit else "per unit (down → mid → up)")
    sc = axes[1].scatter([r.content for r in rows], [r.motion for r in rows],
                         c=[r.level for r in rows], cmap="viridis", s=40)
    for r in rows:
        axes[1].annotate(r.unit, (r.content, r.motion), fontsize=7)
    axes[1].set_xlabel("content damage")
    axes[1].set_ylabel("motion damage")
    fig.colorbar(sc, ax=axes[1], label="block index" if dit else "depth (0 = full resolution)")
    fig.suptitle(f"block sensitivity {title}".strip())
    fig.tight_layout()
    return atomic_save_figure(fig, path, dpi=110)


def load_scores(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """Read an ``analysis.json`` (or a folder holding one) into :func:`scores_dict` form."""
    from vdmbench.errors import ConfigError

    p = Path(path)
    if p.is_dir():
        p = p / "analysis.json"
    if not p.is_file():
        raise ConfigError("analysis file not found (run `vdmbench analyze --out DIR`)",
                          file=str(p))
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        rows = [UnitScore(**r) for r in data["rows"]]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ConfigError(f"not an analysis.json: {e}", file=str(p)) from None
    return scores_dict(rows)
