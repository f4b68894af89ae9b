"""The Pareto plot and the matched-speed table from records (no models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vdmbench.tradeoff import (
    matched,
    matched_table_markdown,
    pareto_front,
    points_of,
    student_point,
    write_tradeoff,
)


def _rec(name: str, seconds: float, fvd: float, acc: float, *, steps: int = 8,
         weights: str | None = None, transforms: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"run_id": "r1", "suite": {"reference_model": "teacher"},
            "model": {"name": name, "spec": {"weights": weights},
                      "card": {"weights_sha256": "S" if weights else "T", "steps": steps,
                               "transforms": [{"name": t, "options": {}} for t in transforms]}},
            "metrics": {"fvd_synth": {"value": fvd, "higher_is_better": False},
                        "motion_acc_synth": {"value": acc, "higher_is_better": True}},
            "speed": {"per_video": {"median_s": seconds}}}


RECORDS = [
    _rec("teacher", 1.0, 38.0, 0.95),
    _rec("vdmini", 0.5, 87.0, 0.69, weights="compression/students/x-vdmini"),
    _rec("steps-4", 0.52, 80.0, 0.90, steps=4),
    _rec("steps-2", 0.25, 100.0, 0.85, steps=2),
    _rec("dc-2", 0.66, 60.0, 0.92, transforms=("deepcache",)),
    _rec("dc-4", 0.45, 90.0, 0.80, transforms=("deepcache",)),
    _rec("pab-2", 0.9, 40.0, 0.94, transforms=("pab",)),
    _rec("vdmini-dc", 0.3, 120.0, 0.5, weights="compression/students/x-vdmini",
         transforms=("deepcache",)),
]


def test_methods_speedups_student_and_front() -> None:
    points, directions = points_of(RECORDS)
    by = {p.model: p for p in points}
    assert by["teacher"].method == "steps" and by["steps-2"].method == "steps"
    assert by["vdmini"].method == "x-vdmini" and by["vdmini-dc"].method == "x-vdmini+deepcache"
    assert by["dc-4"].method == "deepcache" and abs(by["vdmini"].speedup - 2.0) < 1e-9
    assert directions == {"fvd_synth": False, "motion_acc_synth": True}
    assert student_point(points) is by["vdmini"]
    front = [p.model for p in pareto_front(points, "fvd_synth", False)]
    assert front == ["steps-2", "dc-4", "vdmini", "steps-4", "dc-2", "pab-2", "teacher"]
    m = matched(points, by["vdmini"])
    # nearest to 2.0×: steps-4 (1.92×), deepcache dc-4 (2.22×, within 15%); pab's best 1.11×: none
    assert m["steps"] is by["steps-4"] and m["deepcache"] is by["dc-4"] and m["pab"] is None
    assert m["x-vdmini+deepcache"] is None  # 3.33× is outside ±15%
    md = matched_table_markdown(points, directions)
    assert "| pab | — |" in md and "| deepcache | dc-4 | 8 | 2.22 | 90 | 0.8 |" in md


def test_write_tradeoff_appends_the_table_and_draws_the_plot(tmp_path: Path) -> None:
    (tmp_path / "leaderboard.md").write_text("# board\n")
    out = write_tradeoff(tmp_path, RECORDS, title="t")
    assert (tmp_path / "leaderboard_pareto.png").stat().st_size > 1000 and "pareto" in out
    text = (tmp_path / "leaderboard.md").read_text()
    assert text.startswith("# board") and "## Matched speed" in text
    untimed = [{**r, "speed": None} for r in RECORDS]
    assert write_tradeoff(tmp_path / "none", untimed) == {}


def test_interleaved_speedups_are_used_and_noisy_ones_left_out() -> None:
    recs = [dict(r) for r in RECORDS[:3]]
    recs[1] = {**recs[1], "speed": {"per_video": {"median_s": 0.5}, "speedup": {"per_video": {
        "median": 1.8, "noisy": False, "valid": True}}}}
    recs[2] = {**recs[2], "speed": {"per_video": {"median_s": 0.52}, "speedup": {"per_video": {
        "median": 1.9, "noisy": True, "valid": True}}}}
    by = {p.model: p for p in points_of(recs)[0]}
    assert by["vdmini"].speedup == 1.8  # the median of per-round ratios, not 1.0 / 0.5
    assert "steps-4" not in by  # noisy: not in the Pareto or matched-speed views
