"""The GPU benchmark script's code paths, on CPU with tiny shapes (slow: ~1-2 min)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kernels.py"


@pytest.mark.slow
def test_benchmark_dry_run(interpreter, tmp_path):
    spec = importlib.util.spec_from_file_location("kernels_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--dry-run", "--no-compile", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "kernels.json").read_text())
    assert report["dry_run"] and report["attention"] and report["group_norm"]
    assert {r["model"] for r in report["models"]} == {"svd_unet_step", "svd_vae_decode"}
    assert all(r["triton"] is not None for r in report["attention"])
    assert all(r["fast_kernels_rel_diff"] < 1e-4 for r in report["models"])
    assert "| target |" in (tmp_path / "kernels.md").read_text()
