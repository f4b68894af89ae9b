"""Leaderboards: CSV / Markdown / LaTeX views over result records, and a PNG plot.

One row per model, one column per metric (with its direction arrow), latency per component,
parameters, and speed-ups relative to the suite's reference model: the median of per-round ratios
from one interleaved timing session with its 95% interval (vdmbench/timing.py). Records whose
metric protocol, version or reference data differ are refused (:class:`ProtocolMismatchError`);
a missing value is shown as "—", never 0; a timing that did not meet its minimums is marked with
"*" (and gives no speed-up); a speed-up whose interval is wider than the suite's noise threshold,
or one from timings not taken in interleaved rounds, is marked with "†" (``row["_noisy"]``: views
that need a trustworthy speed, such as Pareto fronts, leave those out); a metric value computed on
fewer samples than its protocol asks (the record's ``undersampled``, e.g. a ``--limit`` run) is
marked with "‡" (``row["_undersampled"]``: cross-run views leave those out too). A PSNR at its
cap (every video identical to the teacher's) reads "100 (cap)". Numbers are printed with five
significant digits. Of the several timing versions a run's model can have (``vdmbench speed``),
the newest is shown unless one is asked for, and the notes say which.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdmbench.errors import ProtocolMismatchError, VdmbenchError
from vdmbench.layout import LEADERBOARD_PLOT, LEADERBOARD_TABLES
from vdmbench.records import (
    atomic_save_figure,
    atomic_write_text,
    find_records,
    read_record,
    timing_version,
)

MISSING = "—"
NOT_TIMED = "not timed"  # videos made outside vdmbench (card ``timed: false``)
USER_REPORTED = "user-reported"
NOISY = "†"
UNDERSAMPLED = "‡"
CAPPED = "(cap)"
INCOMPLETE = "incomplete"  # a metric computed from some of its parts only (e.g. VBench Total)
COMPONENT_ORDER = ("text_encode", "image_encode", "encode", "vae_encode", "denoise", "decode")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str  # "text" | "metric" | "ms" | "ratio" | "params"


@dataclass
class Table:
    """A leaderboard: ``columns`` and one dict per row (values raw; None = missing)."""

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    notes: list[str]


def _comparability_key(record: dict[str, Any], metric: str) -> str:
    m = record["metrics"][metric]
    return json.dumps({"version": m.get("version"), "protocol": m.get("protocol"),
                       "dataset": record["dataset"]["manifest_hash"],
                       "n_requests": record["dataset"]["n_requests"]}, sort_keys=True)


def check_comparable(records: Sequence[dict[str, Any]]) -> None:
    """Raise unless every metric was measured under one protocol/version/reference set."""
    seen: dict[str, tuple[str, str]] = {}
    for rec in records:
        for metric in rec.get("metrics", {}):
            key = _comparability_key(rec, metric)
            who = f"{rec['model']['name']} (run {rec['run_id']})"
            if metric in seen and seen[metric][0] != key:
                raise ProtocolMismatchError(
                    f"metric '{metric}' of {who} was measured under a different protocol, "
                    f"version or reference set than for {seen[metric][1]}; refusing to put "
                    f"them side by side")
            seen.setdefault(metric, (key, who))


def _median(t: dict[str, Any] | None) -> float | None:
    return None if t is None else t.get("median_s")


def build_table(records: Sequence[dict[str, Any]], title: str = "") -> Table:
    """Build the leaderboard table from records (see the module docstring)."""
    if not records:
        raise VdmbenchError("no result records to build a leaderboard from")
    check_comparable(records)
    metric_names: list[str] = []
    directions: dict[str, bool] = {}
    components: list[str] = []
    for rec in records:
        for name, m in rec.get("metrics", {}).items():
            if name not in metric_names:
                metric_names.append(name)
                directions[name] = bool(m.get("higher_is_better"))
        for c in (rec.get("speed") or {}).get("components", {}):
            if c not in components:
                components.append(c)
    components.sort(key=lambda c: (COMPONENT_ORDER.index(c) if c in COMPONENT_ORDER
                                   else len(COMPONENT_ORDER), c))
    columns = [Column("model", "model", "text"), Column("params", "params (M)", "params"),
               Column("steps", "steps", "text")]
    columns += [Column(f"metric:{n}", f"{n} {'↑' if directions[n] else '↓'}", "metric")
                for n in metric_names]
    columns += [Column(f"ms:{c}", f"{c} (ms/step)" if c == "denoise" else f"{c} (ms)", "ms")
                for c in components]
    timed = any(rec.get("speed") for rec in records)
    reported = any(rec["model"]["card"].get("reported_latency") for rec in records)
    if timed or reported:  # none where no model was timed (``run --no-timing``) or reported
        columns += [Column("ms:per_video", "per video (ms)", "ms"),
                    Column("speedup", "speed-up (×)", "ratio")]
    if "denoise" in components:
        columns.append(Column("step_speedup", "step speed-up (×)", "ratio"))
    # reference timings per (run, device): for records timed before interleaving existed
    refs: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        if rec["model"]["name"] == rec["suite"]["reference_model"] and rec.get("speed"):
            refs[(rec["run_id"], rec["speed"]["device"])] = rec["speed"]
    rows, notes, invalid_seen, noisy_seen, sequential_seen = [], [], False, False, False
    undersampled_seen: dict[str, list[str]] = {}  # reason → metrics
    capped_seen: set[float] = set()
    multi_run = len({r["run_id"] for r in records}) > 1
    for rec in records:
        card = rec["model"]["card"]
        name = rec["model"]["name"] + (f" [{rec['run_id']}]" if multi_run else "")
        row: dict[str, Any] = {"model": name, "steps": card.get("steps") or None,  # 0: unknown
                               "params": (card.get("total_params", 0) / 1e6
                                          if card.get("params") else None)}
        undersampled: dict[str, str] = {}
        capped: set[str] = set()
        for n in metric_names:
            m = rec.get("metrics", {}).get(n)
            if m is None:
                row[f"metric:{n}"] = None
            elif _incomplete(m):
                row[f"metric:{n}"] = INCOMPLETE
            else:
                row[f"metric:{n}"] = (m["value"], m.get("std"))
                cap = ((m.get("protocol") or {}).get("options") or {}).get("max_db")
                if isinstance(cap, (int, float)) and m["value"] == cap:
                    capped.add(f"metric:{n}")
                    capped_seen.add(float(cap))
            if m is not None and m.get("undersampled"):
                undersampled[f"metric:{n}"] = str(m["undersampled"])
                reasons = undersampled_seen.setdefault(str(m["undersampled"]), [])
                if n not in reasons:
                    reasons.append(n)
        row["_undersampled"], row["_capped"] = undersampled, capped
        speed = rec.get("speed")
        invalid: set[str] = set()
        noisy: set[str] = set()
        if speed:
            for c in components:
                t = speed["components"].get(c)
                row[f"ms:{c}"] = None if t is None else t["median_s"] * 1e3
                if t is not None and not t["valid"]:
                    invalid.add(f"ms:{c}")
            pv = speed.get("per_video")
            row["ms:per_video"] = None if pv is None else pv["median_s"] * 1e3
            if pv is not None and not pv["valid"]:
                invalid.add("ms:per_video")
            if "speedup" in speed:  # interleaved rounds: per-round ratios with an interval
                own = {"per_video": pv, "denoise": speed["components"].get("denoise")}
                for key, part in (("speedup", "per_video"), ("step_speedup", "denoise")):
                    s = speed["speedup"].get(part)
                    if s is None or not s.get("valid") or not (own[part] or {}).get("valid"):
                        row[key] = None
                        continue
                    row[key], row[f"{key}_ci"] = s["median"], tuple(s["ci95"])
                    if s["noisy"]:
                        noisy.add(key)
            else:  # timed one model after the other: a ratio of two medians, no interval
                sequential_seen = True
                ref = refs.get((rec["run_id"], speed["device"]))
                row["speedup"] = _ratio(ref and ref.get("per_video"), pv)
                ref_step = ref and ref["components"].get("denoise")
                row["step_speedup"] = _ratio(ref_step, speed["components"].get("denoise"))
                noisy |= {k for k in ("speedup", "step_speedup") if row.get(k) is not None}
        elif card.get("timed") is False:  # made outside vdmbench: never timed by it
            row["_not_timed"] = True
            reported = (card.get("reported_latency") or {}).get("per_video")
            if reported:
                row["_reported_ms"] = reported["median_s"] * 1e3
        row["_invalid"], row["_noisy"] = invalid, noisy
        invalid_seen |= bool(invalid)
        noisy_seen |= bool(noisy)
        rows.append(row)
    notes += _timing_notes(records, noisy_seen, sequential_seen)
    if not timed and any(r["model"]["card"].get("timed", True) for r in records):
        notes.append("not timed (`vdmbench run --no-timing` or the suite's speed.enabled: "
                     "false); `vdmbench speed` adds a timing to a finished run")
    if any(r.get("_not_timed") for r in rows):
        notes.append(f"{NOT_TIMED}: videos made outside vdmbench (`videos` model); a latency "
                     f"marked ({USER_REPORTED}) is what the user measured, not comparable with "
                     f"the timed rows")
    if invalid_seen:
        notes.append("* timing did not meet its minimum iterations or duration (not valid)")
    for reason, names in undersampled_seen.items():
        notes.append(f"{UNDERSAMPLED} under-sampled ({', '.join(names)}): computed on {reason}; "
                     f"not comparable with a full-size run (left out of the Pareto plot and the "
                     f"matched-speed table)")
    for cap in sorted(capped_seen):
        notes.append(f"{CAPPED} PSNR at its cap of {cap:g} dB: every video identical "
                     f"to the teacher's")
    return Table(title=title, columns=columns, rows=rows, notes=notes)


def _timing_notes(records: Sequence[dict[str, Any]], noisy_seen: bool,
                  sequential_seen: bool) -> list[str]:
    """Which timing the table shows and how its speed-ups were measured."""
    timed = [r for r in records if r.get("speed")]
    if not timed:
        return []
    ref_name = records[0]["suite"]["reference_model"]
    devices = ", ".join(sorted({r["speed"]["device"] for r in timed}))
    sessions: dict[str, dict[str, Any]] = {}
    for r in timed:
        sess = r["speed"].get("session")
        if sess:
            sessions.setdefault(sess["id"], {**sess, "version": timing_version(r)})
    notes = []
    if len(sessions) == 1 and not sequential_seen:
        (sess,) = sessions.values()
        load = sess.get("load_average") or {}
        load_txt = ("" if not load.get("start") else
                    f", 1-min load average {load['start'][0]:.2f} → {load['end'][0]:.2f}")
        notes.append(f"speed-ups are relative to {ref_name} on {devices}: the median of per-round "
                     f"time ratios over {sess['rounds']} interleaved rounds of one timing "
                     f"session, [95% interval] from order statistics ({sess['threads']} torch "
                     f"threads{load_txt})")
    else:
        n = len(sessions) + (1 if sequential_seen else 0)
        notes.append(f"timings come from {n} separate timing sessions (different invocations) "
                     f"on {devices}; each speed-up is relative to {ref_name} timed in the same "
                     f"session; latencies from different sessions are not comparable")
    for sess in sorted(sessions.values(), key=lambda s: s["id"]):
        notes.append(f"timing shown: version {sess['version']} (`vdmbench "
                     f"{sess.get('command', 'run')}`, session {sess['id']}, started "
                     f"{sess.get('started', '?')})")
    if noisy_seen:
        thresholds = sorted({s["noise_threshold"] for r in timed
                             for s in (r["speed"].get("speedup") or {}).values()
                             if isinstance(s, dict) and "noise_threshold" in s})
        what = []
        if thresholds:
            what.append("its 95% interval reaches beyond ±"
                        + "/".join(f"{t:.0%}" for t in thresholds) + " of the median")
        if sequential_seen:
            what.append("a ratio of two medians timed one model after the other")
        notes.append(f"{NOISY} noisy speed-up: " + "; or ".join(what))
    return notes


def _incomplete(m: dict[str, Any]) -> bool:
    value = m.get("value")
    status = (m.get("details") or {}).get("status")
    return status == "incomplete" or value is None or (isinstance(value, float)
                                                       and math.isnan(value))


def _ratio(ref: dict[str, Any] | None, mine: dict[str, Any] | None) -> float | None:
    """ref / mine median time, only if both exist and are valid."""
    if not ref or not mine or not ref.get("valid") or not mine.get("valid"):
        return None
    if not mine["median_s"]:
        return None
    return ref["median_s"] / mine["median_s"]


def _fmt_number(v: float, digits: int = 5) -> str:
    """``v`` with ``digits`` significant digits, trailing zeros kept (100.024 → "100.02",
    0.9453125 → "0.94531", 1.0 → "1.0000"); whole numbers from 10^digits on without a point."""
    if math.isinf(v) or math.isnan(v):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:.0f}"
    text = f"{v:#.{digits}g}"
    if "e" in text:  # below 1e-4
        return f"{v:.{digits - 1}e}"
    return text.rstrip(".")


def format_cell(col: Column, row: dict[str, Any]) -> str:
    v = row.get(col.key)
    if row.get("_not_timed") and col.key in ("ms:per_video", "speedup", "step_speedup"):
        if col.key == "ms:per_video" and row.get("_reported_ms") is not None:
            return f"{row['_reported_ms']:.2f} ({USER_REPORTED})"
        return NOT_TIMED
    if v is None:
        return MISSING
    if v == INCOMPLETE:
        return INCOMPLETE
    if col.kind == "metric":
        value, std = v
        if col.key in row.get("_capped", ()):
            s = f"{_fmt_number(value, 3)} {CAPPED}"
        else:
            s = _fmt_number(value) + (f" ± {_fmt_number(std, 3)}" if std is not None else "")
        return s + (UNDERSAMPLED if col.key in row.get("_undersampled", {}) else "")
    if col.kind == "ms":
        return f"{v:.2f}" + ("*" if col.key in row.get("_invalid", ()) else "")
    if col.kind == "ratio":
        ci = row.get(f"{col.key}_ci")
        text = f"{v:.2f}" + ("" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]")
        return text + (NOISY if col.key in row.get("_noisy", ()) else "")
    if col.kind == "params":
        return f"{v:.3f}"
    return str(v)


def to_csv(table: Table) -> str:
    """Raw numbers; a missing value is an empty cell (never 0); invalid timings flagged."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header: list[str] = []
    for c in table.columns:
        if c.kind == "metric":
            header += [c.key.split(":", 1)[1], c.key.split(":", 1)[1] + "_std"]
        elif c.kind == "ratio":
            header += [c.key, c.key + "_lo", c.key + "_hi"]
        else:
            header.append(c.key.replace("ms:", "ms_"))
    header += ["timing", "user_reported_ms_per_video", "invalid_timings", "noisy_speedups",
               "undersampled_metrics"]
    w.writerow(header)
    for row in table.rows:
        out: list[Any] = []
        for c in table.columns:
            v = row.get(c.key)
            if c.kind == "metric":
                if v is None or v == INCOMPLETE:
                    out += ["" if v is None else INCOMPLETE, ""]
                else:
                    out += [repr(v[0]), "" if v[1] is None else repr(v[1])]
            elif c.kind == "ratio":
                ci = row.get(f"{c.key}_ci") or ("", "")
                out += ["" if v is None else repr(v), *(repr(x) if x != "" else x for x in ci)]
            else:
                out.append("" if v is None else (repr(v) if isinstance(v, float) else v))
        out.append(NOT_TIMED if row.get("_not_timed") else
                   "measured" if row.get("ms:per_video") is not None else "")
        reported = row.get("_reported_ms")
        out.append("" if reported is None else repr(reported))
        out.append(";".join(sorted(k.replace("ms:", "ms_") for k in row.get("_invalid", ()))))
        out.append(";".join(sorted(row.get("_noisy", ()))))
        out.append(";".join(sorted(k.split(":", 1)[1] for k in row.get("_undersampled", {}))))
        w.writerow(out)
    return buf.getvalue()


