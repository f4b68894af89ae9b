"""Train the latent synthetic world's temporal VAE on SynthMotion.

    python -m vdmbench.synth.train_vae --out DIR [--steps N] [--max-minutes M] [--seed S]

Model: :func:`vdmbench.models.synth_latent_i2v_vae.vae_config` (diffusers
``AutoencoderKLTemporalDecoder``). Loss per clip: the weighted mean of |x̂ − x| + (x̂ − x)² over
pixels in [-1, 1], weight ``1 + --chroma-weight × chroma(x)`` (normalised by the mean weight;
the objects are the only coloured pixels), plus ``--kl-weight`` × the posterior's KL divergence
to N(0, I) averaged over latent elements; the decoder reconstructs each clip's frames together
(its temporal layers see the clip). AdamW with a linear warm-up, gradient clipping, an EMA of
the weights (the EMA is what is exported). Step ``k`` renders SynthMotion train-split videos
``k·batch … k·batch + batch − 1`` (no video is seen twice while the batch size stays). Every
``--eval-every`` steps the EMA's reconstruction PSNR on fixed val-split clips is logged beside
the bilinear down/up-sampling baseline at the latent size.

A killed run resumes from ``DIR/train_state.pt`` (written every ``--checkpoint-every`` steps and
at the end); ``--max-minutes`` stops a run (this invocation's wall clock) after the step in
progress, checkpointed, so a budget can be spread over several runs (log rows written after
the last checkpoint are dropped on resume). At the end the EMA is exported to ``DIR/vae/``
(written beside it and renamed): float16 safetensors, a config whose ``scaling_factor`` is
1 / std of the latents of 64 train clips, and ``vae.json`` (record + sha256). Logs:
``DIR/loss.csv``, ``DIR/eval.csv``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from vdmbench.data.synthmotion import render_batch
from vdmbench.models.synth_latent_i2v_vae import (
    VAE_RECORD,
    VAE_WEIGHTS,
    build_random_vae,
    decode_latents,
    encode_frames,
    load_vae,
    save_vae,
)
from vdmbench.paths import sha256_file
from vdmbench.synth.train_state import (
    check_args,
    ema_update,
    load_train_state,
    save_train_state,
    truncate_log,
)
from vdmbench.video import to_unit_float


def clips(indices: list[int], split: str, frames: int, size: int, data_seed: int = 0
          ) -> torch.Tensor:
    """SynthMotion videos as float ``(B, T, 3, size, size)`` in [-1, 1]."""
    v, _ = render_batch(indices, split, frames, size, size, data_seed)
    return to_unit_float(v).permute(0, 1, 4, 2, 3).contiguous()


def chroma(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel colourfulness of videos ``(B, T, 3, H, W)`` in [-1, 1]: (max − min over RGB)
    / 2 ∈ [0, 1], shape ``(B, T, 1, H, W)`` (0 on SynthMotion's grey backgrounds)."""
    return (x.amax(dim=2, keepdim=True) - x.amin(dim=2, keepdim=True)) / 2


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """PSNR (dB) of videos in [-1, 1] after clamping and quantising to uint8 levels, over the
    whole batch."""
    q = [((t.clamp(-1, 1) + 1) * 127.5).round() for t in (x, y)]
    mse = ((q[0] - q[1]) ** 2).mean().item()
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(255.0 ** 2 / mse)).item()


