"""The whole pipeline on the test-only generator: determinism, resume after SIGKILL, records."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vdmbench.cli import main
from vdmbench.leaderboard import load_records

HERE = Path(__file__).parent


def _run(suite: Path, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--quiet", *extra])
    assert result.exit_code == 0, result.output
    runs = list((out / "harness-test").iterdir())
    assert len(runs) == 1
    return runs[0]


def _video_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (out / ".cache" / "videos").rglob("*.npy")}


def _quality(run_dir: Path) -> dict[str, dict]:
    return {r["model"]["name"]: {k: v["value"] for k, v in r["metrics"].items()}
            for r in load_records(run_dir)}


def test_run_writes_records_and_leaderboards(tmp_path: Path) -> None:
    run_dir = _run(HERE / "suite_ok.yaml", tmp_path / "a")
    records = {r["model"]["name"]: r for r in load_records(run_dir)}
    assert set(records) == {"teacher", "student"}
    s = records["student"]
    assert s["suite"]["hash"]
    assert s["git_commit"] is None or isinstance(s["git_commit"], str)
    assert s["metrics"]["mean_abs_diff_to_teacher"]["version"] == "1"
    assert s["metrics"]["mean_abs_diff_to_teacher"]["n"] == 6
    assert records["teacher"]["metrics"]["mean_abs_diff_to_teacher"]["value"] == 0.0
    assert s["speed"]["per_video"]["count"] >= 3 and s["environment"]["torch"]
    md = (run_dir / "leaderboard.md").read_text()
    assert "mean_abs_diff_to_teacher ↓" in md and "speed-up (×)" in md
    tex = (run_dir / "leaderboard.tex").read_text()
    assert r"\begin{tabular}" in tex and r"$\downarrow$" in tex
    assert (run_dir / "leaderboard.png").read_bytes()[:4] == b"\x89PNG"
    csv = (run_dir / "leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("model,params,steps,mean_abs_diff_to_teacher")
    # the speed-up is reference time / model time, from the same interleaved rounds: it says
    # "faster" exactly where the student's median per-video time is below the teacher's (both
    # move with the machine's load, so this holds on a loaded machine too; how large the
    # speed-up is under load is measured by benchmarks/timing_under_load.py)
    speedup = s["speed"]["speedup"]["per_video"]["median"]
    t_s, s_s = (records[m]["speed"]["per_video"]["median_s"] for m in ("teacher", "student"))
    assert 0 < speedup < float("inf") and (speedup > 1.0) == (s_s < t_s)


def test_rerun_is_bit_identical(tmp_path: Path) -> None:
    a = _run(HERE / "suite_ok.yaml", tmp_path / "a")
    b = _run(HERE / "suite_ok.yaml", tmp_path / "b")
    va, vb = _video_files(tmp_path / "a"), _video_files(tmp_path / "b")
    assert va and va == vb
    assert _quality(a) == _quality(b)


def test_resume_skips_finished_models(tmp_path: Path) -> None:
    run_dir = _run(HERE / "suite_ok.yaml", tmp_path / "a")
    before = {p: p.stat().st_mtime_ns for p in (run_dir / "records").glob("*.json")}
    _run(HERE / "suite_ok.yaml", tmp_path / "a")
    after = {p: p.stat().st_mtime_ns for p in (run_dir / "records").glob("*.json")}
    assert before == after  # write-once records, not rewritten


def test_sigkill_during_generation_then_resume(tmp_path: Path) -> None:
    """Kill the run while it generates; the rerun reuses the videos on disk and ends with the
    same records and leaderboard (quality columns) as an uninterrupted run."""
    suite = tmp_path / "slow.yaml"
    text = (HERE / "suite_ok.yaml").read_text().replace("num_videos: 6", "num_videos: 12")
    text = text.replace("{noise: 2.0, work: 64}", "{noise: 2.0, work: 64, sleep_s: 0.25}")
    text = text.replace("batch_size: 4", "batch_size: 1")
    suite.write_text(text)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vdmbench.cli", "run", str(suite), "--out", str(out),
           "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    cache = out / ".cache" / "videos"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(cache.rglob("*.npy"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survivors = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")}
    assert 3 <= len(survivors) < 24, "the kill should land during generation"
    assert not list(out.rglob("records/*.json")), "no record may exist for unfinished models"
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for p, mtime in survivors.items():
        assert p.stat().st_mtime_ns == mtime, f"{p.name} was generated again"
    assert len(list(cache.rglob("*.npy"))) == 24
    # an uninterrupted run elsewhere gives the same quality numbers and the same videos
    clean = tmp_path / "clean"
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(clean), "--quiet"])
    assert result.exit_code == 0, result.output
    (killed_run,) = (out / "harness-test").iterdir()
    (clean_run,) = (clean / "harness-test").iterdir()
    assert _quality(killed_run) == _quality(clean_run)
    assert _video_files(out) == _video_files(clean)
    assert killed_run.name == clean_run.name  # same run id: same suite, device, limit
    def board(run: Path) -> list[list[str]]:  # the leaderboard rows (the matched-speed section
        # below them depends on which timings came out noisy, a measurement)
        text = (run / "leaderboard.md").read_text().split("## Matched speed")[0]
        return [ln.split("|")[1:5] for ln in text.splitlines() if ln.startswith("| ")]

    assert board(killed_run) == board(clean_run)


def test_limit_and_no_resume(tmp_path: Path) -> None:
    out = tmp_path / "x"
    a = _run(HERE / "suite_ok.yaml", out, "--limit", "2")
    rec = json.loads((a / "records" / "student.json").read_text())
    assert rec["dataset"]["n_requests"] == 2 and rec["metrics"]["mean_abs_diff_to_teacher"][
        "n"] == 2
    result = CliRunner().invoke(main, ["run", str(HERE / "suite_ok.yaml"), "--out", str(out),
                                       "--limit", "2", "--no-resume", "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(list((out / "harness-test").iterdir())) == 2


def test_bad_limit_and_device_exit_2(tmp_path: Path) -> None:
    for args in (["--limit", "0"], ["--device", "tpu"]):
        result = CliRunner().invoke(main, ["run", str(HERE / "suite_ok.yaml"), "--out",
                                           str(tmp_path / "o"), "--quiet", *args])
        assert result.exit_code == 2, result.output


def test_models_are_released_when_nothing_times_them(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``speed.enabled: false`` a model is freed before the next one loads (one model's
    memory at a time); with timing on, every model stays loaded for the interleaved rounds."""
    from vdmbench.testing import TestGenerator

    loaded: list[weakref.ref[TestGenerator]] = []
    alive_at_load: list[int] = []
    load = TestGenerator.load.__func__  # type: ignore[attr-defined]

    def tracking_load(cls: type[TestGenerator], *args: Any, **kwargs: Any) -> TestGenerator:
        gc.collect()
        alive_at_load.append(sum(r() is not None for r in loaded))
        gen = load(cls, *args, **kwargs)
        loaded.append(weakref.ref(gen))
        return gen

    monkeypatch.setattr(TestGenerator, "load", classmethod(tracking_load))
    text = (HERE / "suite_ok.yaml").read_text()
    for enabled, expected in ((False, [0, 0]), (True, [0, 1])):
        suite = tmp_path / f"speed-{enabled}.yaml"
        suite.write_text(text.replace("speed:\n", f"speed:\n  enabled: {str(enabled).lower()}\n"))
        loaded.clear()
        alive_at_load.clear()
        _run(suite, tmp_path / f"out-{enabled}")
        assert alive_at_load == expected, (enabled, alive_at_load)
