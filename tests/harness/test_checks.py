"""What `vdmbench validate` and `vdmbench run` check before loading weights or reading data:
environment variables, named files and folders, options against presets — all reported at
once, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vdmbench.cli import main

UNSET = "VDMBENCH_TEST_SURELY_UNSET_DIR"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _both(path: Path, out: Path, *extra: str) -> list[str]:
    """validate and run must both refuse, with one line, writing nothing; returns the lines."""
    msgs = []
    for args in (["validate", str(path)], ["run", str(path), "--out", str(out), "--quiet",
                                           *extra]):
        code, output = _invoke(*args)
        assert code == 2, output
        lines = [ln for ln in output.strip().splitlines() if ln]
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), output
        msgs.append(lines[0])
    assert not out.exists(), "nothing may be written before the error"
    return msgs


def test_every_problem_is_reported_before_anything_runs(
        ok_suite_text: str, write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    monkeypatch.delenv("VDMBENCH_C3D_TORCHSCRIPT", raising=False)
    text = ok_suite_text.replace(
        "    steps: 2\n", f"    steps: 2\n    weights: ${{{UNSET}}}/student\n").replace(
        "  - name: mean_abs_diff_to_teacher\n",
        "  - name: mean_abs_diff_to_teacher\n"
        "  - name: is_synth\n    options: {splits: 10}\n"
        f"  - name: fvd_styleganv_2048_16f\n    options: {{weights: {tmp_path}/no-i3d.pt}}\n"
        "  - name: is_styleganv_ucf101\n    options: {splits: 2}\n")
    path = write_suite(text)
    msg = _both(path, tmp_path / "out")[0]
    assert "4 problems" in msg, msg  # metrics[3] has two
    assert f"models[1].weights: environment variable ${{{UNSET}}} is not set" in msg
    assert "metrics[1]: metric 'is_synth' needs at least 10 generated videos" in msg
    assert "the run generates 6" in msg
    # frames: the preset measures 16, the suite generates 4; its checkpoint file is missing
    assert "metrics[2]: metric 'fvd_styleganv_2048_16f' measures 16 frames" in msg
    assert "dataset.frames is 4" in msg
    assert "metrics[3]" in msg and "VDMBENCH_C3D_TORCHSCRIPT" in msg and "no-i3d.pt" in msg
    assert f"{path}:" not in msg.split(": ", 2)[2]  # locations are lines, not repeated paths
    assert "line 21, models[1].weights" in msg


def test_missing_weights_folder_and_limit(ok_suite_text: str, write_suite,
                                          tmp_path: Path) -> None:
    text = ok_suite_text.replace("    steps: 2\n",
                                 f"    steps: 2\n    weights: {tmp_path}/nowhere\n")
    msg = _both(write_suite(text), tmp_path / "out")[0]
    assert f"model 'student': weights {tmp_path}/nowhere not found" in msg
    # IS splits against the number of videos the run makes: --limit counts
    text = ok_suite_text.replace("  - name: mean_abs_diff_to_teacher\n",
                                 "  - name: is_synth\n    options: {splits: 4}\n")
    path = write_suite(text, "limited.yaml")
    assert _invoke("validate", str(path))[0] == 0
    code, output = _invoke("run", str(path), "--out", str(tmp_path / "out2"), "--quiet",
                           "--limit", "3")
    assert code == 2 and "needs at least 4 generated videos" in output, output
    assert "the run generates 3" in output and not (tmp_path / "out2").exists()


def test_schema_only_skips_the_file_checks(ok_suite_text: str, write_suite,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    text = ok_suite_text.replace("    steps: 2\n", f"    steps: 2\n    weights: ${{{UNSET}}}\n")
    path = write_suite(text)
    assert _invoke("validate", str(path))[0] == 2
    code, output = _invoke("validate", "--schema-only", str(path))
    assert code == 0, output
