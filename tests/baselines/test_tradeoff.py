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


def _interleaved(rec: dict[str, Any], median: float, lo: float, hi: float, *, noisy: bool,
                 valid: bool = True) -> dict[str, Any]:
    return {**rec, "speed": {**rec["speed"], "speedup": {"per_video": {
        "median": median, "ci95": [lo, hi], "noisy": noisy, "valid": valid}}}}


def test_interleaved_speedups_are_used_noisy_ones_marked_invalid_ones_left_out(tmp_path: Path
                                                                             ) -> None:
    recs = [dict(r) for r in RECORDS[:4]]
    recs[1] = _interleaved(recs[1], 1.8, 1.75, 1.85, noisy=False)
    recs[2] = _interleaved(recs[2], 1.9, 1.5, 2.3, noisy=True)
    recs[3] = _interleaved(recs[3], 4.0, 3.0, 5.0, noisy=True, valid=False)
    points, directions = points_of(recs)
    by = {p.model: p for p in points}
    assert by["vdmini"].speedup == 1.8  # the median of per-round ratios, not 1.0 / 0.5
    assert by["steps-4"].noisy and not by["vdmini"].noisy and "steps-2" not in by
    md = matched_table_markdown(points, directions)
    assert "| steps | steps-4 | 4 | 1.90 [1.50, 2.30]† | 80 | 0.9 |" in md  # kept, marked
    assert "(1.80× [1.75, 1.85])" in md and "† noisy" in md
    (tmp_path / "leaderboard.md").write_text("# board\n")
    write_tradeoff(tmp_path, recs)
    assert "steps-4" in (tmp_path / "leaderboard.md").read_text()


def test_the_suite_names_the_matched_speed_target() -> None:
    recs = [{**r, "suite": {**r["suite"], "matched_speed_model": "dc-4"}} for r in RECORDS]
    points, directions = points_of(recs)
    by = {p.model: p for p in points}
    assert student_point(points) is by["dc-4"]  # not the first student (vdmini)
    md = matched_table_markdown(points, directions)
    assert "nearest to dc-4's per-video speed-up (2.22×)" in md
    # within 15% of 2.22×: steps-4 (1.92×) and vdmini (2.00×); pab (1.11×) is not
    assert "| steps | steps-4 | 4 | 1.92 |" in md and "| x-vdmini | vdmini | 8 | 2.00 |" in md
    assert "| pab | — |" in md
    assert student_point(points, "nowhere") is None  # named but not timed: no table
    assert matched_table_markdown(points, directions, target_name="nowhere") == ""
