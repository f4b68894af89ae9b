"""The report page: contents, escaping, missing records and values, rebuilds, bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_test_utils import quick_suite, read_page, run_cli, run_dir_of

from vdmbench import testing
from vdmbench.cli import main
from vdmbench.leaderboard import MISSING, load_records
from vdmbench.report import build_report, choose_samples


def test_run_writes_a_self_contained_report(harness_run: Path) -> None:
    index = harness_run / "report" / "index.html"
    page = read_page(index)
    records = load_records(harness_run)
    # every model and metric of the run
    assert [r[0] for r in page.rows] == [r["model"]["name"] for r in records]
    metrics = {m for r in records for m in r["metrics"]}
    assert metrics == {"mean_abs_diff_to_teacher"}
    assert "mean_abs_diff_to_teacher ↓" in page.headers
    md_header = next(line for line in (harness_run / "leaderboard.md").read_text().splitlines()
                     if line.startswith("| model"))
    assert page.headers == [h.strip() for h in md_header.strip("|").split("|")]
    # 6 requests (K = 8 asked) × 2 models, each an MP4 with a PNG still
    assert len(page.videos) == 6 * 2
    for v in page.videos:
        assert v["poster"].endswith(".png") and "loop" in v and "muted" in v
    # relative paths only, every one present inside report/; no network
    for link in page.links:
        if link.startswith("#"):
            continue
        assert "://" not in link and not link.startswith("/"), link
        assert (index.parent / link).is_file(), link
    mp4s = list((index.parent / "media").glob("*.mp4"))
    assert len(mp4s) == 12 and all(p.read_bytes()[4:8] == b"ftyp" for p in mp4s)
    assert (index.parent / "plots" / "leaderboard.png").is_file()
    assert (index.parent / "plots" / "latency.png").is_file()
    assert page.scripts == 1  # our inline script, nothing loaded from elsewhere
    text = index.read_text(encoding="utf-8")
    for key in ("git commit", "versions", "device", "dates", "command", "suite file"):
        assert f"<dt>{key}</dt>" in text
    assert "vdmbench run " in text


def test_report_command_rebuilds_with_k_samples(harness_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "out" / "harness-test" / harness_run.name
    shutil.copytree(harness_run.parent.parent, tmp_path / "out")  # run dir + its video cache
    out = run_cli("report", str(run), "--samples", "2")
    assert out.strip() == f"report: {run / 'report' / 'index.html'}"
    page = read_page(run / "report" / "index.html")
    assert len(page.videos) == 2 * 2
    chosen = choose_samples(6, 2, seed=3)
    assert chosen == choose_samples(6, 2, seed=3) and len(set(chosen)) == 2
    text = (run / "report" / "index.html").read_text()
    for i in chosen:  # the same requests for both models
        assert text.count(f"<code>pattern-test-{i:05d}</code>") == 1
    assert "2 of 6 requests, chosen with seed 3" in text
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary folders


def test_missing_record_and_invalid_timing(harness_run: Path, tmp_path: Path) -> None:
    shutil.copytree(harness_run.parent.parent, tmp_path / "out")
    run = tmp_path / "out" / "harness-test" / harness_run.name
    (run / "records" / "student.json").unlink()
    teacher = run / "records" / "teacher.json"
    rec = json.loads(teacher.read_text())
    rec["speed"]["per_video"]["valid"] = False
    rec["speed"]["per_video"]["reason"] = "only 1 of 3 iterations"
    teacher.write_text(json.dumps(rec))
    page = read_page(build_report(run, samples=2))
    assert [r[0] for r in page.rows] == ["teacher", "student"]
    student = page.rows[1]
    assert student[1:] == [MISSING] * (len(page.headers) - 1)
    per_video = page.headers.index("per video (ms)")
    assert "*" in page.rows[0][per_video]
    assert "invalid" in page.cell_classes[0][per_video]
    assert page.rows[0][page.headers.index("speed-up (×)")] == MISSING  # invalid: no ratio
    text = (run / "report" / "index.html").read_text()
    assert "no record for: student" in text
    assert len(page.videos) == 2  # the teacher's; the student's cells say why they are empty
    assert text.count("no record</span>") == 3  # column head + 2 cells


def test_text_is_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = "<script>alert('x')</script>"
    original = testing.TestPatternDataset.requests

    def requests(self: testing.TestPatternDataset) -> list:
        return [dataclasses.replace(r, prompt=f"{evil} & {r.prompt}") for r in original(self)]

    monkeypatch.setattr(testing.TestPatternDataset, "requests", requests)
    suite = quick_suite(tmp_path, description=f"squares {evil}")
    run_cli("run", str(suite), "--out", str(tmp_path / "out"), "--limit", "2", "--quiet")
    index = run_dir_of(tmp_path / "out", "harness-test") / "report" / "index.html"
    text = index.read_text(encoding="utf-8")
    assert evil not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; moving square 0" in text
    assert f"squares {evil}".replace("<", "&lt;").replace(">", "&gt;").replace(
        "'", "&#39;") in text
    assert read_page(index).scripts == 1


def test_failed_build_keeps_the_old_report(harness_run: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(harness_run.parent.parent, tmp_path / "out")
    run = tmp_path / "out" / "harness-test" / harness_run.name
    before = (run / "report" / "index.html").read_bytes()

    def broken(context: dict) -> str:
        raise RuntimeError("template failure")

    monkeypatch.setattr("vdmbench.report.build.render", broken)
    with pytest.raises(RuntimeError):
        build_report(run, samples=1)
    assert (run / "report" / "index.html").read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def test_videos_missing_from_the_cache(harness_run: Path, tmp_path: Path) -> None:
    run = tmp_path / harness_run.name
    shutil.copytree(harness_run, run)  # without the video cache next to it
    result = CliRunner().invoke(main, ["report", str(run), "--samples", "1"])
    assert result.exit_code == 0, result.output
    text = (run / "report" / "index.html").read_text()
    assert text.count('class="no-clip" title="not in the video cache"') == 2
    assert "<video" not in text
    assert "2 videos were not found in the video cache" in text


def test_negative_samples(harness_run: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(harness_run), "--samples", "-1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --samples must be >= 0, got -1"]


def test_not_a_run_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "not a run directory (no run.json)" in result.output


def test_requests_that_do_not_match_the_run(harness_run: Path, tmp_path: Path) -> None:
    shutil.copytree(harness_run.parent.parent, tmp_path / "out")
    run = tmp_path / "out" / "harness-test" / harness_run.name
    for path in (run / "records").glob("*.json"):
        rec = json.loads(path.read_text())
        rec["seeds"]["request_seeds_sha256"] = "0" * 64
        path.write_text(json.dumps(rec))
    text = build_report(run).read_text()
    assert "No sample grid: the dataset&#39;s request seeds differ from the run&#39;s" in text
    assert "<video" not in text


def test_analysis_plot(harness_run: Path, tmp_path: Path) -> None:
    shutil.copytree(harness_run.parent.parent, tmp_path / "out")
    run = tmp_path / "out" / "harness-test" / harness_run.name
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    result = CliRunner().invoke(main, ["report", str(run), "--analysis", str(analysis)])
    assert result.exit_code == 2
    assert "expected a `vdmbench analyze` output folder (with analysis.png)" in result.output
    shutil.copyfile(run / "leaderboard.png", analysis / "analysis.png")
    run_cli("report", str(run), "--samples", "0", "--analysis", str(analysis))
    text = (run / "report" / "index.html").read_text()
    assert '<img src="plots/analysis.png" alt="Block sensitivity analysis">' in text
    assert (run / "report" / "plots" / "analysis.png").read_bytes() == \
        (analysis / "analysis.png").read_bytes()
    assert "No sample grid: no samples asked for (--samples 0)" in text


def test_the_pareto_plot_is_shown_with_its_title(harness_run: Path, tmp_path: Path) -> None:
    """The leaderboard's Pareto plot (tradeoff.py) appears in the report under its title, not
    among untitled "other" plots. The plot leaves out noisy speed-ups, which a loaded machine
    can give: the copy's are marked not noisy, so the plot is there whatever the load was."""
    from vdmbench.layout import PARETO_PLOT

    shutil.copytree(harness_run.parent.parent, tmp_path / "out")
    run = tmp_path / "out" / "harness-test" / harness_run.name
    for path in (run / "records").glob("*.json"):
        rec = json.loads(path.read_text())
        rec["speed"]["speedup"]["per_video"]["noisy"] = False
        path.write_text(json.dumps(rec))
    run_cli("leaderboard", str(run))
    assert (run / PARETO_PLOT).is_file()
    run_cli("report", str(run), "--samples", "0")
    text = (run / "report" / "index.html").read_text(encoding="utf-8")
    assert f'<img src="plots/{PARETO_PLOT}" alt="Quality vs latency: Pareto front">' in text
    assert "<strong>Quality vs latency: Pareto front</strong>" in text
    assert "leaderboard pareto" not in text  # not among the plots titled by file name
    assert (run / "report" / "plots" / PARETO_PLOT).read_bytes() == \
        (run / PARETO_PLOT).read_bytes()


