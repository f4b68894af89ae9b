"""Throughput of the FVD feature path: I3D forward (videos/s) and the Fréchet distance.

Uses a randomly initialized :class:`~vdmbench.metrics.i3d.InceptionI3d` (the speed does not depend
on the weights, so no checkpoint is needed), the ``fvd_cdfvd_array`` preprocessing (squash to
224×224, [−1, 1]) and :func:`vdmbench.speed.measure` (warm-up, CUDA events on GPU, median/p90).

    python benchmarks/feature_throughput.py --device cuda                 # GPU, protocol sizes
    python benchmarks/feature_throughput.py --device cpu --small          # smoke run on CPU

Prints one JSON object per measurement (and writes them to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from vdmbench.metrics.frechet import FeatureStats, frechet_distance_from_stats
from vdmbench.metrics.i3d import InceptionI3d
from vdmbench.metrics.protocols import cdfvd_i3d_input
from vdmbench.speed import measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--small", action="store_true",
                    help="tiny sizes for a CPU smoke run (1 video, 9 frames, 32×32 input)")
    ap.add_argument("--batch-sizes", default=None, help="comma-separated, e.g. 1,8,32")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    if args.device == "cpu":
        torch.set_num_threads(1)
    small = args.small
    batch_sizes = [int(b) for b in (args.batch_sizes or ("1" if small else "1,8,32")).split(",")]
    frames = args.frames or (9 if small else 16)
    size = 32 if small else 128
    iters = args.iters or (2 if small else 10)
    dtype = getattr(torch, args.dtype)
    dev = args.device

    model = InceptionI3d(400, family="videogpt").to(dev, dtype).eval()
    results = []
    for bs in batch_sizes:
        video = torch.randint(0, 256, (bs, frames, size, size, 3), dtype=torch.uint8)

        def step(video: torch.Tensor = video) -> torch.Tensor:
            x = cdfvd_i3d_input(video, dev).to(dtype)
            return model(x).double().cpu()

        t = measure(step, warmup=1, iters=iters, device=dev)
        results.append({"what": "i3d_forward+preprocess", "device": dev, "dtype": args.dtype,
                        "batch": bs, "frames": frames, "input_size": size,
                        "videos_per_s": bs / t.median_s, **t.to_dict()})
        print(json.dumps(results[-1]), flush=True)

    # Fréchet distance on 400-d statistics from n rows (the compute() cost)
    n = 64 if small else 2048
    rng = np.random.default_rng(0)
    a = FeatureStats().update(rng.normal(size=(n, 400)))
    b = FeatureStats().update(rng.normal(size=(n, 400)) + 0.1)
    t0 = time.perf_counter()
    fd = frechet_distance_from_stats(a, b)
    results.append({"what": "frechet_distance_400d", "rows": n, "value": fd,
                    "seconds": time.perf_counter() - t0})
    print(json.dumps(results[-1]), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