def to_markdown(table: Table) -> str:
    lines = [f"### {table.title}", ""] if table.title else []
    lines.append("| " + " | ".join(c.header for c in table.columns) + " |")
    lines.append("|" + "|".join("---" if c.kind == "text" else "---:" for c in table.columns)
                 + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(format_cell(c, row) for c in table.columns) + " |")
    if table.notes:
        lines.append("")
        lines += [f"{n}  " for n in table.notes]
    return "\n".join(lines) + "\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
                "×": r"$\times$", "±": r"$\pm$", "—": "---", "†": r"$^\dagger$",
                "→": r"$\to$", "‡": r"$^\ddagger$", "≥": r"$\geq$", "∞": r"$\infty$"}


def _tex(s: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in s)


def latex_label(title: str) -> str:
    """``tab:vdmbench-<title>`` with every run of characters other than letters, digits and
    ``-`` as one ``-`` (what ``\\label`` and ``\\ref`` accept everywhere)."""
    slug = "-".join(re.findall(r"[A-Za-z0-9]+", title)).lower()
    return f"tab:vdmbench-{slug}" if slug else "tab:vdmbench"


def latex_caption(table: Table) -> str:
    """The caption: the title, what the arrows mean and each mark the table uses."""
    parts = [f"{table.title or 'vdmbench leaderboard'}: quality and latency per model "
             f"(↑ higher is better, ↓ lower is better; {MISSING} no value)"]
    text = "\n".join(format_cell(c, r) for r in table.rows for c in table.columns)
    for mark, meaning in (("*", "timing not valid"), (NOISY, "noisy speed-up"),
                          (UNDERSAMPLED, "under-sampled: fewer samples than the protocol asks"),
                          (CAPPED, "PSNR at its cap: identical videos")):
        if mark in text:
            parts.append(f"{mark} {meaning}")
    return "; ".join(parts) + "."


