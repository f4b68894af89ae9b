"""The run's timing phase, `vdmbench speed`, resume without reloading, progress lines in logs,
and file modes."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from slowdown_utils import Slowdown

from vdmbench import testing
from vdmbench.cli import main
from vdmbench.leaderboard import load_records
from vdmbench.progress import Reporter
from vdmbench.records import atomic_write_text, write_once_json

HERE = Path(__file__).parent
PROGRESS_LINE = re.compile(r"^(generate|metrics|time) \S.* \d+/\d+ (videos|rounds), ")


def _suite(tmp_path: Path, **speed: object) -> Path:
    data = yaml.safe_load((HERE / "suite_ok.yaml").read_text())
    data["speed"] = {**data["speed"], "threads": 1, **speed}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return result.output


def _run_dir(out: Path) -> Path:
    (run,) = (out / "harness-test").iterdir()
    return run


def _quality(records: list[dict]) -> dict[str, dict]:
    return {r["model"]["name"]: r["metrics"] for r in records}


def test_self_vs_self_under_changing_load_is_never_a_confident_speedup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One model under two names (same adapter, same weights), every timed callable slowed ×4
    for 1 s then ×1 for 1 s: the run's speed-up is within ±15% of 1.0 or marked noisy."""
    data = yaml.safe_load((HERE / "suite_ok.yaml").read_text())
    twin = {**data["models"][0], "name": "teacher-again"}
    data["models"] = [data["models"][0], twin]
    data["metrics"] = []
    data["speed"] = {"warmup": 0, "iterations": 20, "min_seconds": 0.4, "rounds": 20,
                     "threads": 1}
    suite = tmp_path / "twins.yaml"
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    slow = Slowdown(unit_s=0.005, slow_factor=4.0, slow_s=1.0, fast_s=1.0)
    components = testing.TestGenerator.components

    def slowed(self: testing.TestGenerator, request: object) -> dict:
        comps = components(self, request)
        comps["video"] = lambda: self.generate([request])
        return {k: slow.wrap(fn) for k, fn in comps.items()}

    monkeypatch.setattr(testing.TestGenerator, "components", slowed)
    _invoke("run", str(suite), "--out", str(tmp_path / "o"))
    run = _run_dir(tmp_path / "o")
    rec = json.loads((run / "records" / "teacher-again.json").read_text())
    for part in ("per_video", "denoise"):
        s = rec["speed"]["speedup"][part]
        assert abs(s["median"] - 1.0) <= 0.15 or s["noisy"], s
        assert s["n_rounds"] == 20
    rounds = rec["speed"]["per_video"]["round_medians_s"]
    assert max(rounds) > 2.5 * min(rounds), "the rounds should have seen both phases"
    md = (run / "leaderboard.md").read_text()
    row = next(ln for ln in md.splitlines() if ln.startswith("| teacher-again"))
    step = row.strip("|").split("|")[-1].strip()
    assert float(step.split()[0]) < 2.0


def test_speed_section_records_session_threads_and_load(tmp_path: Path) -> None:
    suite = _suite(tmp_path, threads=1, rounds=6, noise_threshold=0.2)
    _invoke("run", str(suite), "--out", str(tmp_path / "o"))
    records = {r["model"]["name"]: r for r in load_records(tmp_path / "o")}
    sessions = {r["speed"]["session"]["id"] for r in records.values()}
    assert len(sessions) == 1  # both models timed in one session
    sp = records["student"]["speed"]
    sess = sp["session"]
    assert sess["threads"] == 1 and sess["rounds"] == 6 and sess["order"] == ["teacher",
                                                                              "student"]
    assert set(sess["load_average"]) == {"start", "end"} and len(sess["load_average"]["end"]) == 3
    assert sp["timing_version"] == 1 and sess["command"] == "run"
    assert sp["speedup"]["per_video"]["noise_threshold"] == 0.2
    lo, hi = sp["speedup"]["per_video"]["ci95"]
    assert lo <= sp["speedup"]["per_video"]["median"] <= hi
    csv = (_run_dir(tmp_path / "o") / "leaderboard.csv").read_text().splitlines()
    assert "speedup_lo" in csv[0] and csv[0].endswith(
        "invalid_timings,noisy_speedups,undersampled_metrics")
    md = (_run_dir(tmp_path / "o") / "leaderboard.md").read_text()
    assert "interleaved rounds of one timing session" in md and "1 torch threads" in md
    assert "measured in the same run" not in md


