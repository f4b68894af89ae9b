"""Benchmark the Triton kernels of ``compression.kernels`` against PyTorch, side by side in one run.

On a GPU (fp16, CUDA events, warm-up, medians):

1. device copy bandwidth (1 GiB copy, read + write);
2. temporal attention at SVD's shapes (9216×5, 2304×10, 576×20 heads; F = 14, 25; head dim 64;
   q, k, v strided as diffusers makes them): the Triton kernel (default launch config and the best
   of a sweep) vs every SDPA backend (flash, efficient, cuDNN, math, default), with % of the copy
   bandwidth (bytes = read Q, K, V + write O);
3. GroupNorm+SiLU vs ``F.group_norm`` + ``F.silu`` at the VAE's and UNet's shapes;
4. the SVD UNet step (real config, 576×1024 → 72×128 latents, 14 frames, random weights) and the
   SVD temporal VAE decode (14×72×128 latents): eager vs ``fast_kernels`` vs ``torch.compile`` vs
   both, with each output's difference to eager.

Prints a table (with the card's name) and writes ``kernels.json`` and ``kernels.md`` to ``--out``.

    python benchmarks/kernels.py --out results/kernels-h100        # on the GPU, one go
    python benchmarks/kernels.py --dry-run --out /tmp/kernels-dry  # CPU: tiny shapes, interpreter
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if "--dry-run" in sys.argv:
    # The dry run exercises the kernels on CPU: the interpreter must be on before Triton loads.
    os.environ.setdefault("TRITON_INTERPRET", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from compression.kernels import fast_kernels, group_norm_silu  # noqa: E402
from compression.kernels.attention import (  # noqa: E402
    VARIANTS,
    AttentionConfig,
    default_config,
    empty_output,
    in_domain,
    launch,
)
from compression.kernels.group_norm import in_domain as gn_in_domain  # noqa: E402

TARGETS = {
    "attention_speedup_vs_best_sdpa_f14": 3.0,
    "attention_copy_bw_fraction_f14": 0.65,
    "unet_speedup_fast_kernels": 1.3,
    "vae_speedup_fast_kernels": 3.0,
}


# -- timing -----------------------------------------------------------------------------------

def measure(fn: Callable[[], Any], device: torch.device, warmup: int,
            iters: int) -> dict[str, float]:
    """Median / p90 / min seconds of ``fn()``; CUDA events per iteration on GPU."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        for _ in range(iters):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
    else:
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    times.sort()
    return {"median_s": statistics.median(times), "p90_s": times[min(len(times) - 1,
            math.ceil(0.9 * len(times)) - 1)], "min_s": times[0], "iters": len(times)}


def copy_bandwidth(device: torch.device, nbytes: int, warmup: int, iters: int) -> float:
    """Bytes per second of a device-to-device copy (read + write counted)."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    t = measure(lambda: dst.copy_(src), device, warmup, iters)
    return 2 * nbytes / t["median_s"]


# -- temporal attention -----------------------------------------------------------------------

def diffusers_qkv(n: int, heads: int, frames: int, d: int, dtype: torch.dtype,
                  device: torch.device) -> tuple[torch.Tensor, ...]:
    """Three (N, F, heads·D) projections viewed (N, heads, F, D) as AttnProcessor2_0 does."""
    out = []
    for _ in range(3):
        t = torch.randn(n, frames, heads * d, dtype=dtype, device=device)
        out.append(t.view(n, frames, heads, d).transpose(1, 2))
    return tuple(out)


def sdpa_backends() -> dict[str, Any]:
    """name → sdpa_kernel backend (None = PyTorch's default choice)."""
    from torch.nn.attention import SDPBackend

    names = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION",
             "cudnn": "CUDNN_ATTENTION", "math": "MATH"}
    found: dict[str, Any] = {k: getattr(SDPBackend, v) for k, v in names.items()
                             if hasattr(SDPBackend, v)}
    found["default"] = None
    return found