def test_rebuild_needs_none_of_the_suites_environment(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The report is built from what the run wrote: a machine without the environment
    variable the suite names (here: the teacher's weights) rebuilds it, with the same grid."""
    import yaml

    weights = tmp_path / "teacher.bin"
    weights.write_bytes(b"test-generator weights are not read")
    monkeypatch.setenv("VDMB_REPORT_TEST_WEIGHTS", str(weights))
    suite = quick_suite(tmp_path)
    data = yaml.safe_load(suite.read_text())
    data["models"][0]["weights"] = "${VDMB_REPORT_TEST_WEIGHTS}"
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    run_cli("run", str(suite), "--out", str(tmp_path / "out"), "--limit", "3", "--quiet")
    run = run_dir_of(tmp_path / "out", "harness-test")
    first = read_page(run / "report" / "index.html")
    monkeypatch.delenv("VDMB_REPORT_TEST_WEIGHTS")
    weights.unlink()
    out = run_cli("report", str(run))
    assert out.strip() == f"report: {run / 'report' / 'index.html'}"
    page = read_page(run / "report" / "index.html")
    assert page.rows == first.rows and len(page.videos) == 3 * 2
    text = (run / "report" / "index.html").read_text(encoding="utf-8")
    # the conditioning frames come from the video cache (the run's requests.json names them)
    assert text.count('alt="conditioning frame of') == 3


def test_motion_captions_come_from_the_metric(tmp_path: Path) -> None:
    """``motion_acc_synth`` captions the report's samples itself: the class its motion net
    predicts, ✓ where that is the class the request asked for; a metric without captions
    gives none."""
    from types import SimpleNamespace

    from vdmbench.catalog import METRICS
    from vdmbench.data.synthmotion import MOTION_CLASSES, render_batch
    from vdmbench.metrics.base import MetricContext
    from vdmbench.video import Video

    frames, metas = render_batch(range(12), "test", frames=8, height=16, width=16)
    videos = [Video(f, 8.0) for f in frames]
    asked = [SimpleNamespace(extra={"motion_class": m.motion}) for m in metas]
    wrong = [SimpleNamespace(extra={"motion_class": (m.motion + 1) % len(MOTION_CLASSES)})
             for m in metas]
    cls = METRICS.get("motion_acc_synth")
    metric = cls(cls.Options(), MetricContext(device="cpu", cache_dir=tmp_path))
    right = metric.sample_captions(videos, asked)
    assert all(c is not None and c.startswith("motion ") for c in right)
    assert sum(c.endswith("✓") for c in right) >= 9  # real clips: the net is mostly right
    assert [c.rsplit(" ", 1)[0] for c in metric.sample_captions(videos, wrong)] == \
        [c.rsplit(" ", 1)[0] for c in right]  # same prediction, judged against another ask
    assert sum(c.endswith("✓") for c in metric.sample_captions(videos, wrong)) <= 3
    assert cls.sample_label(asked[0]) == f"motion asked: {MOTION_CLASSES[metas[0].motion]}"
    assert metric.sample_captions(videos, [SimpleNamespace(extra={})] * 12) == [None] * 12
    psnr = METRICS.get("psnr")
    assert psnr.sample_captions is not cls.sample_captions and psnr.sample_label(asked[0]) is None
