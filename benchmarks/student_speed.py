"""Denoiser-step speed of a VDMini student vs its synthetic teacher, measured in the same run.

    python benchmarks/student_speed.py [--model synth-i2v|synth-t2v] [--student DIR]
        [--teacher DIR] [--threads 1] [--iters 20]

Without ``--student`` the student is built from the teacher with the ``vdmini`` plan (speed does
not depend on the weights). Without ``--teacher`` (and no shipped teacher) a random teacher of the
shipped architecture is used (synth-i2v only). One step is one conditional denoiser call at
σ = 1 on a val clip (synth-t2v: with its caption). Prints one JSON object: per-model
median/p90 (ms), params, speed-up.
"""

from __future__ import annotations

import argparse
import json
import platform
from typing import Any

import torch

from vdmbench.speed import measure


def _teacher_family(model: str, teacher: str | None) -> tuple[Any, str]:
    """The teacher's denoiser (from its adapter) and where its weights came from."""
    from vdmbench.acceleration import teacher_of
    from vdmbench.errors import WeightsNotFoundError

    try:
        return teacher_of(model, teacher), teacher or "shipped"
    except WeightsNotFoundError:
        if model != "synth-i2v":
            raise
        from vdmbench.models.synth_i2v import build_random_model
        from vdmbench.models.synth_i2v_denoiser import SynthI2VDenoiser

        return SynthI2VDenoiser(build_random_model(0)), "random (shipped architecture)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("synth-i2v", "synth-t2v"), default="synth-i2v")
    ap.add_argument("--student", default=None)
    ap.add_argument("--teacher", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from compression.plan import make_plan
    from compression.student import apply
    from compression.units import count_params
    from vdmbench.models.unets import load_unet

    fam, teacher_src = _teacher_family(args.model, args.teacher)
    pipe = fam.pipe
    student = (load_unet(args.student) if args.student
               else apply(pipe.unet, make_plan("vdmini", pipe.unet.config)))
    batch = fam.batch(args.batch, 0, split="val")
    x = fam.noise(batch, 0)
    sig = torch.full((args.batch,), 1.0)
    out = {"model": args.model, "device": platform.processor() or platform.machine(),
           "threads": args.threads,
           "teacher_weights": teacher_src,
           "student_weights": args.student or "vdmini plan (built from the teacher)",
           "shape": list(x.shape)}
    timings = {}
    for _round in range(2):  # interleave to share machine noise
        for name, unet in (("teacher", pipe.unet), ("student", student)):
            def fn(unet=unet) -> None:
                with torch.no_grad():
                    fam.denoise(unet, x, sig, batch)
            t = measure(fn, warmup=3, iters=args.iters, min_seconds=1.0)
            timings.setdefault(name, []).append(t)
    for name, unet in (("teacher", pipe.unet), ("student", student)):
        best = min(timings[name], key=lambda t: t.median_s)
        out[name] = {"median_ms": best.median_s * 1e3, "p90_ms": best.p90_s * 1e3,
                     "count": best.count, "valid": best.valid, "params": count_params(unet)}
    out["speedup_median"] = out["teacher"]["median_ms"] / out["student"]["median_ms"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
