"""Wall time of one suite run (generation + metrics, no timing phase) on 1 process and on N
processes under torchrun, interleaved, 1 thread per process.

    python benchmarks/scaling.py [--suite suites/synth_i2v.yaml] [--limit 32] [--nproc 2]
        [--rounds 2] [--json OUT.json]

A warm-up run of the suite's reference model alone fills a metric cache (the reference-set
statistics, which a multi-node user also computes once, docs/scale-out.md); every timed run then
starts from a copy of it, with empty video and feature caches, so both sides generate and extract
everything. Rounds alternate the order (1, N), (N, 1), … so that a change of machine load hits both
sides; the speed-up is the median of the per-round ratios. The timed runs' records are checked to
be equal (every metric value) between the sides. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _suite_copy(src: Path, dst: Path, only_reference: bool = False) -> Path:
    """The suite with its timing phase disabled (and, for the warm-up, its reference model
    alone)."""
    data = yaml.safe_load(src.read_text())
    data["speed"] = {**data.get("speed", {}), "enabled": False}
    if only_reference:
        ref = data.get("reference_model") or data["models"][0]["name"]
        data["models"] = [m for m in data["models"] if m["name"] == ref]
        data["teacher_model"] = data["reference_model"] = ref
        data["metrics"] = [m for m in data["metrics"] if m["name"] not in ("psnr", "ssim")]
    dst.write_text(yaml.safe_dump(data, sort_keys=False))
    return dst


def _command(suite: Path, out: Path, cache: Path, limit: int | None, nproc: int) -> list[str]:
    args = ["run", str(suite), "--out", str(out), "--cache-dir", str(cache), "--quiet"]
    if limit is not None:
        args += ["--limit", str(limit)]
    if nproc == 1:
        return [sys.executable, "-m", "vdmbench", *args]
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    return [torchrun, "--standalone", f"--nproc-per-node={nproc}", "-m", "vdmbench", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONPATH": str(ROOT)}


def _metrics(out: Path) -> dict[str, dict[str, float]]:
    records = sorted(out.glob("*/*/records/*.json"))
    return {p.stem: {k: v["value"] for k, v in json.loads(p.read_text())["metrics"].items()}
            for p in records}


def _timed(suite: Path, work: Path, warm_metrics: Path, limit: int | None,
           nproc: int, tag: str) -> tuple[float, dict[str, dict[str, float]]]:
    out, cache = work / f"out-{tag}", work / f"cache-{tag}"
    shutil.copytree(warm_metrics, cache / "metrics")
    t0 = time.perf_counter()
    subprocess.run(_command(suite, out, cache, limit, nproc), cwd=ROOT, env=_env(), check=True)
    seconds = time.perf_counter() - t0
    metrics = _metrics(out)
    shutil.rmtree(out)
    shutil.rmtree(cache)
    return seconds, metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", type=Path, default=ROOT / "suites/synth_i2v.yaml")
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vdmbench-scaling-") as tmp:
        work = Path(tmp)
        suite = _suite_copy(a.suite, work / "suite.yaml")
        warm = _suite_copy(a.suite, work / "warm.yaml", only_reference=True)
        t0 = time.perf_counter()
        subprocess.run(_command(warm, work / "warm-out", work / "warm-cache", a.limit, 1),
                       cwd=ROOT, env=_env(), check=True)
        warm_s = time.perf_counter() - t0
        rounds: list[dict[str, Any]] = []
        reference: dict[str, dict[str, float]] | None = None
        for r in range(a.rounds):
            order = [1, a.nproc] if r % 2 == 0 else [a.nproc, 1]
            times = {}
            for n in order:
                seconds, metrics = _timed(suite, work, work / "warm-cache" / "metrics", a.limit,
                                          n, f"{r}-{n}")
                if reference is None:
                    reference = metrics
                elif metrics != reference:
                    raise SystemExit(f"round {r}, {n} processes: records differ from the first "
                                     f"timed run's")
                times[n] = seconds
                print(f"round {r}: {n} process(es) {seconds:.1f} s", file=sys.stderr)
            rounds.append({"order": order, "seconds": times, "speedup": times[1] / times[a.nproc]})
    ratios = [x["speedup"] for x in rounds]
    result = {
        "suite": str(a.suite), "limit": a.limit, "nproc": a.nproc, "threads_per_process": 1,
        "warmup_reference_s": round(warm_s, 1), "rounds": rounds,
        "speedup_median": statistics.median(ratios), "speedup_min": min(ratios),
        "speedup_max": max(ratios), "records_equal": True,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "load_avg": os.getloadavg()},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
