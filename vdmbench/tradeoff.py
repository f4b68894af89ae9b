"""Quality against speed across acceleration methods: the Pareto plot and the matched-speed table.

Written next to the leaderboard for every run whose reference model was timed
(:func:`write_tradeoff`, called by :func:`vdmbench.leaderboard.write_leaderboards`):

- ``leaderboard_pareto.png``: the chosen quality metric (default: the suite's first FVD, else its
  first metric) against per-video latency; each **method** is one marker and a line through its
  settings; the Pareto front (no other point is both faster and better) is drawn dashed;
- a ``## Matched speed`` section appended to ``leaderboard.md``: for each method, the setting
  whose per-video speed-up is nearest to the target's (within ±15%, else "—"), side by side on
  every metric.

A record's method comes from its model entry: the reference model's weights with no transforms
is ``steps`` (the teacher at fewer steps, through the teacher itself); other weights are a
student, named by its weights folder; transforms are appended by name (``synth-i2v-vdmini`` +
``deepcache`` = ``synth-i2v-vdmini+deepcache``). The student of the matched-speed table is the
suite's ``matched_speed_model`` where it names one (a one-step suite names its compressed model:
the first student there is the teacher sampled in one step), else the first student entry
without transforms (at the reference's steps where there is one).

Both leave out metric values marked under-sampled (fewer samples than the metric's protocol
asks, e.g. a ``--limit`` run): such numbers do not compare across runs. The Pareto plot leaves
out noisy speed-ups (a front drawn through them would move from run to run); the matched-speed
table keeps them, printed with their 95% interval and ``†`` (on a shared CPU most intervals are
wider than ±10%, and a table of dashes says nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from vdmbench.layout import LEADERBOARD_TABLES, PARETO_PLOT

TOLERANCE = 0.15


@dataclass
class Point:
    """One model entry of one run: its method, latency (ms), speed-up and metric values."""

    model: str
    method: str
    steps: int | None
    latency_ms: float
    speedup: float
    transforms: list[str]
    student: bool
    metrics: dict[str, float] = field(default_factory=dict)
    noisy: bool = False  # its speed-up's 95% interval is wider than the run's noise threshold
    interval: tuple[float, float] | None = None  # that interval, for interleaved timings
    matched_to: str | None = None  # the run's suite's matched_speed_model


def _per_video_s(rec: dict[str, Any]) -> float | None:
    pv = (rec.get("speed") or {}).get("per_video")
    return None if pv is None else float(pv["median_s"])


def _speedup(rec: dict[str, Any], ref_s: float, s: float
             ) -> tuple[float, bool, tuple[float, float] | None] | None:
    """The per-video speed-up, whether it is marked noisy, and its 95% interval: the
    interleaved timing's median of per-round ratios (None when marked invalid), or for records
    timed without rounds the ratio of medians (no interval)."""
    su = ((rec.get("speed") or {}).get("speedup") or {}).get("per_video")
    if su is None:
        return ref_s / s, False, None
    if not su.get("valid", True) or su.get("median") is None:
        return None
    ci = su.get("ci95")
    interval = (float(ci[0]), float(ci[1])) if ci and None not in ci else None
    return float(su["median"]), bool(su.get("noisy")), interval


def _complete(m: dict[str, Any]) -> bool:
    """A value these views may show: present, complete, and not under-sampled (a value computed
    on fewer samples than its protocol asks is not comparable across runs)."""
    return (m.get("value") is not None and not (m.get("details") or {}).get("incomplete")
            and not m.get("undersampled"))


def points_of(records: list[dict[str, Any]]) -> tuple[list[Point], dict[str, bool]]:
    """The points of the latest run whose reference model was timed, and each metric's
    direction (``higher_is_better``). Empty when no such run. Models whose speed-up is marked
    invalid are left out, noisy ones flagged (``Point.noisy``; docs/harness.md, "Speed"), and
    metric values marked under-sampled (the record's ``undersampled``) left out."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        runs.setdefault(rec["run_id"], []).append(rec)
    for run_id in sorted(runs, reverse=True):
        recs = runs[run_id]
        ref_name = recs[0]["suite"].get("reference_model")
        ref = next((r for r in recs if r["model"]["name"] == ref_name), None)
        ref_s = None if ref is None else _per_video_s(ref)
        if ref is None or not ref_s:
            continue
        ref_sha = ref["model"]["card"]["weights_sha256"]
        points, directions = [], {}
        for rec in recs:
            s = _per_video_s(rec)
            timed = None if not s else _speedup(rec, ref_s, s)
            if not s or timed is None:
                continue
            speedup, noisy, interval = timed
            card, spec = rec["model"]["card"], rec["model"].get("spec") or {}
            student = card["weights_sha256"] != ref_sha
            transforms = [t["name"] for t in card.get("transforms") or []]
            parts = [PurePosixPath(str(spec.get("weights") or rec["model"]["name"])).name
                     ] if student else []
            method = "+".join(parts + transforms) or "steps"
            metrics = {}
            for name, m in (rec.get("metrics") or {}).items():
                directions[name] = bool(m.get("higher_is_better"))
                if _complete(m):
                    metrics[name] = float(m["value"])
            points.append(Point(rec["model"]["name"], method, card.get("steps"), s * 1e3,
                                speedup, transforms, student, metrics, noisy, interval,
                                rec["suite"].get("matched_speed_model")))
        return points, directions
    return [], {}


def choose_metric(directions: dict[str, bool], preferred: str | None = None) -> str | None:
    """``preferred`` if measured, else the first FVD, else the first metric."""
    if preferred in directions:
        return preferred
    return next((n for n in directions if n.startswith("fvd")), next(iter(directions), None))


def pareto_front(points: list[Point], metric: str, higher_is_better: bool) -> list[Point]:
    """Points no other point beats on both latency and ``metric``, by latency."""
    pts = sorted((p for p in points if metric in p.metrics),
                 key=lambda p: (p.latency_ms, -p.metrics[metric] if higher_is_better
                                else p.metrics[metric]))
    front: list[Point] = []
    for p in pts:
        v = p.metrics[metric]
        if not front or (v > front[-1].metrics[metric] if higher_is_better
                         else v < front[-1].metrics[metric]):
            front.append(p)
    return front


def student_point(points: list[Point], name: str | None = None) -> Point | None:
    """The target of the matched-speed table: the model ``name`` (default: the suite's
    ``matched_speed_model``) if named (None if it was not timed), else the first student
    without transforms (see the module docstring)."""
    name = name or next((p.matched_to for p in points if p.matched_to), None)
    if name is not None:
        return next((p for p in points if p.model == name), None)
    plain = [p for p in points if p.student and not p.transforms]
    steps = max((p.steps or 0 for p in points if p.method == "steps"), default=None)
    return next((p for p in plain if p.steps == steps), plain[0] if plain else None)


def matched(points: list[Point], target: Point, tolerance: float = TOLERANCE
            ) -> dict[str, Point | None]:
    """For each method other than the target's, its point nearest to the target's speed-up
    within ±``tolerance`` (relative), else None."""
    methods: dict[str, list[Point]] = {}
    for p in points:
        if p.method != target.method:
            methods.setdefault(p.method, []).append(p)
    out: dict[str, Point | None] = {}
    for method, pts in methods.items():
        best = min(pts, key=lambda p: abs(p.speedup / target.speedup - 1))
        out[method] = best if abs(best.speedup / target.speedup - 1) <= tolerance else None
    return out


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"


def _speedup_cell(p: Point, unit: str = "") -> str:
    """``1.84 [1.65, 1.93]†``: the median, its 95% interval where timed in rounds, † if noisy."""
    if p.interval is None:
        return f"{p.speedup:.2f}{unit}"
    lo, hi = p.interval
    return f"{p.speedup:.2f}{unit} [{lo:.2f}, {hi:.2f}]" + ("†" if p.noisy else "")


def matched_table_markdown(points: list[Point], directions: dict[str, bool],
                           tolerance: float = TOLERANCE, target_name: str | None = None) -> str:
    """The ``## Matched speed`` section (empty string when there is no target: no student, or
    ``target_name`` not timed)."""
    target = student_point(points, target_name)
    if target is None:
        return ""
    names = list(directions)
    head = ["method", "setting", "steps", "speed-up (×)"] + [
        f"{n} {'↑' if directions[n] else '↓'}" for n in names]
    lines = [f"## Matched speed\n\nEach method's setting nearest to {target.model}'s per-video "
             f"speed-up ({_speedup_cell(target, '×')}), within ±{tolerance:.0%} (else —)"
             + (". † noisy: its 95% interval reaches beyond the run's noise threshold (the "
                "match is uncertain)" if any(p.noisy for p in points) else "") + ".\n",
             "| " + " | ".join(head) + " |", "|---|---|---:|---:|" + "---:|" * len(names)]

    def row(method: str, p: Point | None) -> str:
        if p is None:
            return "| " + " | ".join([method, "—", "—", "—"] + ["—"] * len(names)) + " |"
        cells = [method, p.model, str(p.steps), _speedup_cell(p)] + [
            _fmt(p.metrics[n]) if n in p.metrics else "—" for n in names]
        return "| " + " | ".join(cells) + " |"

    lines.append(row(target.method, target))
    lines += [row(m, p) for m, p in matched(points, target, tolerance).items()]
    return "\n".join(lines) + "\n"


def write_pareto_plot(points: list[Point], metric: str, higher_is_better: bool, path: Path,
                      title: str = "") -> bool:
    """The Pareto plot (PNG) of ``metric`` against per-video latency; False if nothing to plot."""
    pts = [p for p in points if metric in p.metrics]
    if len(pts) < 2:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vdmbench.records import atomic_save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    markers = "osD^v<>pXh*"
    methods: dict[str, list[Point]] = {}
    for p in pts:
        methods.setdefault(p.method, []).append(p)
    for i, (method, group) in enumerate(methods.items()):
        group.sort(key=lambda p: p.latency_ms)
        ax.plot([p.latency_ms for p in group], [p.metrics[metric] for p in group],
                marker=markers[i % len(markers)], linewidth=1, markersize=6, label=method)
        for p in group:
            ax.annotate(p.model, (p.latency_ms, p.metrics[metric]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
    front = pareto_front(pts, metric, higher_is_better)
    ax.step([p.latency_ms for p in front], [p.metrics[metric] for p in front], where="post",
            color="black", linestyle="--", linewidth=0.8, label="Pareto front")
    ax.set_xlabel("per-video latency (ms, batch 1)")
    ax.set_ylabel(f"{metric} ({'higher' if higher_is_better else 'lower'} is better)")
    ax.set_title(title or f"{metric} against per-video latency", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)
    return True


def write_tradeoff(root: Path, records: list[dict[str, Any]], title: str = "",
                   metric: str | None = None) -> dict[str, Path]:
    """Write ``leaderboard_pareto.png`` and append the matched-speed section to
    ``leaderboard.md`` under ``root`` (nothing when no run timed its reference model)."""
    from vdmbench.records import atomic_write_text

    points, directions = points_of(records)
    chosen = choose_metric(directions, metric)
    out: dict[str, Path] = {}
    if not points or chosen is None:
        return out
    png = root / PARETO_PLOT
    if write_pareto_plot([p for p in points if not p.noisy], chosen, directions[chosen], png,
                         title):
        out["pareto"] = png
    section = matched_table_markdown(points, directions)
    md = root / LEADERBOARD_TABLES["md"]
    if section and md.is_file():
        atomic_write_text(md, md.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + section)
        out["matched"] = md
    return out
