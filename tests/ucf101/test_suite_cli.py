"""suites/ucf101_i2v.yaml through the CLI: validates, and missing data or weights exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from ucf101_test_utils import make_ucf101

from vdmbench.cli import main

SUITE = Path(__file__).resolve().parents[2] / "suites" / "ucf101_i2v.yaml"
ENV = ("UCF101_ROOT", "SVD_XT_DIR", "SFV_DIR", "VDMINI_I2V_DIR", "VDMBENCH_I3D_TORCHSCRIPT",
       "VDMBENCH_C3D_TORCHSCRIPT")


def test_suite_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema only: always; in full: every variable named when unset, and ok once the folders
    and files are there (weights and data are not read)."""
    result = CliRunner().invoke(main, ["validate", "--schema-only", str(SUITE)])
    assert result.exit_code == 0, result.output
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(main, ["validate", str(SUITE)])
    assert result.exit_code == 2 and "6 problems" in result.output, result.output
    assert all(f"${{{var}}} is not set" in result.output for var in ENV), result.output
    _fake_environment(tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["validate", str(SUITE)])
    assert result.exit_code == 0, result.output


def _fake_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Folders and files where the suite's variables point: a synthesized UCF101, a tiny SVD
    folder in the published layout (fp16 files only) and empty detector files."""
    import torch

    from vdmbench.models.svd import random_svd_pipeline

    make_ucf101(tmp_path / "ucf")
    svd = tmp_path / "svd"
    random_svd_pipeline("tiny", num_frames=4).to(torch.float16).save_pretrained(
        svd, variant="fp16")
    for var, value in (("UCF101_ROOT", tmp_path / "ucf"), ("SVD_XT_DIR", svd),
                       ("SFV_DIR", svd), ("VDMINI_I2V_DIR", svd)):
        monkeypatch.setenv(var, str(value))
    for var in ENV[4:]:
        (tmp_path / var).write_bytes(b"")
        monkeypatch.setenv(var, str(tmp_path / var))
    return svd


def test_validate_catches_what_the_run_would_reject(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """frames 14 against 16-frame presets, IS splits above the number of videos, and fp16-only
    weight folders without `variant: fp16` — found by validate, before any generation."""
    _fake_environment(tmp_path, monkeypatch)
    text = SUITE.read_text().replace("num_videos: 2048", "num_videos: 4").replace(
        "  frames: 16\n", "  frames: 14\n", 1)
    text = "".join(ln for ln in text.splitlines(keepends=True) if "variant: fp16" not in ln)
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    msg = CliRunner().invoke(main, ["validate", str(suite)]).output
    assert "ucf101: clip preset i2v_dynamicrafter takes 16-frame clips" in msg, msg
    assert "metric 'fvd_styleganv_2048_16f' measures 16 frames" in msg
    assert "metric 'is_styleganv_ucf101' needs at least 10 generated videos" in msg
    assert "diffusion_pytorch_model.fp16.safetensors" in msg and "'variant: fp16'" in msg
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and result.output.strip() == msg.strip()
    assert not out.exists()


def test_missing_dataset_root_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(main, ["run", str(SUITE), "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 2
    assert "UCF101_ROOT" in result.output


def test_missing_weights_exit_2_naming_component(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The real suite, cut to 4 videos of a synthesized UCF101, with SF-V's folder missing."""
    make_ucf101(tmp_path / "ucf")
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.read_text().replace("num_videos: 2048", "num_videos: 4"))
    monkeypatch.setenv("UCF101_ROOT", str(tmp_path / "ucf"))
    for var in ENV[1:]:
        monkeypatch.setenv(var, str(tmp_path / f"missing-{var.lower()}"))
    result = CliRunner().invoke(main, ["run", str(suite), "--out", str(tmp_path / "out"),
                                       "--quiet"])
    assert result.exit_code == 2, result.output
    assert "missing-sfv_dir" in result.output and "WeightsNotFound" not in result.output
