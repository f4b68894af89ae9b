"""Fixtures of the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_test_utils import quick_suite, run_cli, run_dir_of


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished quick run of the harness suite (its report written by ``vdmbench run``)."""
    tmp = tmp_path_factory.mktemp("harness_run")
    suite = quick_suite(tmp)
    run_cli("run", str(suite), "--out", str(tmp / "out"), "--quiet")
    return run_dir_of(tmp / "out", "harness-test")
