"""Build ``report/index.html`` for one run directory (see :mod:`vdmbench.report`).

Inputs: what the run wrote (vdmbench/layout.py) — its ``run.json``, its ``suite.yaml`` copy (read,
never resolved again: no registry lookups of models or datasets, no environment checks, so a
report rebuilds on a machine without the suite's environment variables), its request list
``requests.json``, its records and the leaderboard plots in the run directory — and the
content-keyed video cache (generated videos and conditioning images). Captions that belong to a
metric (the synthetic motion class) come from that metric (``Metric.sample_captions``). The page
and everything it shows are written to a temporary folder next to ``report/`` and swapped in at
the end, so a failed build leaves the old report (or none), never half of one.
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
from pathlib import Path
from typing import Any

from vdmbench.errors import VdmbenchError
from vdmbench.layout import LEADERBOARD_PLOT, PARETO_PLOT, REPORT_DIR, CacheLayout, RunLayout
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

DEFAULT_SAMPLES = 8
#: a timing is marked noisy when its 90th percentile exceeds the median by more than this factor
NOISY_P90_RATIO = 1.2
#: plots the run directory may hold, in page order: file name → (title, caption). A plot another
#: part of vdmbench starts writing into the run directory becomes one more entry here; other PNGs
#: found there are shown after these, titled by file name.
RUN_PLOTS: dict[str, tuple[str, str]] = {
    PARETO_PLOT: ("Quality vs latency: Pareto front",
                  "Models on the front are not beaten on both quality and latency."),
    LEADERBOARD_PLOT: ("Quality vs per-video latency",
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


@dataclass(frozen=True)
class RunRequest:
    """One request as the run recorded it (``requests.json``): its fields, its conditioning
    image from the video cache (None for text-to-video, or when the cache lost it) and the
    content hash that keys its videos."""

    id: str
    seed: int
    prompt: str | None
    extra: dict[str, Any]
    image: Any
    content_hash: str


def _read_json(path: Path, missing: str) -> Any:
    """The JSON file ``path`` the run wrote; ``missing``: what to say when it is not there."""
    if not path.is_file():
        raise VdmbenchError(missing)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise VdmbenchError(f"{path}: not readable ({e})") from None


def read_requests(layout: RunLayout, inputs: Any) -> list[RunRequest]:
    """The run's requests (``requests.json``), conditioning images from ``inputs`` (a
    :class:`~vdmbench.cache.VideoCache` of the cache's ``inputs/``)."""
    data = _read_json(layout.requests_json, f"{layout.run_dir}: the run wrote no request list "
                      f"(requests.json); run the suite again with this version of vdmbench")
    out = []
    for d in data:
        sha = d.get("image_sha256")
        image = None
        if sha is not None and inputs.has(sha):
            image = inputs.get(sha).frames[0]
        out.append(RunRequest(id=str(d["id"]), seed=int(d["seed"]), prompt=d.get("prompt"),
                              extra=d.get("extra") or {}, image=image,
                              content_hash=str(d["content_hash"])))
    return out


def _captioning_metrics(suite: Any) -> list[Any]:
    """Instances of the suite's metrics whose class captions report samples
    (``Metric.sample_captions`` overridden), built from the suite copy's options."""
    from vdmbench.catalog import METRICS
    from vdmbench.metrics.base import Metric, MetricContext

    out = []
    for spec in suite.metrics:
        if spec.name not in METRICS:
            continue
        cls = METRICS.get(spec.name)
        if cls.sample_captions is Metric.sample_captions:
            continue
        options = cls.Options.model_validate(spec.options)
        with tempfile.TemporaryDirectory() as tmp:
            out.append(cls(options, MetricContext(device="cpu", cache_dir=Path(tmp))))
    return out


