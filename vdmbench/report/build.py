"""Build ``report/index.html`` for one run directory (see :mod:`vdmbench.report`).

Inputs: the run's ``run.json``, its ``suite.yaml`` copy, its records, the leaderboard plots in the
run directory, and the content-keyed video cache. The page and everything it shows are written to
a temporary folder next to ``report/`` and swapped in at the end, so a failed build leaves the old
report (or none), never half of one.
"""

from __future__ import annotations

import json
import math
import random
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from vdmbench.errors import VdmbenchError
from vdmbench.leaderboard import (
    INCOMPLETE,
    MISSING,
    NOISY,
    UNDERSAMPLED,
    Column,
    Table,
    build_table,
    format_cell,
    load_records,
)

REPORT_DIR = "report"
DEFAULT_SAMPLES = 8
#: a timing is marked noisy when its 90th percentile exceeds the median by more than this factor
NOISY_P90_RATIO = 1.2
#: plots the run directory may hold, in page order: file name → (title, caption). A plot another
#: part of vdmbench starts writing into the run directory becomes one more entry here; other PNGs
#: found there are shown after these, titled by file name.
RUN_PLOTS: dict[str, tuple[str, str]] = {
    "pareto.png": ("Quality vs latency: Pareto front",
                   "Models on the front are not beaten on both quality and latency."),
    "leaderboard.png": ("Quality vs per-video latency",
                        "One panel per metric; x: median per-video latency on the run's device; "
                        "hollow markers: under-sampled values."),
}


# --- what the template sees -------------------------------------------------------------------


@dataclass
class Cell:
    """One leaderboard cell: shown ``text`` (with its marks), ``sub`` shown on a second, smaller
    line (an interval or a spread), ``sort`` key ("" = missing, sorts last), CSS classes and a
    hover ``title``."""

    text: str
    sort: str = ""
    classes: list[str] = field(default_factory=list)
    title: str = ""
    sub: str = ""


_MARKS = ("*", NOISY, UNDERSAMPLED)


def split_cell_text(text: str) -> tuple[str, str]:
    """``"3.72 [3.01, 4.58]†"`` → ``("3.72†", "[3.01, 4.58]")``; ``"6.35 ± 0.96‡"`` →
    ``("6.35‡", "± 0.96")``: the value with its marks, and the interval or spread that the page
    shows on a line of its own (so columns stay narrow)."""
    for sep, keep in ((" [", "["), (" ± ", "± ")):
        if sep in text:
            main, rest = text.split(sep, 1)
            marks = ""
            while rest and rest[-1] in _MARKS:
                marks, rest = rest[-1] + marks, rest[:-1]
            return main + marks, keep + rest
    return text, ""


@dataclass
class Header:
    text: str
    numeric: bool
    title: str = ""


@dataclass
class Protocol:
    metric: str
    id: str
    version: str
    direction: str
    summary: str
    extractor: str


@dataclass
class Leaderboard:
    headers: list[Header]
    rows: list[list[Cell]]
    notes: list[str]
    protocols: list[Protocol]


@dataclass
class Clip:
    """One model's video for one request: relative paths (None when absent) and caption."""

    model: str
    mp4: str | None = None
    still: str | None = None
    caption: list[str] = field(default_factory=list)
    missing: str = ""


@dataclass
class SampleRow:
    request_id: str
    image: str | None
    prompt: str | None
    asked: str | None
    clips: list[Clip]


@dataclass
class SampleModel:
    name: str
    note: str


@dataclass
class Samples:
    models: list[SampleModel]
    rows: list[SampleRow]
    note: str
    unavailable: str = ""
    fps: float = 0.0


@dataclass
class Plot:
    title: str
    file: str
    caption: str


# --- leaderboard --------------------------------------------------------------------------------


def _numeric_sort(col: Column, v: Any) -> str:
    if v is None or v == INCOMPLETE:
        return ""
    x = v[0] if col.kind == "metric" else v
    if not isinstance(x, (int, float)) or isinstance(x, bool) or math.isnan(x):
        return ""
    return repr(float(x))


def _metric_title(m: dict[str, Any]) -> str:
    parts = [f"n = {m.get('n')}"] if m.get("n") is not None else []
    ci = m.get("ci")
    if ci:
        parts.append(f"95% CI [{ci[0]:.4g}, {ci[1]:.4g}]")
    return "; ".join(parts)


