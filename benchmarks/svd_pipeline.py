"""Per-component latency of the SVD pipeline (random weights), eager and with Triton kernels.

The real configuration (UNet channels (320, 640, 1280, 1280), VAE (128, 256, 512, 512),
CLIP ViT-H/14) at 576×1024 and 14 frames on a GPU::

    python benchmarks/svd_pipeline.py --device cuda --dtype float16 --json out.json

``--unet-layers 1,1,2,1`` times a VDMini-like shallower UNet. ``--tiny`` runs the tiny test
architecture on the CPU (16×16, 4 frames) to check the script itself. Timings come from
:func:`vdmbench.speed.measure` (CUDA events on a GPU; warm-up, median, p90, validity) through the
adapter's own ``components()`` — the code path ``vdmbench run`` measures. Speed does not depend
on the weights, so random ones are used; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from vdmbench.acceleration import make_transforms, transformed
from vdmbench.generation import GenerationRequest
from vdmbench.models.svd import SFVAdapter, SVDAdapter, random_svd_pipeline
from vdmbench.speed import measure
from vdmbench.suite import TransformSpec

COMPONENTS = ("image_encode", "vae_encode", "denoise", "decode")


def _adapter(args: argparse.Namespace, cfg: bool) -> SVDAdapter:
    size = "tiny" if args.tiny else "real"
    layers: Any = tuple(int(x) for x in args.unet_layers.split(",")) if args.unet_layers else 2
    pipe = random_svd_pipeline(size, num_frames=args.frames, seed=0,
                               unet_layers_per_block=layers)
    pipe.to(args.device)
    if args.dtype != "float32":
        pipe.to(dtype=getattr(torch, args.dtype))
    pipe.set_progress_bar_config(disable=True)
    if cfg:
        options = SVDAdapter.Options(num_frames=args.frames, height=args.height,
                                     width=args.width, max_guidance_scale=3.0)
        return SVDAdapter("svd-random", pipe, {}, options, args.device, args.steps, args.dtype,
                          "none")
    options = SFVAdapter.Options(num_frames=args.frames, height=args.height, width=args.width)
    return SFVAdapter("sfv-random", pipe, {}, options, args.device, 1, args.dtype, "none")


def _request(args: argparse.Namespace) -> GenerationRequest:
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (args.height, args.width, 3), generator=g, dtype=torch.uint8)
    return GenerationRequest(id="bench", seed=0, frames=args.frames, height=args.height,
                             width=args.width, fps=7.0, image=image)


def _time(adapter: SVDAdapter, request: GenerationRequest, args: argparse.Namespace
          ) -> dict[str, Any]:
    comps = adapter.components(request)
    out = {}
    for name in COMPONENTS:
        t = measure(comps[name], warmup=args.warmup, iters=args.iters,
                    min_seconds=args.min_seconds, device=args.device)
        out[name] = t.to_dict()
    if args.end_to_end:
        t = measure(lambda: adapter.generate([request]), warmup=1, iters=max(1, args.iters // 2),
                    device=args.device)
        out["generate"] = t.to_dict()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny architecture on the CPU")
    ap.add_argument("--device", default=None, help="default: cuda, or cpu with --tiny")
    ap.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                    help="default: float16 on cuda, float32 on cpu")
    ap.add_argument("--frames", type=int, default=None, help="default 14 (4 with --tiny)")
    ap.add_argument("--height", type=int, default=None, help="default 576 (16 with --tiny)")
    ap.add_argument("--width", type=int, default=None, help="default 1024 (16 with --tiny)")
    ap.add_argument("--steps", type=int, default=25, help="SVD steps (per-video estimate)")
    ap.add_argument("--unet-layers", default=None, help="layers per down block, e.g. 1,1,2,1")
    ap.add_argument("--mode", choices=["sfv", "svd", "both"], default="both",
                    help="sfv: 1 step without CFG; svd: CFG (UNet batch 2)")
    ap.add_argument("--kernels", default="none,triton", help="comma list of none, triton")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--end-to-end", action="store_true", help="also time generate()")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.device = args.device or ("cpu" if args.tiny else "cuda")
    args.dtype = args.dtype or ("float32" if args.device == "cpu" else "float16")
    args.frames = args.frames or (4 if args.tiny else 14)
    args.height = args.height or (16 if args.tiny else 576)
    args.width = args.width or (16 if args.tiny else 1024)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: no CUDA device (use --tiny for a CPU check)", file=sys.stderr)
        return 2

    request = _request(args)
    results: dict[str, Any] = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "device_name": (torch.cuda.get_device_name(args.device)
                        if args.device.startswith("cuda") else "cpu"),
        "torch": torch.__version__, "runs": {}}
    modes = ["sfv", "svd"] if args.mode == "both" else [args.mode]
    for mode in modes:
        for kernels in [k.strip() for k in args.kernels.split(",") if k.strip()]:
            adapter = _adapter(args, cfg=(mode == "svd"))
            if kernels not in ("none", "triton"):
                ap.error(f"unknown kernels {kernels!r}")
            specs = [TransformSpec(name="triton")] if kernels == "triton" else []
            with transformed(adapter, make_transforms(specs, model=adapter.name),
                             model=adapter.name) as applied:
                card = adapter.describe()
                timings = _time(adapter, request, args)
            steps = card.steps
            per_video = sum(timings[c]["median_s"] for c in COMPONENTS if c != "denoise")
            per_video += steps * timings["denoise"]["median_s"]
            key = f"{mode}/{kernels}"
            results["runs"][key] = {"params": card.params, "steps": steps, "cfg": card.cfg,
                                    "timings": timings, "per_video_estimate_s": per_video,
                                    "all_valid": all(t["valid"] for t in timings.values()),
                                    "kernels_installed": applied[0]["installed"] if applied
                                    else {}}
            parts = "  ".join(f"{c} {timings[c]['median_s'] * 1e3:8.2f} ms" for c in COMPONENTS)
            print(f"{key:12s} {parts}  | {steps}×denoise → {per_video * 1e3:9.2f} ms/video"
                  f"{'' if results['runs'][key]['all_valid'] else '  (INVALID timings)'}")
            del adapter
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    for mode in modes:
        eager, fast = results["runs"].get(f"{mode}/none"), results["runs"].get(f"{mode}/triton")
        if eager and fast:
            print(f"{mode}: triton speed-up per video "
                  f"{eager['per_video_estimate_s'] / fast['per_video_estimate_s']:.3f}×")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
