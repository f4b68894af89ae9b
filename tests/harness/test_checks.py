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
    """validate and run must both refuse with the same message, writing nothing: one line for
    one problem; for several, a head line naming the file and the count, then one indented line
    per problem. Returns the messages."""
    msgs = []
    for args in (["validate", str(path)], ["run", str(path), "--out", str(out), "--quiet",
                                           *extra]):
        code, output = _invoke(*args)
        assert code == 2, output
        lines = [ln for ln in output.strip().splitlines() if ln]
        assert lines[0].startswith(f"error: {path}"), output
        if len(lines) > 1:
            assert lines[0].endswith(f" {len([ln for ln in lines if ln.startswith('  line')])}"
                                     f" problems:"), output
            assert all(ln.startswith("  ") for ln in lines[1:]), output
        msgs.append("\n".join(lines))
    assert msgs[0] == msgs[1]
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
    assert "\n  line 21, models[1].weights" in msg


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


def test_many_problems_one_a_line_hints_once(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """suites/ucf101_i2v.yaml with every variable pointing at an empty folder: eleven problems,
    each on its own line; the advice eight model folders share is said once, after them."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for var in ("UCF101_ROOT", "SVD_XT_DIR", "SFV_DIR", "VDMINI_I2V_DIR"):
        monkeypatch.setenv(var, str(empty))
    for var in ("VDMBENCH_I3D_TORCHSCRIPT", "VDMBENCH_C3D_TORCHSCRIPT"):
        monkeypatch.setenv(var, str(empty / "missing.pt"))
    suite = Path(__file__).resolve().parents[2] / "suites" / "ucf101_i2v.yaml"
    code, output = _invoke("validate", str(suite))
    assert code == 2
    output = output[output.index("error: "):]  # after what importing torchao may log
    lines = output.strip().splitlines()
    assert lines[0] == f"error: {suite}: 11 problems:"
    problems = [ln for ln in lines[1:] if ln.startswith("  line ")]
    hints = [ln for ln in lines[1:] if ln.startswith("  hint ")]
    assert len(problems) == 11 and len(problems) + len(hints) == len(lines) - 1, output
    unet = [ln for ln in problems if "component 'unet'" in ln]
    assert len(unet) == 8 and all(ln.endswith("[hint 1]") for ln in unet), output
    assert hints[0].startswith("  hint 1: Put a diffusers-format 'unet/' folder")
    assert output.count("Put a diffusers-format") == 1  # said once, not eight times
    assert len(hints) == len(set(h.split(": ", 1)[1] for h in hints)) == 3, output
    assert max(len(ln) for ln in lines) < 300, output