def bench_attention(shapes: list[tuple[int, int, int, int]], dtype: torch.dtype,
                    device: torch.device, bw: float, warmup: int, iters: int,
                    sweep: bool) -> list[dict[str, Any]]:
    rows = [_attention_row(shape, dtype, device, bw, warmup, iters, sweep) for shape in shapes]
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def _attention_row(shape: tuple[int, int, int, int], dtype: torch.dtype, device: torch.device,
                   bw: float, warmup: int, iters: int, sweep: bool) -> dict[str, Any]:
    from torch.nn.attention import sdpa_kernel

    n, heads, frames, d = shape
    q, k, v = diffusers_qkv(n, heads, frames, d, dtype, device)
    nbytes = 4 * n * heads * frames * d * q.element_size()
    row: dict[str, Any] = {"shape": f"{n}x{heads} F={frames} D={d}", "bytes": nbytes}
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
    for name, backend in sdpa_backends().items():
        try:
            if backend is None:
                fn = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
                row[f"sdpa_{name}"] = measure(fn, device, warmup, iters)["median_s"]
            else:
                with sdpa_kernel(backend):
                    fn = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
                    fn()
                    row[f"sdpa_{name}"] = measure(fn, device, warmup, iters)["median_s"]
        except (RuntimeError, NotImplementedError) as err:
            row[f"sdpa_{name}"] = None
            row[f"sdpa_{name}_error"] = str(err).splitlines()[0][:200]
    if not in_domain(q, k, v):
        row["triton"] = None
        row["triton_error"] = "outside the kernel's domain here (no GPU / no interpreter)"
        return row
    out = empty_output(q)
    scale = 1 / math.sqrt(d)
    mod_interp = device.type != "cuda"
    cfg = default_config(frames, frames, d, dtype, mod_interp)
    row["triton"] = measure(lambda: launch(q, k, v, out, scale, cfg), device, warmup,
                            iters)["median_s"]
    row["triton_config"] = vars(cfg)
    row["triton_max_abs_err_vs_fp32"] = (out.float() - ref).abs().max().item()
    if sweep:
        best = (row["triton"], cfg)
        for variant in VARIANTS:
            for block_n in (1, 2, 4, 8, 16, 32):
                for warps in (1, 2, 4, 8):
                    c = AttentionConfig(block_n=block_n, num_warps=warps, variant=variant)
                    try:
                        t = measure(lambda c=c: launch(q, k, v, out, scale, c), device,
                                    warmup, iters)["median_s"]
                    except Exception as err:  # noqa: BLE001 - a config may not compile
                        print(f"  sweep {c}: {type(err).__name__}", file=sys.stderr)
                        continue
                    if (out.float() - ref).abs().max().item() > 1e-2:
                        continue  # a config that computes something wrong does not count
                    if t < best[0]:
                        best = (t, c)
        row["triton_best"] = best[0]
        row["triton_best_config"] = vars(best[1])
    fastest_triton = min(x for x in (row["triton"], row.get("triton_best")) if x)
    sdpa_times = [row[f"sdpa_{b}"] for b in sdpa_backends() if row.get(f"sdpa_{b}")]
    row["best_sdpa"] = min(sdpa_times) if sdpa_times else None
    row["speedup_vs_best_sdpa"] = row["best_sdpa"] / fastest_triton if sdpa_times else None
    row["triton_copy_bw_fraction"] = nbytes / fastest_triton / bw
    return row


# -- GroupNorm + SiLU -------------------------------------------------------------------------

def bench_group_norm(cases: list[tuple[str, tuple[int, ...], bool]], dtype: torch.dtype,
                     device: torch.device, bw: float, warmup: int,
                     iters: int) -> list[dict[str, Any]]:
    return [_group_norm_row(case, dtype, device, bw, warmup, iters) for case in cases]


def _group_norm_row(case: tuple[str, tuple[int, ...], bool], dtype: torch.dtype,
                    device: torch.device, bw: float, warmup: int, iters: int) -> dict[str, Any]:
    name, shape, permuted = case
    x = torch.randn(shape, dtype=dtype, device=device)
    if permuted:  # SVD's temporal resnet input: (B·F, C, H, W) seen as (B, C, F, H, W)
        b, c, f, h, w = shape
        x = torch.randn(b, f, c, h, w, dtype=dtype, device=device).permute(0, 2, 1, 3, 4)
    c = x.shape[1]
    weight = torch.randn(c, dtype=dtype, device=device)
    bias = torch.randn(c, dtype=dtype, device=device)
    row: dict[str, Any] = {"case": name, "shape": "x".join(map(str, shape))}
    torch_fn = lambda: F.silu(F.group_norm(x, 32, weight, bias, 1e-6))  # noqa: E731
    row["torch"] = measure(torch_fn, device, warmup, iters)["median_s"]
    if gn_in_domain(x, 32, weight, bias):
        fn = lambda: group_norm_silu(x, 32, weight, bias, 1e-6)  # noqa: E731
        row["triton"] = measure(fn, device, warmup, iters)["median_s"]
        row["speedup"] = row["torch"] / row["triton"]
        row["triton_copy_bw_fraction"] = 2 * x.numel() * x.element_size() / row["triton"] / bw
        ref = F.silu(F.group_norm(x.float(), 32, weight.float(), bias.float(), 1e-6))
        row["max_abs_err_vs_fp32"] = (fn().float() - ref).abs().max().item()
    else:
        row["triton"] = None
    return row


