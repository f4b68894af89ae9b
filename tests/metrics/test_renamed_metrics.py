"""Renamed metric names: ``validate`` and ``run`` refuse them and name their replacements."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vdmbench.catalog import METRICS, RENAMED_METRICS
from vdmbench.cli import main

SUITE = Path(__file__).resolve().parents[2] / "suites" / "synth_i2v.yaml"


@pytest.mark.parametrize(("old", "new"), [("is_tgan_ucf101", "is_styleganv_ucf101"),
                                          ("fvd_cdfvd", "fvd_cdfvd_array")])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_old_metric_names_are_refused_with_the_new_ones(tmp_path: Path, old: str, new: str,
                                                        command: str) -> None:
    text = SUITE.read_text().replace("  - name: is_synth\n", f"  - name: {old}\n")
    assert f"name: {old}" in text
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    args = [command, str(suite)] + (["--out", str(tmp_path / "out")] if command == "run" else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"'{old}' was renamed" in result.output and new in result.output
    assert "suite.yaml:" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


def test_renamed_names_are_not_registered_and_their_replacements_are() -> None:
    for old, hint in RENAMED_METRICS.items():
        assert old not in METRICS.names()
        named = [w.strip("(),") for w in hint.split() if w.strip("(),") in METRICS.names()]
        assert len(named) >= 2, hint