def _timing_title(t: dict[str, Any]) -> tuple[str, bool]:
    """Hover text of one timing and whether it is noisy (p90 > NOISY_P90_RATIO × median)."""
    med, p90 = t.get("median_s"), t.get("p90_s")
    parts = [f"median {med * 1e3:.3f} ms"] if med is not None else []
    if p90 is not None:
        parts.append(f"p90 {p90 * 1e3:.3f} ms")
    if t.get("count") is not None:
        parts.append(f"{t['count']} runs")
    if not t.get("valid", True):
        parts.append(f"not valid: {t.get('reason', 'below its minimums')}")
    noisy = bool(med and p90 and p90 > NOISY_P90_RATIO * med)
    if noisy:
        parts.append(f"noisy: p90 > {NOISY_P90_RATIO} × median")
    return ", ".join(parts), noisy


def _protocols(records: list[dict[str, Any]]) -> list[Protocol]:
    out: dict[str, Protocol] = {}
    for rec in records:
        for name, m in rec.get("metrics", {}).items():
            if name in out:
                continue
            p = m.get("protocol") or {}
            pre = p.get("preprocessing") or {}
            ext = p.get("extractor") or {}
            summary = pre.get("summary") if isinstance(pre, dict) else ""
            if not summary and isinstance(pre, dict):
                summary = "; ".join(f"{k}: {v}" for k, v in pre.items() if v not in ("", None))
            extractor = ""
            if isinstance(ext, dict) and ext:
                extractor = f"{ext.get('name', '')} (weights sha256 " \
                            f"{str(ext.get('weights_sha256', ''))[:12]}…)"
            out[name] = Protocol(metric=name, id=str(p.get("id", name)),
                                 version=str(m.get("version", p.get("version", ""))),
                                 direction="higher is better" if m.get("higher_is_better")
                                 else "lower is better",
                                 summary=str(summary or ""), extractor=extractor)
    return list(out.values())


def leaderboard_view(records: list[dict[str, Any]], table: Table,
                     missing_models: list[str]) -> Leaderboard:
    """The sortable leaderboard: the rows of ``table`` (one per record, same order) plus an
    all-"—" row per model of the suite that has no record."""
    protocols = {p.metric: p for p in _protocols(records)}
    headers = []
    for c in table.columns:
        title = ""
        if c.kind == "metric":
            p = protocols[c.key.split(":", 1)[1]]
            title = f"protocol {p.id} (version {p.version}); {p.direction}"
        elif c.key == "speedup":
            title = "reference per-video time / this model's (same run, same device)"
        elif c.key == "step_speedup":
            title = "reference denoising-step time / this model's"
        elif c.kind == "ms":
            title = "median; hover a cell for p90 and run count"
        headers.append(Header(text=c.header, numeric=c.kind != "text" or c.key == "steps",
                              title=title))
    rows: list[list[Cell]] = []
    noisy_seen = False
    for rec, row in zip(records, table.rows):
        cells = []
        speed = rec.get("speed") or {}
        for c in table.columns:
            text, sub = split_cell_text(format_cell(c, row))
            raw = row.get(c.key)
            cell = Cell(text=text, sub=sub, sort=_numeric_sort(c, raw) if c.kind != "text" or
                        c.key == "steps" else str(raw or ""))
            if text == MISSING:
                cell.classes.append("missing")
            if c.kind == "metric" and row.get(c.key) not in (None, INCOMPLETE):
                cell.title = _metric_title(rec["metrics"][c.key.split(":", 1)[1]])
            if c.key in row.get("_undersampled", {}):
                cell.classes.append("undersampled")
                cell.title += (f"; under-sampled: computed on "
                               f"{row['_undersampled'][c.key]}").lstrip("; ")
            if c.kind == "ms" and row.get(c.key) is not None:
                name = c.key.split(":", 1)[1]
                t = speed.get("per_video") if name == "per_video" else \
                    speed.get("components", {}).get(name)
                if t:
                    cell.title, noisy = _timing_title(t)
                    if noisy:
                        cell.classes.append("noisy")
                        noisy_seen = True
                if c.key in row.get("_invalid", ()):
                    cell.classes.append("invalid")
            cells.append(cell)
        rows.append(cells)
    for name in missing_models:
        cells = [Cell(text=name, sort=name, classes=["no-record"],
                      title="no record: this model was not run, or its run did not finish")]
        cells += [Cell(text=MISSING, classes=["missing"]) for _ in table.columns[1:]]
        rows.append(cells)
    notes = list(table.notes)
    if noisy_seen:
        notes.append(f"~ noisy timing: its 90th percentile is more than {NOISY_P90_RATIO}× "
                     f"its median")
    if missing_models:
        notes.append(f"{MISSING} missing value; no record for: {', '.join(missing_models)}")
    return Leaderboard(headers=headers, rows=rows, notes=notes,
                       protocols=list(protocols.values()))


