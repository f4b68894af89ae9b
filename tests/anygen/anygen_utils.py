"""Helpers of the any-generator tests: suites on the test generator, CLI runs, records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from vdmbench.cli import main
from vdmbench.leaderboard import load_records

TEACHER = {"name": "teacher", "adapter": "test-generator", "steps": 4,
           "options": {"noise": 2.0, "work": 32}}
STUDENT_OPTIONS = {"noise": 6.0, "work": 16, "shift": 2}
STUDENT = {"name": "student", "adapter": "test-generator", "steps": 2,
           "options": STUDENT_OPTIONS}
METRICS = [{"name": "mean_abs_diff_to_teacher"}, {"name": "psnr"},
           {"name": "temporal_flickering"}]
SPEED = {"warmup": 0, "iterations": 6, "rounds": 6}


def suite(name: str, models: list[dict[str, Any]], *, task: str = "i2v", num_videos: int = 4,
          frames: int = 4, size: int = 16, metrics: list[dict[str, Any]] | None = None,
          speed: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"schema_version": 2, "name": name, "task": task,
            "dataset": {"name": "test-patterns", "num_videos": num_videos, "frames": frames,
                        "height": size, "width": size, "fps": 8, "seed": 3},
            "models": models, "metrics": METRICS if metrics is None else metrics,
            "speed": SPEED if speed is None else speed, "batch_size": 2, **extra}


def write_suite(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def run(suite_path: Path, out: Path) -> dict[str, dict[str, Any]]:
    """``vdmbench run`` (must succeed); the records by model name."""
    result = cli("run", suite_path, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if not p.name.startswith(".")][0].iterdir()
    return {r["model"]["name"]: r for r in load_records(run_dir)}


def metric_values(record: dict[str, Any]) -> dict[str, Any]:
    """Every metric's value, n, std and protocol (what "metric for metric" compares)."""
    return {k: (v["value"], v["n"], v.get("std"), json.dumps(v["protocol"], sort_keys=True))
            for k, v in record["metrics"].items()}
