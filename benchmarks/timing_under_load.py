"""Speed-ups of a suite's models, old method vs interleaved rounds, with and without added load.

    python benchmarks/timing_under_load.py [--suite suites/synth_i2v.yaml] [--repeats 3]
        [--models a,b] [--parts video,denoise] [--rounds R] [--iterations N] [--min-seconds S]
        [--load-procs 2] [--load-period 15] [--json OUT.json]

Loads the suite's models (or those named by ``--models``; the reference model always) once (no
generation, no metrics) and, for each of ``repeats`` × {no added load, added load} (alternating:
Q, L, Q, L, …), times their callables named by ``--parts`` (default: the whole video and the
denoiser step, what the speed-ups use) with the suite's speed settings (``--rounds``,
``--iterations``, ``--min-seconds`` override them)

- the old way (:func:`vdmbench.timing.time_sequential`: each model to the suite's minimums, one
  after the other; speed-up = ratio of two medians), and
- the new way (:func:`vdmbench.timing.time_interleaved`: the suite's ``speed.rounds`` alternating
  rounds; speed-up = median of per-round ratios with a 95% interval),

the two methods in alternating order. The added load is ``load-procs`` processes, each a torch
matmul loop with 2 threads (512 × 512 float32), all busy for ``load-period`` seconds, then all
idle for ``load-period`` seconds, and so on: a load that changes while the models are timed, as
other jobs on a shared machine do. Prints one JSON object (per run: method, condition, load
averages, speed-ups) and a summary table of the spread (max/min over the repeats).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from vdmbench.resolve import resolve_suite
from vdmbench.runner import RunOptions, SuiteRun
from vdmbench.timing import TimedModel, load_average, time_interleaved, time_sequential


def _burn(period_s: float, t0: float, stop: Any) -> None:
    """Busy for period_s, idle for period_s, from t0, until ``stop`` is set."""
    torch.set_num_threads(2)
    a = torch.randn(512, 512)
    while not stop.is_set():
        if (time.time() - t0) % (2 * period_s) < period_s:
            a = torch.tanh(a @ a) * 0.5
        else:
            time.sleep(0.05)


class Load:
    """``procs`` background processes of an on/off CPU load (see the module docstring)."""

    def __init__(self, procs: int, period_s: float) -> None:
        self.procs, self.period_s = procs, period_s
        self._stop = mp.get_context("spawn").Event()
        self._workers: list[Any] = []

    def __enter__(self) -> Load:
        ctx = mp.get_context("spawn")
        t0 = time.time()
        self._workers = [ctx.Process(target=_burn, args=(self.period_s, t0, self._stop),
                                     daemon=True) for _ in range(self.procs)]
        for w in self._workers:
            w.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for w in self._workers:
            w.join(timeout=10)


def _targets(suite_path: str, models: list[str] | None,
             parts: list[str]) -> tuple[list[TimedModel], Any]:
    resolved = resolve_suite(suite_path)
    suite = resolved.suite
    run = SuiteRun(resolved, RunOptions(out_dir=Path("/tmp/vdmbench-timing-bench")))
    request = run._dataset().requests()[0]
    targets = []
    for spec in suite.models:
        if models and spec.name not in models and spec.name != suite.reference:
            continue
        gen = run._load_model(spec)
        target, _ = run._timed_model(spec.name, gen, request)
        targets.append(TimedModel(target.name, {k: v for k, v in target.components.items()
                                                if k in parts}))
    return targets, suite


def _speedups(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, m in result["models"].items():
        row = {}
        for part in ("per_video", "denoise"):
            s = m["speedup"].get(part)
            row[part] = s if not isinstance(s, dict) else {
                "median": s["median"], "ci95": s["ci95"], "noisy": s["noisy"]}
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="suites/synth_i2v.yaml")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default=None, help="comma-separated (default: all)")
    ap.add_argument("--parts", default="video,denoise")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--min-seconds", type=float, default=None)
    ap.add_argument("--load-procs", type=int, default=2)
    ap.add_argument("--load-period", type=float, default=15.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    targets, suite = _targets(args.suite, args.models.split(",") if args.models else None,
                              args.parts.split(","))
    sp = suite.speed.model_copy(update={k: v for k, v in (
        ("rounds", args.rounds), ("iterations", args.iterations),
        ("min_seconds", args.min_seconds)) if v is not None})
    runs = []
    for rep in range(args.repeats):
        for condition in ("quiet", "loaded"):
            methods = ["sequential", "interleaved"]
            if rep % 2:
                methods.reverse()
            for method in methods:
                load = Load(args.load_procs, args.load_period) if condition == "loaded" else None
                start_load = load_average()
                t0 = time.time()
                if load is not None:
                    load.__enter__()
                try:
                    if method == "sequential":
                        res = time_sequential(targets, reference=suite.reference,
                                              warmup=sp.warmup, iterations=sp.iterations,
                                              min_seconds=sp.min_seconds, threads=sp.threads)
                    else:
                        res = time_interleaved(targets, reference=suite.reference,
                                               rounds=sp.rounds, warmup=sp.warmup,
                                               iterations=sp.iterations,
                                               min_seconds=sp.min_seconds, threads=sp.threads,
                                               noise_threshold=sp.noise_threshold)
                finally:
                    if load is not None:
                        load.__exit__()
                run = {"repeat": rep, "condition": condition, "method": method,
                       "wall_s": round(time.time() - t0, 1),
                       "load_average": {"start": start_load, "end": load_average()},
                       "threads": res["session"]["threads"], "speedups": _speedups(res)}
                runs.append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
    summary: dict[str, Any] = {}
    for name in (t.name for t in targets):
        for part in ("per_video", "denoise"):
            for method in ("sequential", "interleaved"):
                for condition in ("quiet", "loaded"):
                    vals = []
                    for r in runs:
                        if (r["method"], r["condition"]) != (method, condition):
                            continue
                        s = r["speedups"][name][part]
                        vals.append(s["median"] if isinstance(s, dict) else s)
                    summary.setdefault(name, {}).setdefault(part, {})[
                        f"{method}/{condition}"] = {
                        "values": vals, "median": statistics.median(vals),
                        "spread": max(vals) / min(vals) if min(vals) > 0 else None}
    out = {"suite": args.suite, "machine": platform.processor() or platform.machine(),
           "python": platform.python_version(), "torch": torch.__version__,
           "load": {"procs": args.load_procs, "period_s": args.load_period,
                    "what": "torch 512x512 matmul loop, 2 threads per process, on/off"},
           "speed": sp.model_dump(mode="json"), "parts": args.parts,
           "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")},
           "runs": runs, "summary": summary}
    text = json.dumps(out, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