# --- samples ------------------------------------------------------------------------------------


def choose_samples(n: int, k: int, seed: int) -> list[int]:
    """``min(k, n)`` request indices out of ``n``, sorted, chosen by ``seed`` (same for every
    model and every rebuild)."""
    return sorted(random.Random(f"vdmbench-report|{seed}").sample(range(n), min(k, n)))


def _fmt_db(v: float) -> str:
    return "identical (PSNR ∞)" if math.isinf(v) else f"PSNR {v:.1f} dB"


def _motion_predictor(resolved: Any) -> Any | None:
    """The suite's ``motion_acc_synth`` motion net (its weights option), or None if the suite
    does not measure motion accuracy."""
    if "motion_acc_synth" not in resolved.metric_options:
        return None
    from vdmbench.catalog import METRICS
    from vdmbench.metrics.base import MetricContext

    cls = METRICS.get("motion_acc_synth")
    with tempfile.TemporaryDirectory() as tmp:
        metric = cls(resolved.metric_options["motion_acc_synth"],
                     MetricContext(device="cpu", cache_dir=Path(tmp)))
        return metric.extractor


def sample_grid(run_meta: dict[str, Any], resolved: Any,
                records: dict[str, dict[str, Any]], speedups: dict[str, float | None],
                k: int, video_cache: Path, out_dir: Path,
                requests: list[Any] | None = None) -> Samples:
    """Encode the K chosen requests' videos of every model into ``out_dir/media``.

    ``requests``: the run's requests (limit applied) when the caller has them; otherwise they are
    rebuilt from the suite's dataset."""
    from vdmbench.cache import VideoCache, video_key
    from vdmbench.catalog import DATASETS
    from vdmbench.metrics.fidelity import psnr_video
    from vdmbench.report.media import display_frames, encode_mp4, write_png

    suite = resolved.suite
    teacher = suite.teacher
    names = sorted((m.name for m in suite.models), key=lambda n: n != teacher)
    models = []
    for n in names:
        s = speedups.get(n)
        note = "no record" if n not in records else (
            "speed-up —" if s is None else f"{s:.2f}× speed-up")
        if n == teacher:
            note += " · teacher"
        models.append(SampleModel(name=n, note=note))
    if k == 0:
        return Samples(models=models, rows=[], note="", unavailable="no samples asked for "
                       "(--samples 0)")
    if requests is None:
        try:
            requests = DATASETS.get(suite.dataset.name)(suite.dataset).requests()
        except VdmbenchError as e:
            return Samples(models=models, rows=[], note="",
                           unavailable=f"the dataset's requests could not be rebuilt: {e}")
        limit = run_meta.get("limit")
        if limit is not None:
            requests = requests[:limit]
    if len(requests) != run_meta.get("n_requests"):
        return Samples(models=models, rows=[], note="", unavailable=(
            f"the dataset now gives {len(requests)} requests, the run had "
            f"{run_meta.get('n_requests')}"))
    import hashlib

    seeds_hash = hashlib.sha256(",".join(str(r.seed) for r in requests).encode()).hexdigest()
    for rec in records.values():
        if rec.get("seeds", {}).get("request_seeds_sha256") not in (None, seeds_hash):
            return Samples(models=models, rows=[], note="", unavailable=(
                "the dataset's request seeds differ from the run's (records' "
                "request_seeds_sha256); its videos cannot be matched"))
    chosen = choose_samples(len(requests), k, suite.dataset.seed)
    cache = VideoCache(video_cache)
    media = out_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    # load videos: videos[model][row] (None when not cached)
    videos: dict[str, list[Any]] = {}
    for n in names:
        rec = records.get(n)
        keys = [video_key(rec["model"]["cache_key"], requests[i]) if rec else None
                for i in chosen]
        videos[n] = [cache.get(key) if key and cache.has(key) else None for key in keys]
    predicted = _predict_motion(resolved, [requests[i] for i in chosen], videos)
    from vdmbench.data.synthmotion import MOTION_CLASSES

    rows: list[SampleRow] = []
    fps = 0.0
    for r_i, i in enumerate(chosen):
        req = requests[i]
        image = None
        if req.image is not None and suite.task == "i2v":  # a T2V model sees the prompt only
            image = f"media/r{r_i:02d}-input.png"
            write_png(display_frames(req.image.unsqueeze(0))[0], out_dir / image)
        asked_c = (req.extra or {}).get("motion_class")
        asked = MOTION_CLASSES[asked_c] if isinstance(asked_c, int) and \
            0 <= asked_c < len(MOTION_CLASSES) else None
        teacher_video = videos.get(teacher, [None] * len(chosen))[r_i] if teacher else None
        clips = []
        for m_i, n in enumerate(names):
            v = videos[n][r_i]
            if v is None:
                why = "no record" if n not in records else "not in the video cache"
                clips.append(Clip(model=n, missing=why))
                continue
            frames = display_frames(v.frames)
            base = f"media/r{r_i:02d}-m{m_i:02d}"
            encode_mp4(frames, v.fps, out_dir / f"{base}.mp4")
            write_png(frames[0], out_dir / f"{base}.png")
            fps = fps or v.fps
            caption = []
            if n != teacher and teacher_video is not None:
                caption.append(_fmt_db(psnr_video(v.frames, teacher_video.frames,
                                                  f"request {req.id}")))
            pred = predicted.get(n, [None] * len(chosen))[r_i]
            if pred is not None:
                ok = asked is not None and MOTION_CLASSES[pred] == asked
                caption.append(f"motion {MOTION_CLASSES[pred]} {'✓' if ok else '✗'}")
            clips.append(Clip(model=n, mp4=f"{base}.mp4", still=f"{base}.png",
                              caption=caption))
        rows.append(SampleRow(request_id=req.id, image=image, prompt=req.prompt, asked=asked,
                              clips=clips))
    note = (f"{len(chosen)} of {len(requests)} requests, chosen with seed "
            f"{suite.dataset.seed}; the same requests for every model.")
    if teacher:
        note += f" PSNR is to {teacher}'s video for the same request and seed."
    n_lost = sum(c.missing == "not in the video cache" for row in rows for c in row.clips)
    if n_lost:
        note += (f" {n_lost} videos were not found in the video cache {video_cache} (give "
                 f"the run's cache with --cache-dir).")
    if any(predicted.values()):
        note += (" Motion: the class the suite's motion net (motion_acc_synth) predicts; "
                 "✓ when it is the class asked for.")
    return Samples(models=models, rows=rows, note=note, fps=fps)