def to_latex(table: Table) -> str:
    """A ``table`` float (booktabs) with a caption, a label (:func:`latex_label`) and the notes
    as comments."""
    spec = "".join("l" if c.kind == "text" else "r" for c in table.columns)
    lines = [r"\begin{table}[t]", r"\centering",
             r"\caption{" + _tex(latex_caption(table)) + "}",
             r"\label{" + latex_label(table.title) + "}",
             r"\begin{tabular}{" + spec + "}", r"\toprule",
             " & ".join(_tex(c.header) for c in table.columns) + r" \\", r"\midrule"]
    for row in table.rows:
        lines.append(" & ".join(_tex(format_cell(c, row)) for c in table.columns) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    lines += [f"% {n}" for n in table.notes]
    return "\n".join(lines) + "\n"


FORMATS = {"csv": to_csv, "md": to_markdown, "tex": to_latex}


#: panels per row of the quality-vs-latency plot, and one panel's size (inches at PLOT_DPI):
#: three panels are 1296 px wide, shown at about their size on a 1280 px page
PLOT_COLUMNS, PANEL_SIZE, PLOT_DPI = 3, (3.6, 3.0), 120


def write_plot(table: Table, path: Path) -> bool:
    """Quality vs per-video latency, one panel per metric, :data:`PLOT_COLUMNS` panels a row
    (PNG). Under-sampled values are drawn hollow. False if nothing to plot."""
    metric_cols = [c for c in table.columns if c.kind == "metric"]
    points = [r for r in table.rows if r.get("ms:per_video") is not None]
    if not metric_cols or not points:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = min(PLOT_COLUMNS, len(metric_cols))
    nrows = math.ceil(len(metric_cols) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows + 0.4))
    hollow_seen = False
    colors = plt.get_cmap("tab10").colors
    for i, ax in enumerate(axes.flat):
        if i >= len(metric_cols):
            ax.set_visible(False)
            continue
        col = metric_cols[i]
        for j, r in enumerate(points):
            if r.get(col.key) in (None, INCOMPLETE):
                continue
            x, y = r["ms:per_video"], r[col.key][0]
            hollow = col.key in r.get("_undersampled", {})
            hollow_seen |= hollow
            color = colors[j % len(colors)]
            ax.scatter([x], [y], s=24, facecolors="none" if hollow else color,
                       edgecolors=color)
            ax.annotate(r["model"], (x, y), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.margins(x=0.2, y=0.12)  # room for the model names
        ax.set_xlabel("per-video latency (ms)", fontsize=8)
        ax.set_title(col.header, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    title = table.title + (f" (hollow: under-sampled {UNDERSAMPLED})" if hollow_seen else "")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=PLOT_DPI)
    return True


def load_records(root: Path, timing: int | None = None) -> list[dict[str, Any]]:
    """One record per (run, model) under ``root``: the one of timing version ``timing``, or the
    newest (every version holds the same quality numbers; only ``speed`` differs)."""
    paths = find_records(root)
    if not paths:
        raise VdmbenchError(f"{root}: no result records found (expected */records/*.json)")
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    seen: set[tuple[str, str]] = set()
    for p in paths:
        rec = read_record(p)
        key, version = (rec["run_id"], rec["model"]["name"]), timing_version(rec)
        seen.add(key)
        if timing is not None and version != timing:
            continue
        if key not in chosen or version > timing_version(chosen[key]):
            chosen[key] = rec
    if timing is not None:
        missing = sorted(seen - set(chosen))
        if missing:
            raise VdmbenchError(f"{root}: no timing version {timing} for "
                                + ", ".join(f"{m} (run {r})" for r, m in missing))
    return sorted(chosen.values(), key=lambda r: (r["run_id"], r["model"].get("index", 0)))


def suite_title(records: Sequence[dict[str, Any]]) -> str:
    """The suite names the records belong to, in order of first appearance, joined by " + "."""
    return " + ".join(dict.fromkeys(str(r["suite"]["name"]) for r in records))


def write_leaderboards(root: Path, title: str | None = None, timing: int | None = None,
                       out_dir: Path | None = None) -> dict[str, Path]:
    """Build the table from the records under ``root`` (newest timing, or version ``timing``)
    and write leaderboard.{csv,md,tex}, the plot, and the trade-off views
    (:mod:`vdmbench.tradeoff`) into ``out_dir`` (default ``root``). ``title``: default the
    suite name(s) of the records (:func:`suite_title`)."""
    records = load_records(root, timing)
    if title is None:
        title = suite_title(records)
    table = build_table(records, title=title)
    dest = root if out_dir is None else out_dir
    out = {}
    for ext, fn in FORMATS.items():
        path = dest / LEADERBOARD_TABLES[ext]
        atomic_write_text(path, fn(table))
        out[ext] = path
    if write_plot(table, dest / LEADERBOARD_PLOT):
        out["png"] = dest / LEADERBOARD_PLOT
    from vdmbench.tradeoff import write_tradeoff  # Pareto plot + matched-speed table

    out.update(write_tradeoff(dest, records, title=title))
    return out
