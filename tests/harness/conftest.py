"""Helpers for the harness tests: a valid suite file and ways to break it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).parent


@pytest.fixture
def ok_suite_text() -> str:
    return (HERE / "suite_ok.yaml").read_text()


@pytest.fixture
def write_suite(tmp_path: Path):
    """Write a suite (text or mapping) to tmp_path/suite.yaml and return its path."""

    def _write(content: str | dict, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content,
                                                                                  sort_keys=False))
        return path

    return _write