def _predict_motion(resolved: Any, requests: list[Any], videos: dict[str, list[Any]]
                    ) -> dict[str, list[int | None]]:
    """Motion class index per model and row, for requests that ask for one (SynthMotion) when
    the suite measures ``motion_acc_synth``; empty otherwise."""
    if not any(isinstance((r.extra or {}).get("motion_class"), int) for r in requests):
        return {}
    net = _motion_predictor(resolved)
    if net is None:
        return {}
    from vdmbench.video import stack_videos

    out: dict[str, list[int | None]] = {}
    for name, vs in videos.items():
        have = [j for j, v in enumerate(vs) if v is not None]
        preds: list[int | None] = [None] * len(vs)
        groups: dict[tuple[int, ...], list[int]] = {}
        for j in have:
            groups.setdefault(tuple(vs[j].frames.shape), []).append(j)
        for idx in groups.values():
            p = net.probs(stack_videos([vs[j] for j in idx])).argmax(dim=1).tolist()
            for j, c in zip(idx, p):
                preds[j] = int(c)
        out[name] = preds
    return out


# --- plots and provenance -----------------------------------------------------------------------


def _plots(run_dir: Path, records: list[dict[str, Any]], out_dir: Path, title: str,
           analysis: Path | None) -> list[Plot]:
    from vdmbench.report.media import latency_bars

    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    plots: list[Plot] = []
    known = [p for p in RUN_PLOTS if (run_dir / p).is_file()]
    others = sorted(p.name for p in run_dir.glob("*.png") if p.name not in RUN_PLOTS)
    for name in known + others:
        shutil.copyfile(run_dir / name, plots_dir / name)
        t, cap = RUN_PLOTS.get(name, (Path(name).stem.replace("_", " "), ""))
        plots.append(Plot(title=t, file=f"plots/{name}", caption=cap))
    bars = []
    for rec in records:
        sp = rec.get("speed")
        if not sp:
            continue
        bars.append({"model": rec["model"]["name"], "steps": sp.get("steps") or 1,
                     "components": {c: (t["median_s"], bool(t.get("valid")))
                                    for c, t in sp.get("components", {}).items()},
                     "per_video": None if sp.get("per_video") is None else
                     (sp["per_video"]["median_s"], bool(sp["per_video"].get("valid")))})
    if latency_bars(bars, plots_dir / "latency.png", title=title):
        plots.append(Plot(title="Latency per component",
                          file="plots/latency.png",
                          caption="One video at batch 1 on the run's device. Bars: each "
                                  "component's median time, timed call by call (denoise: one "
                                  "step at the first noise level, × steps) — an estimate of "
                                  "where the time goes. Black tick: the whole video, measured "
                                  "(the per-video latency of the leaderboard). The two need "
                                  "not agree: a step timed on its own does not run as it does "
                                  "inside the sampling loop; each bar's label gives their "
                                  "ratio."))
    if analysis is not None:
        png = analysis / "analysis.png" if analysis.is_dir() else analysis
        if not png.is_file() or png.suffix.lower() != ".png":
            raise VdmbenchError(f"--analysis {analysis}: expected a `vdmbench analyze` output "
                                f"folder (with analysis.png) or a PNG file")
        shutil.copyfile(png, plots_dir / "analysis.png")
        plots.append(Plot(title="Block sensitivity analysis", file="plots/analysis.png",
                          caption=f"from {analysis}"))
    return plots