# -- whole models -----------------------------------------------------------------------------

def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-12)).item()


def bench_model(name: str, model: torch.nn.Module, run: Callable[[torch.nn.Module], torch.Tensor],
                device: torch.device, warmup: int, iters: int, compile_backend: str | None,
                project_once: bool) -> dict[str, Any]:
    """eager / fast_kernels / torch.compile / both for one model; times and output differences."""
    res: dict[str, Any] = {"model": name}
    with torch.no_grad():
        ref = run(model)
        res["eager"] = measure(lambda: run(model), device, warmup, iters)
        with fast_kernels(model, project_once=project_once) as handle:
            out = run(model)
            res["fast_kernels"] = measure(lambda: run(model), device, warmup, iters)
            res["fast_kernels_installed"] = handle.summary.as_dict()
        res["fast_kernels_rel_diff"] = rel_diff(out, ref)
        if compile_backend is None:
            return res
        for label, with_kernels in (("compile", False), ("compile+fast_kernels", True)):
            torch._dynamo.reset()
            handle = fast_kernels(model, project_once=project_once)
            if with_kernels:
                handle.install()
            try:
                compiled = torch.compile(model, backend=compile_backend)
                t0 = time.perf_counter()
                out = run(compiled)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                res[f"{label}_compile_s"] = time.perf_counter() - t0
                res[label] = measure(lambda c=compiled: run(c), device, warmup, iters)
                res[f"{label}_rel_diff"] = rel_diff(out, ref)
            except Exception as err:  # noqa: BLE001 - report, keep the other rows
                res[label] = None
                res[f"{label}_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
            finally:
                handle.restore()
        torch._dynamo.reset()
    return res


def svd_unet(dry: bool, device: torch.device, dtype: torch.dtype):
    from diffusers import UNetSpatioTemporalConditionModel

    if dry:
        unet = UNetSpatioTemporalConditionModel(
            sample_size=8, in_channels=8, out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            block_out_channels=(32, 64), addition_time_embed_dim=4,
            projection_class_embeddings_input_dim=12, layers_per_block=1,
            cross_attention_dim=32, num_attention_heads=(2, 4))
        frames, h, w, ctx, ids = 3, 8, 8, 32, 3
    else:  # the SVD config is diffusers' default: (320, 640, 1280, 1280), 1024-d context
        unet = UNetSpatioTemporalConditionModel()
        frames, h, w, ctx, ids = 14, 72, 128, 1024, 3
    unet = unet.to(device=device, dtype=dtype).eval()
    g = torch.Generator(device="cpu").manual_seed(0)
    sample = torch.randn(1, frames, 8, h, w, generator=g).to(device, dtype)
    t = torch.tensor([20.0], device=device)
    ehs = torch.randn(1, 1, ctx, generator=g).to(device, dtype)
    tid = torch.randn(1, ids, generator=g).to(device, dtype)
    return unet, lambda m: m(sample, t, ehs, tid).sample


def svd_vae(dry: bool, device: torch.device, dtype: torch.dtype):
    from diffusers import AutoencoderKLTemporalDecoder

    if dry:
        vae = AutoencoderKLTemporalDecoder(block_out_channels=(32, 32),
                                           down_block_types=("DownEncoderBlock2D",) * 2,
                                           layers_per_block=1, latent_channels=4)
        frames, h, w = 3, 4, 4
    else:  # the SVD config is diffusers' default: (128, 256, 512, 512), 4 latent channels
        vae = AutoencoderKLTemporalDecoder()
        frames, h, w = 14, 72, 128
    vae = vae.to(device=device, dtype=dtype).eval()
    z = torch.randn(frames, 4, h, w, generator=torch.Generator().manual_seed(0)).to(device, dtype)
    return vae, lambda m: m.decode(z, num_frames=frames).sample


# -- report -----------------------------------------------------------------------------------

def fmt_ms(s: float | None) -> str:
    return "n/a" if s is None else f"{s * 1e3:.3f}"


def to_markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [f"# compression.kernels benchmark — {env['device_name']}", "",
             f"torch {env['torch']}, triton {env['triton']}, dtype {report['dtype']}, "
             f"dry run: {report['dry_run']}, copy bandwidth "
             f"{report['copy_bandwidth_gbs']:.0f} GB/s", "", "## Temporal attention (ms)", ""]
    backends = list(sdpa_backends())
    lines.append("| shape | " + " | ".join(f"sdpa {b}" for b in backends)
                 + " | triton | triton best | × best SDPA | % copy bw |")
    lines.append("|" + "---|" * (len(backends) + 5))
    for r in report["attention"]:
        bwf = r.get("triton_copy_bw_fraction")
        sp = r.get("speedup_vs_best_sdpa")
        lines.append(f"| {r['shape']} | " + " | ".join(fmt_ms(r.get(f"sdpa_{b}")) for b in backends)
                     + f" | {fmt_ms(r.get('triton'))} | {fmt_ms(r.get('triton_best'))} | "
                     + ("n/a" if sp is None else f"{sp:.2f}×") + " | "
                     + ("n/a" if bwf is None else f"{100 * bwf:.0f}%") + " |")
    lines += ["", "## GroupNorm + SiLU (ms)", "",
              "| case | shape | torch | triton | × | % copy bw |",
              "|---|---|---|---|---|---|"]
    for r in report["group_norm"]:
        sp, bwf = r.get("speedup"), r.get("triton_copy_bw_fraction")
        lines.append(f"| {r['case']} | {r['shape']} | {fmt_ms(r['torch'])} | {fmt_ms(r['triton'])}"
                     f" | {'n/a' if sp is None else f'{sp:.2f}×'} | "
                     f"{'n/a' if bwf is None else f'{100 * bwf:.0f}%'} |")
    lines += ["", "## Models (median ms; × over eager; max relative difference to eager)", "",
              "| model | eager | fast_kernels | compile | compile+fast_kernels |",
              "|---|---|---|---|---|"]
    for r in report["models"]:
        eager = r["eager"]["median_s"]
        cells = []
        for key in ("fast_kernels", "compile", "compile+fast_kernels"):
            t = r.get(key)
            if not t:
                cells.append(r.get(f"{key}_error", "n/a"))
                continue
            cells.append(f"{fmt_ms(t['median_s'])} ({eager / t['median_s']:.2f}×, "
                         f"Δ {r.get(f'{key}_rel_diff', float('nan')):.1e})")
        lines.append(f"| {r['model']} | {fmt_ms(eager)} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets", "", "| target | wanted | measured | met |", "|---|---|---|---|"]
    for name, (want, got) in report["targets"].items():
        met = "n/a" if got is None else ("yes" if got >= want else "no")
        lines.append(f"| {name} | ≥ {want} | {'n/a' if got is None else f'{got:.2f}'} | {met} |")
    return "\n".join(lines) + "\n"


def environment(device: torch.device) -> dict[str, Any]:
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    env = {"torch": torch.__version__, "triton": triton_version,
           "python": platform.python_version(),
           "device": str(device), "cuda": torch.version.cuda,
           "triton_interpret": os.environ.get("TRITON_INTERPRET", "0")}
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
        props = torch.cuda.get_device_properties(device)
        env["sm_count"] = props.multi_processor_count
        env["memory_gib"] = props.total_memory / 2**30
    else:
        env["device_name"] = f"CPU ({platform.processor() or platform.machine()})"
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true",
                    help="tiny shapes on CPU through the Triton interpreter (code paths only)")
    ap.add_argument("--out", type=Path, default=Path("kernels-benchmark"),
                    help="folder for kernels.json and kernels.md")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--no-sweep", action="store_true", help="skip the attention config sweep")
    ap.add_argument("--no-models", action="store_true", help="skip the UNet / VAE rows")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    ap.add_argument("--project-once", action="store_true",
                    help="1-token cross-attention projects once per batch element (not bit-exact)")
    args = ap.parse_args(argv)
    if args.dry_run:
        torch.set_num_threads(1)

    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry_run else "cpu")
    if device.type == "cpu" and not args.dry_run:
        ap.error("no CUDA device: run with --dry-run to exercise the code paths on CPU")
    dry = args.dry_run
    dtype = torch.float32 if dry else torch.float16  # the interpreter has no bf16; fp16 is slow
    warmup = args.warmup if args.warmup is not None else (0 if dry else 10)
    iters = args.iters if args.iters is not None else (1 if dry else 50)
    model_iters = args.iters if args.iters is not None else (1 if dry else 10)
    torch.manual_seed(0)

    bw = copy_bandwidth(device, (1 << 20) if dry else (1 << 30), warmup, iters)
    print(f"device: {environment(device)['device_name']}  copy bandwidth {bw / 1e9:.0f} GB/s")

    att_shapes = ([(13, 3, 14, 64), (5, 2, 25, 64)] if dry else
                  [(9216, 5, 14, 64), (2304, 10, 14, 64), (576, 20, 14, 64),
                   (9216, 5, 25, 64), (2304, 10, 25, 64), (576, 20, 25, 64)])
    attention = bench_attention(att_shapes, dtype, device, bw, warmup, iters,
                                sweep=not args.no_sweep and not dry)
    if dry and not args.no_sweep:  # exercise the sweep code path on one tiny shape
        attention += bench_attention([(6, 2, 7, 16)], dtype, device, bw, 0, 1, sweep=True)

    gn_cases = ([("vae 4D", (3, 64, 8, 8), False), ("unet temporal 5D", (1, 64, 3, 4, 4), True)]
                if dry else
                [("vae up 128ch", (14, 128, 576, 1024), False),
                 ("vae up 256ch", (14, 256, 288, 512), False),
                 ("vae up 512ch", (14, 512, 144, 256), False),
                 ("vae mid 512ch", (14, 512, 72, 128), False),
                 ("unet 320ch", (14, 320, 72, 128), False),
                 ("unet temporal 320ch (permuted)", (1, 320, 14, 72, 128), True),
                 ("unet 1280ch", (14, 1280, 9, 16), False)])
    group_norm = bench_group_norm(gn_cases, dtype, device, bw, warmup, iters)

    models = []
    if not args.no_models:
        backend = None if args.no_compile else (
            "inductor" if device.type == "cuda" else "aot_eager")
        for name, build in (("svd_unet_step", svd_unet), ("svd_vae_decode", svd_vae)):
            model, run = build(dry, device, dtype)
            models.append(bench_model(name, model, run, device, 0 if dry else 3, model_iters,
                                      backend, args.project_once))
            del model, run
            if device.type == "cuda":
                torch.cuda.empty_cache()

    def first(rows: list[dict[str, Any]], key: str, frames: int) -> float | None:
        vals = [r[key] for r in rows if f"F={frames} " in r["shape"] and r.get(key) is not None]
        return min(vals) if vals else None

    def model_speedup(name: str) -> float | None:
        for r in models:
            if r["model"] == name and r.get("fast_kernels"):
                return r["eager"]["median_s"] / r["fast_kernels"]["median_s"]
        return None

    measured = {
        "attention_speedup_vs_best_sdpa_f14": first(attention, "speedup_vs_best_sdpa", 14),
        "attention_copy_bw_fraction_f14": first(attention, "triton_copy_bw_fraction", 14),
        "unet_speedup_fast_kernels": model_speedup("svd_unet_step"),
        "vae_speedup_fast_kernels": model_speedup("svd_vae_decode"),
    }
    report = {
        "dry_run": dry, "dtype": str(dtype).replace("torch.", ""),
        "environment": environment(device),
        "copy_bandwidth_gbs": bw / 1e9, "warmup": warmup, "iters": iters,
        "attention": attention, "group_norm": group_norm, "models": models,
        "targets": {k: (TARGETS[k], measured[k]) for k in TARGETS},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    md = to_markdown(report)
    for path, text in ((args.out / "kernels.json", json.dumps(report, indent=2, default=str)),
                       (args.out / "kernels.md", md)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    print(md)
    print(f"wrote {args.out / 'kernels.json'} and {args.out / 'kernels.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
