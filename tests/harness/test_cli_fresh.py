"""Each everyday command in a fresh process: nothing on stderr that means nothing to a user
(third-party deprecation notes, torchao probing), and listing and validating import no torch
(nor diffusers, torchao, transformers): validate reads the registered classes' torch-free config
classes (tests/harness/test_configs.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "suites").glob("*.yaml"))
#: runs ``vdmbench ARGS`` and prints, last on stdout, whether torch was imported
PROBE = """
import sys
from vdmbench.cli import main
try:
    main(sys.argv[1:], prog_name="vdmbench")
    code = 0
except SystemExit as e:
    code = e.code
print("torch imported:", any(m in sys.modules
                            for m in ("torch", "diffusers", "torchao", "transformers")))
sys.exit(code)
"""


def _vdmbench(*args: str) -> tuple[str, str, bool]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    *out, last = proc.stdout.rstrip("\n").splitlines()
    assert last.startswith("torch imported: ")
    return "\n".join(out), proc.stderr, last.endswith("True")


def test_ls_models_is_quiet_and_imports_no_torch() -> None:
    out, err, torch_imported = _vdmbench("ls", "models")
    assert "synth-i2v" in out and err == ""
    assert not torch_imported


def test_run_help_is_quiet_and_imports_no_torch() -> None:
    out, err, torch_imported = _vdmbench("run", "--help")
    assert "Usage: vdmbench run" in out and err == ""
    assert not torch_imported


def test_validate_prints_nothing_but_its_verdicts_and_imports_no_torch() -> None:
    out, err, torch_imported = _vdmbench("validate", "--schema-only", *SUITES)
    assert out.splitlines() == [line for line in out.splitlines() if ": ok (" in line]
    assert len(out.splitlines()) == len(SUITES) and err == ""
    assert not torch_imported
    out, err, torch_imported = _vdmbench("validate", "suites/synth_i2v.yaml")
    assert out.startswith("suites/synth_i2v.yaml: ok (") and err == ""
    assert not torch_imported
