"""The ``vdmbench`` process sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads, unless the user
set it (checked in fresh interpreters: OpenMP reads it once, when torch loads)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# run the command as `python -m vdmbench ls models` does, then report what the process saw
PROBE = """
import os, runpy, sys
sys.argv = ["vdmbench", "ls", "models"]
import vdmbench.entry
before = "torch" in sys.modules
try:
    runpy.run_module("vdmbench", run_name="__main__", alter_sys=True)
except SystemExit as e:
    assert not e.code, e.code
print("RESULT", os.environ.get("OMP_WAIT_POLICY"), before)
"""


def _probe(env_value: str | None) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(ROOT)
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    _, policy, torch_before = line.split()
    return policy, torch_before


def test_cli_process_defaults_to_passive_before_torch_loads() -> None:
    policy, torch_before = _probe(None)
    assert policy == "PASSIVE"
    assert torch_before == "False"  # the entry module is imported with torch still unloaded


def test_user_setting_is_kept() -> None:
    assert _probe("ACTIVE")[0] == "ACTIVE"


def test_console_script_uses_the_entry_point() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    scripts = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^vdmbench = "vdmbench\.entry:main"$', scripts, re.M), scripts
