"""A rank of a multi-process run leaves with ``os._exit`` after the command (vdmbench.entry):
its exit status and its output are those the command gives, flushed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vdmbench.entry import exit_code, is_multi_process_rank

ROOT = Path(__file__).resolve().parents[2]


def _vdmbench(*args: str, world_size: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORLD_SIZE": world_size, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "vdmbench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("world_size", ["1", "2"])
def test_status_and_output_are_the_commands(world_size: str, tmp_path: Path) -> None:
    ok = _vdmbench("validate", "--schema-only", "suites/synth_sfv.yaml", world_size=world_size)
    assert ok.returncode == 0 and "suites/synth_sfv.yaml: ok" in ok.stdout, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 2\nname: x\n")
    res = _vdmbench("validate", str(bad), world_size=world_size)
    assert res.returncode == 2 and str(bad) in res.stdout + res.stderr


def test_exit_code_follows_sys_exit() -> None:
    assert exit_code(SystemExit(None)) == 0 and exit_code(SystemExit(2)) == 2
    assert exit_code(SystemExit("message")) == 1


def test_multi_process_rank_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not is_multi_process_rank()
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert is_multi_process_rank()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not is_multi_process_rank()
