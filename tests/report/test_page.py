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
