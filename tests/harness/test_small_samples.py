"""Values computed on fewer samples than their protocol asks are marked (records, CLI table,
CSV/Markdown/LaTeX, trade-off views); ``vdmbench run --no-timing`` skips the timing phase."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vdmbench.cli import main
from vdmbench.leaderboard import UNDERSAMPLED, build_table, load_records, to_csv, to_markdown
from vdmbench.tradeoff import points_of

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
METRIC = "mean_abs_diff_to_teacher"


def _run(out: Path, *extra: str) -> tuple[Path, str]:
    result = CliRunner().invoke(main, ["run", str(HERE / "suite_ok.yaml"), "--out", str(out),
                                       "--quiet", *extra])
    assert result.exit_code == 0, result.output
    (run_dir,) = (out / "harness-test").iterdir()
    return run_dir, result.output


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The harness suite (6 videos) with ``--limit 2 --no-timing``."""
    return _run(tmp_path_factory.mktemp("limited"), "--limit", "2", "--no-timing")


def test_limit_run_is_marked_everywhere(limited: tuple[Path, str]) -> None:
    run_dir, printed = limited
    for rec in load_records(run_dir):
        m = rec["metrics"][METRIC]
        assert m["n"] == 2 and m["undersampled"] == "2 of the 6 videos the suite asks for"
    # the table the CLI prints, and the files
    board = printed.split("## Matched speed")[0]
    student = next(ln for ln in board.splitlines() if ln.startswith("| student"))
    assert student.split("|")[4].strip().endswith(UNDERSAMPLED)
    assert (f"{UNDERSAMPLED} under-sampled ({METRIC}): computed on 2 of the 6 videos the suite "
            f"asks for") in printed
    csv = to_csv(build_table(load_records(run_dir))).splitlines()
    assert csv[0].endswith(",undersampled_metrics") and csv[1].endswith(f",{METRIC}")
    tex = (run_dir / "leaderboard.tex").read_text()
    assert r"$^\ddagger$" in tex and "under-sampled" in tex.split(r"\label")[0]


def test_full_run_and_old_records_are_not_marked(tmp_path: Path) -> None:
    run_dir, printed = _run(tmp_path, "--no-timing")
    records = load_records(run_dir)
    assert all(r["metrics"][METRIC]["undersampled"] is None for r in records)
    assert UNDERSAMPLED not in printed and "under-sampled" not in printed
    old = copy.deepcopy(records)  # a record written before the mark existed: no such key
    for rec in old:
        del rec["metrics"][METRIC]["undersampled"]
    path = run_dir / "records" / "student.json"
    path.write_text(json.dumps(old[1]))
    assert "undersampled" not in load_records(run_dir)[1]["metrics"][METRIC]
    assert UNDERSAMPLED not in to_markdown(build_table(load_records(run_dir)))


def test_marked_values_stay_out_of_the_tradeoff_views(tmp_path: Path) -> None:
    run_dir, _ = _run(tmp_path, "--limit", "2")
    points, _ = points_of(load_records(run_dir))
    assert points and all(METRIC not in p.metrics for p in points)  # timed, but not compared
    records = load_records(run_dir)
    for rec in records:
        rec["metrics"][METRIC]["undersampled"] = None
    assert any(METRIC in p.metrics for p in points_of(records)[0])


def test_no_timing(limited: tuple[Path, str]) -> None:
    run_dir, printed = limited
    assert all(r["speed"] is None for r in load_records(run_dir))
    assert "speed-up" not in printed and "per video (ms)" not in printed
    assert not (run_dir / "leaderboard_pareto.png").exists()
    page = (run_dir / "report" / "index.html").read_text()
    assert "--limit 2 --no-timing</code>" in page  # the command that reproduces the run
    assert 'class="undersampled"' in page and "under-sampled: computed on 2 of the 6" in page
    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "--no-timing" in help_text and "speed.enabled: false" in help_text


def test_default_suite_full_size_is_not_marked_limit_12_is() -> None:
    """The rules on the default suite's metrics, with the committed reference's values and
    details (128 videos): nothing is marked; the same metrics on 12 videos (``--limit 12``) are
    marked, with the reasons their protocols give."""
    import dataclasses
    import tempfile

    from vdmbench.catalog import METRICS
    from vdmbench.metrics.base import MetricContext, MetricValue

    (run,) = (ROOT / "results" / "reference" / "synth_i2v").iterdir()
    rec = load_records(run)[0]
    with tempfile.TemporaryDirectory() as tmp:
        marks = {}
        for name, m in rec["metrics"].items():
            cls = METRICS.get(name)
            options = cls.Options(**m["protocol"].get("options", {}))
            full = MetricValue(value=m["value"], n=m["n"], details=m["details"])
            ctx = MetricContext(device="cpu", cache_dir=Path(tmp), requested_videos=128,
                                given_videos=128)
            assert cls(options, ctx).undersampled(full) is None, name
            ctx = dataclasses.replace(ctx, given_videos=12)
            marks[name] = cls(options, ctx).undersampled(dataclasses.replace(full, n=12))
    assert all(v and v.startswith("12 of the 128 videos the suite asks for") for v in
               marks.values()), marks
    assert "12 generated videos for 64 feature dimensions" in marks["fvd_synth"]
    assert "12 videos in 10 splits (fewer than 2 a split)" in marks["is_synth"]


def test_the_rules_one_by_one(tmp_path: Path) -> None:
    """Each reason alone, on a metric with a ``num_gen`` and a ``splits`` option; a value whose
    ``n`` is a subset by design (a VBench dimension's prompts) is not marked for it."""
    from pydantic import BaseModel

    from vdmbench.metrics.base import Metric, MetricContext, MetricValue

    class Options(BaseModel):
        num_gen: int | None = None
        splits: int | None = None

    class Counting(Metric):
        name, version, higher_is_better = "counting", "1", True

        def update(self, videos, requests, teacher_videos=None) -> None: ...

        def compute(self) -> MetricValue:
            return MetricValue(value=1.0, n=40, details={"feature_dim": 16, "n_ref": 64})

    def mark(given: int, n: int = 40, **options: int) -> str | None:
        ctx = MetricContext("cpu", tmp_path, requested_videos=100, given_videos=given)
        metric = Counting(Options(**options), ctx)
        return metric.undersampled(MetricValue(1.0, n, details={"feature_dim": 16, "n_ref": 64}))

    assert mark(100) is None  # n = 40 of the 100 given: a subset by design, not a shortfall
    assert mark(12, n=12) == ("12 of the 100 videos the suite asks for; 12 generated videos "
                              "for 16 feature dimensions")
    assert mark(100, num_gen=2048) == "40 of the 2048 videos its protocol asks for"
    assert mark(100, num_gen=40) is None
    assert mark(100, splits=25) == "40 videos in 25 splits (fewer than 2 a split)"
    assert mark(100, splits=20) is None  # 2 a split
    ctx = MetricContext("cpu", tmp_path, requested_videos=100, given_videos=10)
    value = Counting(Options(), ctx).result()  # what the runner records
    assert value.undersampled == "10 of the 100 videos the suite asks for"