def test_speed_command_adds_a_timing_version_and_keeps_everything_else(tmp_path: Path) -> None:
    suite = _suite(tmp_path, rounds=6)
    out = tmp_path / "o"
    _invoke("run", str(suite), "--out", str(out))
    run = _run_dir(out)
    before = {p.name: p.read_bytes() for p in (run / "records").iterdir()}
    videos = {p: p.stat().st_mtime_ns for p in (out / ".cache").rglob("*.npy")}
    text = _invoke("speed", str(suite), "--out", str(out), "--rounds", "7")
    assert "timing shown: version 2 (`vdmbench speed`" in text
    after = {p.name: p.read_bytes() for p in (run / "records").iterdir()}
    assert {k: after[k] for k in before} == before, "earlier records must stay as they were"
    assert sorted(set(after) - set(before)) == ["student@timing2.json", "teacher@timing2.json"]
    assert {p: p.stat().st_mtime_ns for p in (out / ".cache").rglob("*.npy")} == videos
    v1, v2 = load_records(out, timing=1), load_records(out)
    assert _quality(v1) == _quality(v2)
    assert all(r["speed"]["timing_version"] == 2 and r["speed"]["session"]["rounds"] == 7
               and r["speed"]["environment"]["torch"] for r in v2)
    assert {r["speed"]["session"]["id"] for r in v1}.isdisjoint(
        {r["speed"]["session"]["id"] for r in v2})
    old = CliRunner().invoke(main, ["leaderboard", str(run), "--timing", "1"])
    assert old.exit_code == 0 and "timing shown: version 1 (`vdmbench run`" in old.output
    _invoke("speed", str(suite), "--out", str(out))
    assert (run / "records" / "teacher@timing3.json").is_file()
    missing = CliRunner().invoke(main, ["leaderboard", str(run), "--timing", "9"])
    assert missing.exit_code == 2 and "no timing version 9" in missing.output


