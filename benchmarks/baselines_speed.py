"""Per-video latency of every model entry of a suite against its reference model, interleaved.

Loads every model entry of the suite (with its transforms applied, as ``vdmbench run`` does) in
one process, then runs ``--rounds`` rounds; in each round every entry generates the same one
video (batch 1, the suite's first request; the adapter's ``video`` component where it has one)
``--reps`` times, in a fresh random order per round, so that load on the machine hits every
entry alike. Per entry: the median per-video time, and the speed-up against the reference
model computed per round (reference time / entry time of the same round): median, min and max
over the rounds.

    python benchmarks/baselines_speed.py suites/synth_i2v_baselines.yaml --rounds 5
    python benchmarks/baselines_speed.py suites/synth_t2v_baselines.yaml --only teacher,deepcache-i2

Prints a Markdown table (and writes the raw numbers as JSON to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vdmbench.acceleration import TransformedGenerator, make_transforms, transformed
from vdmbench.catalog import DATASETS, MODELS
from vdmbench.resolve import resolve_suite
from vdmbench.suite import TransformSpec


def _video_fn(gen: Any, request: Any) -> Callable[[], object]:
    comps = dict(gen.components(request))
    return comps.get("video") or (lambda: gen.generate([request]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=2, help="videos per entry per round")
    ap.add_argument("--only", default=None, help="comma-separated model entries (and the "
                                                 "reference)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="seed of the per-round order")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    resolved = resolve_suite(args.suite)
    suite = resolved.suite
    ref = suite.reference_model or suite.models[0].name
    wanted = None if args.only is None else {*args.only.split(","), ref}
    request = DATASETS.get(suite.dataset.name)(suite.dataset).requests()[0]
    fns: dict[str, Callable[[], object]] = {}
    with contextlib.ExitStack() as stack:
        for spec in suite.models:
            if wanted is not None and spec.name not in wanted:
                continue
            gen = MODELS.get(spec.adapter).load(spec.name, spec.weights,
                                                resolved.model_options[spec.name], "cpu",
                                                steps=spec.steps, dtype=spec.dtype)
            if spec.transforms:
                ts = make_transforms([TransformSpec(name=t.name, options=o.model_dump())
                                      for t, o in zip(spec.transforms,
                                                      resolved.transform_options[spec.name])],
                                     model=spec.name)
                gen = TransformedGenerator(gen, stack.enter_context(
                    transformed(gen, ts, model=spec.name)))
            fns[spec.name] = _video_fn(gen, request)
        for fn in fns.values():  # warm-up
            fn()
        times: dict[str, list[float]] = {n: [] for n in fns}
        ratios: dict[str, list[float]] = {n: [] for n in fns}
        order = list(fns)
        rng = random.Random(args.seed)
        for _ in range(args.rounds):
            rng.shuffle(order)
            this: dict[str, float] = {}
            for name in order:
                t = []
                for _ in range(args.reps):
                    t0 = time.perf_counter()
                    fns[name]()
                    t.append(time.perf_counter() - t0)
                this[name] = statistics.median(t)
                times[name].append(this[name])
            for name in fns:
                ratios[name].append(this[ref] / this[name])
    rows = []
    print(f"suite {suite.name}; reference {ref}; {args.rounds} rounds × {args.reps} videos; "
          f"torch {torch.__version__}, python {platform.python_version()}, "
          f"{args.threads} thread(s)\n")
    print("| model | per video (ms) | speed-up × (median) | min | max |")
    print("|---|---:|---:|---:|---:|")
    for name in fns:
        r = sorted(ratios[name])
        row = {"model": name, "median_s": statistics.median(times[name]),
               "speedup_median": statistics.median(r), "speedup_min": r[0],
               "speedup_max": r[-1], "times_s": times[name]}
        rows.append(row)
        print(f"| {name} | {row['median_s'] * 1e3:.1f} | {row['speedup_median']:.2f} | "
              f"{r[0]:.2f} | {r[-1]:.2f} |")
    if args.out:
        args.out.write_text(json.dumps({"suite": suite.name, "reference": ref,
                                        "rounds": args.rounds, "reps": args.reps,
                                        "torch": torch.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
