"""Leaderboards refuse mixed protocols and never show a missing value as 0."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vdmbench.cli import main
from vdmbench.errors import ProtocolMismatchError
from vdmbench.leaderboard import build_table, load_records, to_csv, to_latex, to_markdown

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("lb")
    result = CliRunner().invoke(main, ["run", str(HERE / "suite_ok.yaml"), "--out", str(out),
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    return load_records(out)


def test_mixed_protocol_versions_refused(records: list[dict]) -> None:
    other = copy.deepcopy(records[1])
    other["metrics"]["mean_abs_diff_to_teacher"]["version"] = "2"
    with pytest.raises(ProtocolMismatchError, match="mean_abs_diff_to_teacher"):
        build_table([records[0], other])


def test_different_reference_sets_refused(records: list[dict]) -> None:
    other = copy.deepcopy(records[1])
    other["dataset"]["manifest_hash"] = "0" * 64
    with pytest.raises(ProtocolMismatchError):
        build_table([records[0], other])


def test_missing_value_is_a_dash_not_zero(records: list[dict]) -> None:
    partial = copy.deepcopy(records[1])
    del partial["metrics"]["mean_abs_diff_to_teacher"]
    partial["speed"] = None
    table = build_table([records[0], partial])
    md = to_markdown(table).splitlines()
    row = next(ln for ln in md if ln.startswith("| student"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "—" and cells[-1] == "—" and "0.0000" not in cells[3]
    csv_row = to_csv(table).splitlines()[2].split(",")
    assert csv_row[3] == "" and csv_row[3] != "0"
    assert "---" in to_latex(table)


def test_incomplete_metric_is_shown_as_such(records: list[dict]) -> None:
    part = copy.deepcopy(records[1])
    m = part["metrics"]["mean_abs_diff_to_teacher"]
    m["value"], m["details"] = float("nan"), {"status": "incomplete", "missing": ["x"]}
    full = copy.deepcopy(records[0])
    table = build_table([full, part])
    row = next(ln for ln in to_markdown(table).splitlines() if ln.startswith("| student"))
    assert row.split("|")[4].strip() == "incomplete"
    assert "nan" not in to_csv(table).lower()


def test_invalid_timing_is_marked(records: list[dict]) -> None:
    bad = copy.deepcopy(records[1])
    bad["speed"]["per_video"]["valid"] = False
    table = build_table([records[0], bad])
    md = to_markdown(table)
    assert "*" in md.splitlines()[-3] or "not valid" in md
    row = next(r for r in table.rows if r["model"] == "student")
    assert row["speedup"] is None  # no speed-up from an invalid timing


def test_leaderboard_command_rebuilds(tmp_path: Path, records: list[dict]) -> None:
    run = tmp_path / "harness-test" / "run-x" / "records"
    run.mkdir(parents=True)
    for r in records:
        (run / f"{r['model']['name']}.json").write_text(json.dumps(r))
    for fmt, needle in (("md", "| teacher"), ("csv", "teacher,"), ("tex", r"\toprule")):
        result = CliRunner().invoke(main, ["leaderboard", str(tmp_path), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert needle in result.output
    assert (tmp_path / "leaderboard.csv").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["leaderboard", str(empty)])
    assert result.exit_code == 2 and "no result records" in result.output


def test_leaderboard_command_titles_by_suite_and_writes_where_asked(
        tmp_path: Path, records: list[dict]) -> None:
    folder = tmp_path / "some-folder"
    (folder / "run-x" / "records").mkdir(parents=True)
    for r in records:
        (folder / "run-x" / "records" / f"{r['model']['name']}.json").write_text(json.dumps(r))
    out = tmp_path / "boards"
    result = CliRunner().invoke(main, ["leaderboard", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("### harness-test\n")  # the suite's name, not the folder's
    assert result.stderr.startswith(f"written to {out}: leaderboard.csv, leaderboard.md")
    assert (out / "leaderboard.md").read_text() == result.stdout
    assert {p.name for p in folder.iterdir()} == {"run-x"}  # nothing written into RESULTS_DIR
    result = CliRunner().invoke(main, ["leaderboard", str(folder)])  # default: RESULTS_DIR
    assert result.exit_code == 0 and (folder / "leaderboard.md").is_file()
    assert f"written to {folder}" in result.stderr


def test_latex_has_caption_and_label(records: list[dict]) -> None:
    slow = copy.deepcopy(records[1])
    slow["speed"]["speedup"]["per_video"]["noisy"] = True
    tex = to_latex(build_table([records[0], slow], title="synth_i2v baselines"))
    lines = tex.splitlines()
    assert lines[:2] == [r"\begin{table}[t]", r"\centering"]
    caption = next(ln for ln in lines if ln.startswith(r"\caption{"))
    assert caption.startswith(r"\caption{synth\_i2v baselines: quality and latency per model")
    assert r"$^\dagger$ noisy speed-up" in caption  # each mark the table uses, explained
    assert "under-sampled" not in caption
    assert lines[3] == r"\label{tab:vdmbench-synth-i2v-baselines}"
    assert lines.index(r"\end{tabular}") + 1 == lines.index(r"\end{table}")


def test_numbers_by_significant_digits_and_psnr_cap(records: list[dict]) -> None:
    from vdmbench.leaderboard import _fmt_number

    assert [_fmt_number(v) for v in (100.024, 38.200976, 0.9453125, 1.0, 123456.7)] == \
        ["100.02", "38.201", "0.94531", "1.0000", "123457"]
    capped = copy.deepcopy(records[0])
    m = capped["metrics"]["mean_abs_diff_to_teacher"]
    m["value"], m["protocol"]["options"] = 100.0, {"max_db": 100.0}
    close = copy.deepcopy(records[1])
    close["metrics"]["mean_abs_diff_to_teacher"]["value"] = 100.024
    close["metrics"]["mean_abs_diff_to_teacher"]["protocol"]["options"] = {"max_db": 100.0}
    md = to_markdown(build_table([capped, close]))
    cells = {ln.split("|")[1].strip(): ln.split("|")[4].strip() for ln in md.splitlines()
             if ln.startswith("| ") and not ln.startswith("| model")}
    assert cells == {"teacher": "100 (cap)", "student": "100.02"}
    assert "(cap) PSNR at its cap of 100 dB" in md
    assert "| denoise (ms/step) |" in md or "denoise" not in md
