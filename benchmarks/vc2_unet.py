"""Time one VideoCrafter2 UNet step (T2V-Turbo-v2's denoiser) at its real configuration.

    python benchmarks/vc2_unet.py            # GPU: 320×512×16 (latent 40×64), fp16, random weights
    python benchmarks/vc2_unet.py --tiny     # CPU smoke run: tiny config, float32

Random weights (speed does not depend on values), batch 1, guidance distilled (one UNet call per
sampling step, as T2V-Turbo-v2). Reports median / p90 / min milliseconds over ``--iters`` timed
calls after ``--warmup`` calls (CUDA events on GPU), the parameter count, the attention processors
in use and the environment, as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

TINY = {"block_out_channels": [32, 64], "layers_per_block": 2,
        "down_block_types": ["CrossAttnDownBlockVC2", "DownBlockVC2"],
        "up_block_types": ["UpBlockVC2", "CrossAttnUpBlockVC2"], "attention_head_dim": 16,
        "cross_attention_dim": 64, "transformer_in_heads": 2, "norm_num_groups": 8,
        "time_cond_proj_dim": 256}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny config on CPU (smoke run)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--dtype", default=None, choices=["float16", "bfloat16", "float32"])
    ap.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    args = ap.parse_args()
    torch.set_num_threads(1 if args.tiny else torch.get_num_threads())
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    dtype = getattr(torch, args.dtype or ("float16" if cuda else "float32"))
    if args.tiny:
        cfg, (f, h, w), ctx_dim = TINY, (4, 8, 8), 64
    else:
        cfg = {"time_cond_proj_dim": 256}
        f, h, w, ctx_dim = 16, 40, 64, 1024
    torch.manual_seed(0)
    with torch.device(device):
        unet = VideoCrafter2UNet.from_config(cfg).to(dtype).eval()
    params = sum(p.numel() for p in unet.parameters())
    x = torch.randn(1, 4, f, h, w, device=device, dtype=dtype)
    ctx = torch.randn(1, 77, ctx_dim, device=device, dtype=dtype)
    t = torch.tensor([999], device=device)
    wc = torch.randn(1, 256, device=device, dtype=dtype)
    fn = torch.compile(unet) if args.compile else unet

    def step() -> torch.Tensor:
        return fn(x, t, ctx, fps=16, timestep_cond=wc, return_dict=False)[0]

    times = []
    with torch.no_grad():
        for _ in range(args.warmup):
            step()
        for _ in range(args.iters):
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                    enable_timing=True)
                start.record()
                step()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                step()
                times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    procs = sorted({type(p).__name__ for p in unet.attn_processors.values()})
    print(json.dumps({
        "config": "tiny" if args.tiny else "videocrafter2-320x512x16",
        "latent": [1, 4, f, h, w], "dtype": str(dtype).replace("torch.", ""),
        "params": params, "median_ms": statistics.median(times),
        "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))], "min_ms": times[0],
        "iters": args.iters, "warmup": args.warmup, "compile": args.compile,
        "attention_processors": procs, "device": torch.cuda.get_device_name() if cuda else
        platform.processor() or platform.machine(), "torch": torch.__version__,
        "threads": torch.get_num_threads()}, indent=1))


if __name__ == "__main__":
    main()