def bilinear_baseline(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Each frame downsampled by ``factor`` (bilinear, antialiased) and upsampled back."""
    flat = x.flatten(0, 1)
    h, w = flat.shape[-2:]
    small = F.interpolate(flat, size=(h // factor, w // factor), mode="bilinear",
                          antialias=True, align_corners=False)
    return F.interpolate(small, size=(h, w), mode="bilinear",
                         align_corners=False).unflatten(0, x.shape[:2])


@torch.no_grad()
def reconstruct(vae: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Encode (posterior mode) and decode videos ``(B, T, 3, H, W)``."""
    return decode_latents(vae, encode_frames(vae, x))


def export(out: Path, ema: torch.nn.Module, args: argparse.Namespace, step: int,
           seconds: float, eval_row: dict[str, float] | None) -> dict[str, Any]:
    """Write ``out/vae/`` from the EMA weights (float16), with ``scaling_factor`` set from the
    latent std of 64 train clips measured *after* the float16 rounding."""
    final, vae_dir = out / "vae", out / "vae.tmp"
    shutil.rmtree(vae_dir, ignore_errors=True)
    vae = copy.deepcopy(ema).cpu().float().eval()
    save_vae(vae_dir, vae)  # rounding first: the scale is measured on the weights shipped
    vae = load_vae(vae_dir)
    x = clips(list(range(10**6, 10**6 + 64)), "train", args.frames, args.size, args.data_seed)
    with torch.no_grad():
        z = encode_frames(vae, x)
    scale = float(1.0 / z.std())
    vae.register_to_config(scaling_factor=scale)
    save_vae(vae_dir, vae)
    record = {
        "command": " ".join(["python -m vdmbench.synth.train_vae", *sys.argv[1:]]),
        "args": vars(args), "steps": step, "train_seconds": round(seconds, 1),
        "scaling_factor": scale, "latent_mean": float(z.mean()),
        "params": {"encoder": sum(p.numel() for p in vae.encoder.parameters())
                   + sum(p.numel() for p in vae.quant_conv.parameters()),
                   "decoder": sum(p.numel() for p in vae.decoder.parameters())},
        "eval": eval_row, "threads": torch.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()} ({platform.platform()})",
        "torch": torch.__version__, "file": VAE_WEIGHTS,
        "sha256": sha256_file(vae_dir / VAE_WEIGHTS),
    }
    (vae_dir / VAE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    vae_dir.replace(final)
    return record


def train(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    vae = build_random_vae(args.seed, channels=tuple(args.channels),
                           layers_per_block=args.layers_per_block,
                           latent_channels=args.latent_channels)
    vae.train().requires_grad_(True)
    ema = copy.deepcopy(vae).eval().requires_grad_(False)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.lr, betas=(0.9, 0.99),
                            weight_decay=args.weight_decay)
    gen = torch.Generator().manual_seed(args.seed + 1)
    factor = 2 ** (len(args.channels) - 1)
    state_path, loss_csv, eval_csv = out / "train_state.pt", out / "loss.csv", out / "eval.csv"
    start, elapsed = 0, 0.0
    logs = (loss_csv, eval_csv)
    resumed = load_train_state(state_path, vae, ema, opt, gen)
    if resumed:
        start, elapsed = resumed
        for log in logs:  # rows written after the checkpoint are redone
            truncate_log(log, start)
    else:
        loss_csv.write_text("step,loss,rec,kl,seconds\n")
        eval_csv.write_text("step,psnr_vae,psnr_bilinear,seconds\n")
    val = clips(list(range(args.eval_clips)), "val", args.frames, args.size, args.data_seed)
    base_psnr = psnr(bilinear_baseline(val, factor), val)
    t_run = time.perf_counter()
    t0 = t_run - elapsed
    last_eval: dict[str, float] | None = None
    step = start
    while step < args.steps:
        x = clips(list(range(step * args.batch, (step + 1) * args.batch)), "train",
                  args.frames, args.size, args.data_seed)
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        post = vae.encode(x.flatten(0, 1)).latent_dist
        z = post.sample(gen) if args.posterior == "sample" else post.mode()
        rec = vae.decode(z, num_frames=args.frames).sample.unflatten(0, x.shape[:2])
        err = rec - x
        w = 1.0 + args.chroma_weight * chroma(x)
        rec_loss = (w * (err.abs() + err ** 2)).mean() / w.mean()
        kl = 0.5 * (post.mean ** 2 + post.var - 1.0 - post.logvar).mean()
        loss = rec_loss + args.kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), args.clip)
        opt.step()
        ema_update(ema, vae, min(args.ema_decay, (1 + step) / (10 + step)))
        step += 1
        now = time.perf_counter() - t0
        with loss_csv.open("a") as f:
            f.write(f"{step - 1},{loss.item():.6f},{rec_loss.item():.6f},{kl.item():.4f},"
                    f"{now:.1f}\n")
        if (step - 1) % args.log_every == 0:
            print(f"step {step - 1:5d}  loss {loss.item():.4f}  kl {kl.item():.2f}  "
                  f"lr {lr:.1e}  {now:7.1f}s", flush=True)
        out_of_time = (args.max_minutes is not None
                       and time.perf_counter() - t_run > 60.0 * args.max_minutes)
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            p = psnr(reconstruct(ema, val), val)
            last_eval = {"step": step, "psnr_vae": p, "psnr_bilinear": base_psnr}
            with eval_csv.open("a") as f:
                f.write(f"{step},{p:.3f},{base_psnr:.3f},{now:.1f}\n")
            print(f"eval step {step}: PSNR VAE {p:.2f} dB, bilinear ×{factor} "
                  f"{base_psnr:.2f} dB", flush=True)
        if step % args.checkpoint_every == 0 or step == args.steps or out_of_time:
            save_train_state(state_path, vae, ema, opt, gen, step, now)
        if out_of_time:
            print(f"--max-minutes {args.max_minutes} reached at step {step}", flush=True)
            break
    record = export(out, ema, args, step, time.perf_counter() - t0, last_eval)
    print(json.dumps({k: record[k] for k in ("steps", "train_seconds", "scaling_factor",
                                             "params", "eval", "sha256")}), flush=True)
    return record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vdmbench.synth.train_vae", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="run directory (checkpoint, logs, vae/)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop this invocation after M minutes (checkpointed; rerun to resume)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and noise seed")
    p.add_argument("--data-seed", type=int, default=0, help="SynthMotion seed")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--batch", type=int, default=4, help="clips per step")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=32, help="height = width in pixels")
    p.add_argument("--channels", type=int, nargs="+", default=[64, 128, 128],
                   help="block_out_channels (multiples of 32); spatial factor 2^(n-1)")
    p.add_argument("--layers-per-block", type=int, default=1)
    p.add_argument("--latent-channels", type=int, default=4)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip")
    p.add_argument("--ema-decay", type=float, default=0.995)
    p.add_argument("--kl-weight", type=float, default=1e-4,
                   help="weight of the mean per-element KL divergence")
    p.add_argument("--chroma-weight", type=float, default=0.0,
                   help="reconstruction weight 1 + c·chroma(x) per pixel (objects are the only "
                        "coloured pixels and a few percent of them)")
    p.add_argument("--posterior", choices=["sample", "mode"], default="sample",
                   help="decode a posterior sample (KL-VAE) or its mean in training")
    p.add_argument("--eval-clips", type=int, default=16)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--checkpoint-every", type=int, default=25)
    args = p.parse_args(argv)
    check_args(p, args, ("steps", "batch", "warmup", "threads", "frames", "size", "eval_clips",
              "eval_every", "checkpoint_every", "log_every"))
    if args.size % 2 ** (len(args.channels) - 1):
        p.error("--size must be divisible by the spatial factor 2^(len(channels)-1)")
    return args


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
