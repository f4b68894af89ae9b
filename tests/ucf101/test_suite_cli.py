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


def test_suite_validates() -> None:
    result = CliRunner().invoke(main, ["validate", str(SUITE)])
    assert result.exit_code == 0, result.output


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