def sample_grid(run_meta: dict[str, Any], suite: Any,
                records: dict[str, dict[str, Any]], speedups: dict[str, float | None],
                k: int, caches: CacheLayout, out_dir: Path, layout: RunLayout) -> Samples:
    """Encode the K chosen requests' videos of every model into ``out_dir/media``; the requests
    are the run's (``requests.json``), the suite is the run's copy (not resolved)."""
    from vdmbench.cache import VideoCache, video_key
    from vdmbench.generation import request_seeds_sha256
    from vdmbench.metrics.fidelity import psnr_video
    from vdmbench.report.media import display_frames, encode_mp4, write_png

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
    video_cache = caches.videos
    cache = VideoCache(video_cache)
    try:
        requests = read_requests(layout, VideoCache(caches.inputs))
    except VdmbenchError as e:
        return Samples(models=models, rows=[], note="", unavailable=str(e))
    if len(requests) != run_meta.get("n_requests"):
        return Samples(models=models, rows=[], note="", unavailable=(
            f"the dataset now gives {len(requests)} requests, the run had "
            f"{run_meta.get('n_requests')}"))
    seeds_hash = request_seeds_sha256(requests)  # type: ignore[arg-type]
    for rec in records.values():
        if rec.get("seeds", {}).get("request_seeds_sha256") not in (None, seeds_hash):
            return Samples(models=models, rows=[], note="", unavailable=(
                "the dataset's request seeds differ from the run's (records' "
                "request_seeds_sha256); its videos cannot be matched"))
    chosen = choose_samples(len(requests), k, suite.dataset.seed)
    rows_req = [requests[i] for i in chosen]
    media = out_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    # load videos: videos[model][row] (None when not cached)
    videos: dict[str, list[Any]] = {}
    for n in names:
        rec = records.get(n)
        keys = [video_key(rec["model"]["cache_key"], r.content_hash) if rec else None
                for r in rows_req]
        videos[n] = [cache.get(key) if key and cache.has(key) else None for key in keys]
    captioners = _captioning_metrics(suite)
    captions: dict[str, list[list[str]]] = {}
    for n in names:
        captions[n] = [[] for _ in chosen]
        have = [j for j, v in enumerate(videos[n]) if v is not None]
        for metric in captioners:
            got = metric.sample_captions([videos[n][j] for j in have], [rows_req[j] for j in have])
            for j, c in zip(have, got, strict=True):
                if c is not None:
                    captions[n][j].append(c)

    rows: list[SampleRow] = []
    fps = 0.0
    for r_i, req in enumerate(rows_req):
        image = None
        if req.image is not None and suite.task == "i2v":  # a T2V model sees the prompt only
            image = f"media/r{r_i:02d}-input.png"
            write_png(display_frames(req.image.unsqueeze(0))[0], out_dir / image)
        labels = [lab for m in captioners if (lab := type(m).sample_label(req))]
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
            caption += captions[n][r_i]
            clips.append(Clip(model=n, mp4=f"{base}.mp4", still=f"{base}.png",
                              caption=caption))
        rows.append(SampleRow(request_id=req.id, image=image, prompt=req.prompt,
                              asked="; ".join(labels) or None, clips=clips))
    note = (f"{len(chosen)} of {len(requests)} requests, chosen with seed "
            f"{suite.dataset.seed}; the same requests for every model.")
    if teacher:
        note += f" PSNR is to {teacher}'s video for the same request and seed."
    n_lost = sum(c.missing == "not in the video cache" for row in rows for c in row.clips)
    if n_lost:
        note += (f" {n_lost} videos were not found in the video cache {video_cache} (give "
                 f"the run's cache with --cache-dir).")
    for metric in captioners:
        if type(metric).sample_note and any(c for n in names for c in captions[n]):
            note += " " + type(metric).sample_note
    return Samples(models=models, rows=rows, note=note, fps=fps)


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


def _provenance(run_dir: Path, run_meta: dict[str, Any], suite: Any,
                records: list[dict[str, Any]], out_root: Path) -> list[tuple[str, str]]:
    import av

    envs = [r.get("environment") or {} for r in records]
    created = sorted(r.get("created", "") for r in records if r.get("created"))
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


def build_report(run_dir: str | Path, samples: int = DEFAULT_SAMPLES,
                 cache_dir: str | Path | None = None, analysis: str | Path | None = None
                 ) -> Path:
    """Write ``RUN_DIR/report/index.html`` (with its media) and return its path.

    ``samples``: K requests in the side-by-side grid (0: none). ``cache_dir``: the run's cache
    root, as given to ``vdmbench run --cache-dir`` (default: where ``vdmbench run`` keeps it,
    ``OUT/.cache``).
    ``analysis``: a ``vdmbench analyze`` output folder (or PNG) whose plot is shown too.
    Everything else is what the run wrote (module docstring).
    """
    from vdmbench.suite import load_suite

    layout = RunLayout(Path(run_dir))
    run_dir = layout.run_dir
    if samples < 0:
        raise VdmbenchError(f"--samples must be >= 0, got {samples}")
    run_meta = _read_json(layout.run_json, f"{run_dir}: not a run directory (no run.json); "
                          f"give the folder `vdmbench run` printed")
    suite_copy = layout.suite_copy
    if not suite_copy.is_file():
        raise VdmbenchError(f"{run_dir}: the run's copy of its suite (suite.yaml) is missing")
    suite, _ = load_suite(suite_copy)
    records = load_records(run_dir)
    table = build_table(records, title=suite.name)
    by_name = {r["model"]["name"]: r for r in records}
    missing = [m.name for m in suite.models if m.name not in by_name]
    board = leaderboard_view(records, table, missing)
    speedups = {r["model"]["name"]: row.get("speedup") for r, row in zip(records, table.rows)}
    output = suite.output or suite.name
    caches = CacheLayout(Path(cache_dir)) if cache_dir is not None else \
        layout.default_cache(output)

    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".{REPORT_DIR}."))
    try:
        grid = sample_grid(run_meta, suite, by_name, speedups, samples, caches, tmp, layout)
        plots = _plots(run_dir, records, tmp, suite.name,
                       Path(analysis) if analysis is not None else None)
        shutil.copyfile(suite_copy, tmp / "suite.yaml")
        html = render({
            "title": f"{suite.name} · {run_meta.get('run_id', run_dir.name)}",
            "suite": suite, "run": run_meta, "leaderboard": board, "samples": grid,
            "plots": plots, "provenance": _provenance(run_dir, run_meta, suite, records,
                                                      layout.out_root(output)),
        })
        (tmp / "index.html").write_text(html, encoding="utf-8")
        tmp.chmod(0o755)
        _swap_in(tmp, layout.report)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return layout.report / "index.html"


def _swap_in(new: Path, target: Path) -> None:
    """Replace the folder ``target`` by ``new`` (rename; the old one is removed after)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
        target.rename(old)  # onto the empty folder just made (POSIX rename)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