def _distinct(values: list[Any]) -> str:
    seen = [str(v) for v in dict.fromkeys(values) if v not in (None, "")]
    return " / ".join(seen) if seen else MISSING


def _provenance(run_dir: Path, run_meta: dict[str, Any], resolved: Any,
                records: list[dict[str, Any]], out_root: Path) -> list[tuple[str, str]]:
    import av

    envs = [r.get("environment") or {} for r in records]
    created = sorted(r.get("created", "") for r in records if r.get("created"))
    suite = resolved.suite
    cmd = ["vdmbench", "run", str(run_meta.get("suite_path", "SUITE")), "--out", str(out_root)]
    if run_meta.get("limit") is not None:
        cmd += ["--limit", str(run_meta["limit"])]
    if run_meta.get("device", "cpu") != "cpu":
        cmd += ["--device", str(run_meta["device"])]
    if suite.speed.enabled and records and not any(r.get("speed") for r in records):
        cmd.append("--no-timing")  # the suite times, the run did not
    ds = suite.dataset
    versions = ", ".join(f"{k} {_distinct([e.get(k) for e in envs])}" for k in
                         ("python", "torch", "diffusers", "numpy", "scipy", "triton", "vdmbench"))
    return [
        ("suite", f"{suite.name} ({suite.task}): {suite.description or ''}".strip()),
        ("suite file", f"{run_meta.get('suite_path', MISSING)} (copy: suite.yaml), "
                       f"sha256 {run_meta.get('suite_hash', MISSING)}"),
        ("run", f"{run_meta.get('run_id', run_dir.name)} in {run_dir}"),
        ("dataset", f"{ds.name} {ds.split}, {run_meta.get('n_requests')} requests of "
                    f"{ds.frames} frames at {ds.height}×{ds.width}, seed {ds.seed}; manifest "
                    f"{str(run_meta.get('dataset_manifest', ''))[:16]}…"),
        ("git commit", _distinct([r.get("git_commit") for r in records])),
        ("versions", versions + f"; PyAV {av.__version__} (report videos)"),
        ("device", str(run_meta.get("device", MISSING)) + (
            f"; {_distinct([e.get('gpu') for e in envs])}, driver "
            f"{_distinct([e.get('driver') for e in envs])}"
            if any(e.get("gpu") for e in envs) else "")),
        ("machine", f"{_distinct([e.get('platform') for e in envs])}, "
                    f"{_distinct([e.get('processor') for e in envs])}, "
                    f"{_distinct([e.get('cpu_threads') for e in envs])} CPU threads"),
        ("dates", f"run started {run_meta.get('started', MISSING)}; records "
                  f"{created[0] if created else MISSING} – {created[-1] if created else MISSING};"
                  f" report built {datetime.now(timezone.utc).isoformat(timespec='seconds')}"),
        ("command", shlex.join(cmd)),
        ("rebuild this page", shlex.join(["vdmbench", "report", str(run_dir)])),
    ]


