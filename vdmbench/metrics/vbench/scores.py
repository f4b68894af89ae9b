"""VBench's 16 dimensions and its Quality / Semantic / Total aggregation.

Per dimension ``d`` with raw score ``x`` (VBench's number, in [0, 1]):
``normalized = (x − min_d) / (max_d − min_d) · weight_d`` (weight 0.5 for ``dynamic_degree``,
1 otherwise). ``Quality = Σ_{7 quality dims} normalized / Σ weights (= 6.5)``,
``Semantic = Σ_{9 semantic dims} normalized / 9``, ``Total = (4·Quality + 1·Semantic) / 5``
(VBench's ``scripts/constant.py`` and ``scripts/cal_final_score.py``).

Unlike VBench's script, a missing dimension is never filled with 0: an aggregate whose dimensions
are not all present is ``None`` and the result says which dimensions are missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from vdmbench.errors import MetricError

QUALITY_DIMENSIONS: tuple[str, ...] = (
    "subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
    "aesthetic_quality", "imaging_quality", "dynamic_degree")
SEMANTIC_DIMENSIONS: tuple[str, ...] = (
    "object_class", "multiple_objects", "human_action", "color", "spatial_relationship", "scene",
    "appearance_style", "temporal_style", "overall_consistency")
DIMENSIONS: tuple[str, ...] = QUALITY_DIMENSIONS + SEMANTIC_DIMENSIONS

#: (min, max) used to normalize each raw score.
NORMALIZATION: dict[str, tuple[float, float]] = {
    "subject_consistency": (0.1462, 1.0),
    "background_consistency": (0.2615, 1.0),
    "temporal_flickering": (0.6293, 1.0),
    "motion_smoothness": (0.706, 0.9975),
    "dynamic_degree": (0.0, 1.0),
    "aesthetic_quality": (0.0, 1.0),
    "imaging_quality": (0.0, 1.0),
    "object_class": (0.0, 1.0),
    "multiple_objects": (0.0, 1.0),
    "human_action": (0.0, 1.0),
    "color": (0.0, 1.0),
    "spatial_relationship": (0.0, 1.0),
    "scene": (0.0, 0.8222),
    "appearance_style": (0.0009, 0.2855),
    "temporal_style": (0.0, 0.364),
    "overall_consistency": (0.0, 0.364),
}
WEIGHTS: dict[str, float] = {d: (0.5 if d == "dynamic_degree" else 1.0) for d in DIMENSIONS}
QUALITY_WEIGHT = 4.0
SEMANTIC_WEIGHT = 1.0

#: Dimensions VBench refuses in ``custom_input`` mode (they need the prompt's auxiliary info).
STANDARD_ONLY: frozenset[str] = frozenset({
    "object_class", "multiple_objects", "scene", "appearance_style", "color",
    "spatial_relationship"})


def check_dimensions(dims: list[str] | tuple[str, ...]) -> None:
    """Raise :class:`MetricError` naming any unknown dimension (with the known ones)."""
    bad = [d for d in dims if d not in NORMALIZATION]
    if bad:
        raise MetricError(f"unknown VBench dimension(s) {', '.join(bad)}; known: "
                          f"{', '.join(DIMENSIONS)}")


def normalize(dim: str, raw: float) -> float:
    """Weighted normalized score of one dimension: ``(raw − min)/(max − min) · weight``."""
    check_dimensions([dim])
    if not math.isfinite(raw):
        raise MetricError(f"VBench dimension {dim}: raw score {raw} is not finite")
    lo, hi = NORMALIZATION[dim]
    return (raw - lo) / (hi - lo) * WEIGHTS[dim]


@dataclass(frozen=True)
class VBenchScores:
    """Aggregates of one model's per-dimension results. ``quality``/``semantic``/``total`` are
    ``None`` when a dimension they need is missing (listed in ``missing``)."""

    raw: dict[str, float]
    normalized: dict[str, float]
    quality: float | None
    semantic: float | None
    total: float | None
    missing: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict:
        return {"raw": self.raw, "normalized": self.normalized, "quality": self.quality,
                "semantic": self.semantic, "total": self.total, "missing": list(self.missing),
                "complete": self.complete}


def aggregate(raw: Mapping[str, float]) -> VBenchScores:
    """Quality, Semantic and Total from raw per-dimension scores (``{dimension: score}``).

    Unknown dimension names raise :class:`MetricError`; missing ones make the aggregates that
    need them ``None`` (never zero-filled)."""
    check_dimensions(list(raw))
    norm = {d: normalize(d, float(v)) for d, v in raw.items()}
    missing = tuple(d for d in DIMENSIONS if d not in raw)

    def part(dims: tuple[str, ...]) -> float | None:
        if any(d not in norm for d in dims):
            return None
        return sum(norm[d] for d in dims) / sum(WEIGHTS[d] for d in dims)

    quality, semantic = part(QUALITY_DIMENSIONS), part(SEMANTIC_DIMENSIONS)
    total = None
    if quality is not None and semantic is not None:
        total = ((quality * QUALITY_WEIGHT + semantic * SEMANTIC_WEIGHT)
                 / (QUALITY_WEIGHT + SEMANTIC_WEIGHT))
    return VBenchScores(raw={d: float(v) for d, v in raw.items()}, normalized=norm,
                        quality=quality, semantic=semantic, total=total, missing=missing)