def test_speed_command_errors_exit_2(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    none = CliRunner().invoke(main, ["speed", str(suite), "--out", str(tmp_path / "x")])
    assert none.exit_code == 2 and "run `vdmbench run` first" in none.output
    _invoke("run", str(suite), "--out", str(tmp_path / "o"))
    few = CliRunner().invoke(main, ["speed", str(suite), "--out", str(tmp_path / "o"),
                                    "--rounds", "5"])
    assert few.exit_code == 2 and "at least 6" in few.output


def test_resume_loads_no_model_whose_record_exists(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _suite(tmp_path, rounds=6)
    out = tmp_path / "o"
    _invoke("run", str(suite), "--out", str(out))
    run = _run_dir(out)
    loaded: list[str] = []
    load = testing.TestGenerator.load.__func__  # type: ignore[attr-defined]

    def counting(cls: type, name: str, *args: object, **kw: object) -> testing.TestGenerator:
        loaded.append(name)
        return load(cls, name, *args, **kw)

    monkeypatch.setattr(testing.TestGenerator, "load", classmethod(counting))
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert loaded == []
    assert not re.search(r"^generate ", result.output, re.M), "no generation shown"
    # one record lost: only that model is generated again; the reference is loaded to time it
    teacher = (run / "records" / "teacher.json").read_bytes()
    (run / "records" / "student.json").unlink()
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(loaded) == ["student", "teacher"]
    assert (run / "records" / "teacher.json").read_bytes() == teacher
    assert "loaded as the timing reference" in result.output
    md = (run / "leaderboard.md").read_text()
    assert "timings come from 2 separate timing sessions" in md
    assert "measured in the same run" not in md


def test_interrupted_timing_keeps_the_metrics(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _suite(tmp_path, rounds=6)
    out = tmp_path / "o"

    def broken(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("vdmbench.phases.timing.time_interleaved", broken)  # the timing phase
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--quiet"])
    assert result.exit_code != 0
    run = _run_dir(out)
    assert not list(run.rglob("records/*.json"))
    assert sorted(p.name for p in (run / "partial").iterdir()) == ["student.json",
                                                                   "teacher.json"]
    monkeypatch.undo()
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("metrics kept from the interrupted run") == 2
    assert not (run / "partial").exists()
    fresh = tmp_path / "fresh"
    _invoke("run", str(suite), "--out", str(fresh))
    assert _quality(load_records(out)) == _quality(load_records(fresh))


def _cli(args: list[str], stderr_path: Path, umask: int = 0o022) -> None:
    with open(stderr_path, "w") as err:
        proc = subprocess.run([sys.executable, "-m", "vdmbench.cli", *args],
                              stdout=subprocess.DEVNULL, stderr=err, timeout=300,
                              preexec_fn=lambda: os.umask(umask), check=False)
    assert proc.returncode == 0, stderr_path.read_text()


def test_progress_lines_in_a_log_file_and_none_with_quiet(tmp_path: Path) -> None:
    """stderr to a file: a start and an end line per stage (2 models × generate, metrics, and
    one timing stage); ``--log`` gets the same events as JSON lines; ``--quiet`` prints none.
    Files written under umask 027 are group-readable (0640), not 0600."""
    suite = _suite(tmp_path, rounds=6)
    log = tmp_path / "events.jsonl"
    _cli(["run", str(suite), "--out", str(tmp_path / "a"), "--log", str(log)],
         tmp_path / "a.err", umask=0o027)
    lines = [ln for ln in (tmp_path / "a.err").read_text().splitlines()
             if PROGRESS_LINE.match(ln)]
    assert len(lines) == 10, lines
    assert "generate teacher 0/6 videos, started" in lines
    assert any(re.fullmatch(r"time 2 models \(6 interleaved rounds\) 6/6 rounds, done in \d+s",
                            ln) for ln in lines)
    events = [json.loads(ln) for ln in log.read_text().splitlines()]
    assert [e["event"] for e in events if "stage" in e].count("start") == 5
    assert {"time", "event", "done", "total", "unit", "elapsed_s", "eta_s"} <= set(events[0])
    run = _run_dir(tmp_path / "a")
    for path in [*run.rglob("*.json"), run / "leaderboard.md", run / "leaderboard.csv",
                 next((tmp_path / "a" / ".cache" / "videos").rglob("*.npy"))]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    with open(tmp_path / "b.err", "w") as err, pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stderr", err)  # in-process, stderr a file as well
        main(["run", str(suite), "--out", str(tmp_path / "b"), "--quiet"],
             standalone_mode=False)
    quiet = (tmp_path / "b.err").read_text().splitlines()
    assert not [ln for ln in quiet if PROGRESS_LINE.match(ln)], quiet


def test_reporter_rate_limits_lines() -> None:
    stream = io.StringIO()
    with Reporter(stream=stream, tty=False, interval_s=0.0) as rep:
        with rep.stage("generate", "m", 6, "videos") as st:
            st.advance(4)
            st.advance(2)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "generate m 0/6 videos, started"
    assert re.fullmatch(r"generate m 4/6 videos, \d+s, ~\d+s left", lines[1])
    assert re.fullmatch(r"generate m 6/6 videos, done in \d+s", lines[2]) and len(lines) == 3
    stream = io.StringIO()
    with Reporter(stream=stream, tty=False, interval_s=3600.0) as rep:
        with rep.stage("metrics", "m", 100, "videos") as st:
            for _ in range(100):
                st.advance()
    assert len(stream.getvalue().splitlines()) == 2
    stream = io.StringIO()
    with Reporter(stream=stream, tty=False, quiet=True) as rep:
        with rep.stage("metrics", "m", 3, "videos") as st:
            st.advance(3)
        rep.message("hello")
    assert stream.getvalue() == ""


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        a = atomic_write_text(tmp_path / "a.txt", "x")
        write_once_json(tmp_path / "r.json", {"x": 1})
    finally:
        os.umask(old)
    for p in (a, tmp_path / "r.json"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