# --- the page -----------------------------------------------------------------------------------


def render(context: dict[str, Any]) -> str:
    """Render the page template with ``context`` (Jinja2, autoescaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("vdmbench.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["breakable"] = _breakable
    return env.get_template("index.html.j2").render(**context)


def _breakable(text: str) -> Any:
    """Escaped ``text`` with a line-break opportunity (``<wbr>``) after each underscore, so long
    metric names wrap there and not inside words."""
    from markupsafe import Markup, escape

    return Markup("_<wbr>").join(escape(part) for part in str(text).split("_"))


def default_video_cache(run_dir: Path, output: str) -> Path:
    """Where ``vdmbench run --out OUT`` (without ``--cache-dir``) keeps videos for ``run_dir``
    = ``OUT/<output>/<run-id>``: ``OUT/.cache/videos``."""
    return _out_root(run_dir, output) / ".cache" / "videos"


def _out_root(run_dir: Path, output: str) -> Path:
    depth = len(PurePosixPath(output).parts)
    parents = run_dir.resolve().parents
    return parents[depth] if depth < len(parents) else parents[-1]


def build_report(run_dir: str | Path, samples: int = DEFAULT_SAMPLES,
                 video_cache: str | Path | None = None, analysis: str | Path | None = None,
                 requests: list[Any] | None = None) -> Path:
    """Write ``RUN_DIR/report/index.html`` (with its media) and return its path.

    ``samples``: K requests in the side-by-side grid (0: none). ``video_cache``: the folder of
    cached videos (default: where ``vdmbench run`` keeps them, ``OUT/.cache/videos``).
    ``analysis``: a ``vdmbench analyze`` output folder (or PNG) whose plot is shown too.
    ``requests``: the run's requests (``vdmbench run`` passes them; otherwise they are rebuilt
    from the suite's dataset and checked against the records' request seeds).
    """
    from vdmbench.resolve import resolve_suite

    run_dir = Path(run_dir)
    if samples < 0:
        raise VdmbenchError(f"--samples must be >= 0, got {samples}")
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise VdmbenchError(f"{run_dir}: not a run directory (no run.json); give the folder "
                            f"`vdmbench run` printed")
    try:
        run_meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise VdmbenchError(f"{meta_path}: not readable ({e})") from None
    suite_copy = run_dir / "suite.yaml"
    if not suite_copy.is_file():
        raise VdmbenchError(f"{run_dir}: the run's copy of its suite (suite.yaml) is missing")
    resolved = resolve_suite(suite_copy)
    suite = resolved.suite
    records = load_records(run_dir)
    table = build_table(records, title=suite.name)
    by_name = {r["model"]["name"]: r for r in records}
    missing = [m.name for m in suite.models if m.name not in by_name]
    board = leaderboard_view(records, table, missing)
    speedups = {r["model"]["name"]: row.get("speedup") for r, row in zip(records, table.rows)}
    output = suite.output or suite.name
    cache = Path(video_cache) if video_cache is not None else default_video_cache(run_dir, output)

    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".{REPORT_DIR}."))
    try:
        grid = sample_grid(run_meta, resolved, by_name, speedups, samples, cache, tmp,
                           requests)
        plots = _plots(run_dir, records, tmp, suite.name,
                       Path(analysis) if analysis is not None else None)
        shutil.copyfile(suite_copy, tmp / "suite.yaml")
        html = render({
            "title": f"{suite.name} · {run_meta.get('run_id', run_dir.name)}",
            "suite": suite, "run": run_meta, "leaderboard": board, "samples": grid,
            "plots": plots, "provenance": _provenance(run_dir, run_meta, resolved, records,
                                                      _out_root(run_dir, output)),
        })
        (tmp / "index.html").write_text(html, encoding="utf-8")
        tmp.chmod(0o755)
        _swap_in(tmp, run_dir / REPORT_DIR)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir / REPORT_DIR / "index.html"


def _swap_in(new: Path, target: Path) -> None:
    """Replace the folder ``target`` by ``new`` (rename; the old one is removed after)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
        target.rename(old)  # onto the empty folder just made (POSIX rename)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
