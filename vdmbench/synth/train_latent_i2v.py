"""Train the latent synthetic world's image-to-video teacher (``synth-latent-i2v``).

    python -m vdmbench.synth.train_latent_i2v --out DIR [--vae VAE_DIR] [--steps N]
        [--max-minutes M] [--seed S]

Trains the UNet and the first-latent encoder of
:class:`~vdmbench.models.synth_latent_i2v_pipeline.SynthLatentI2VPipeline` on batches of VAE
latents of SynthMotion train clips (:class:`~vdmbench.synth.latent_clips.SynthMotionLatents`:
the ``synthmotion`` dataset's clips encoded by the VAE into the latent cache, ``--cache``) with
the EDM loss, SVD's conditioning noise augmentation, motion classes dropped to the null bucket
with probability ``--class-dropout``; AdamW with a linear warm-up, gradient clipping, an EMA of
the weights (what is saved). The VAE is frozen: ``--vae`` (default: the shipped one) must be the
VAE the model will ship with.

A killed run resumes from ``DIR/train_state.pt`` (every ``--checkpoint-every`` steps and at the
end); ``--max-minutes`` ends this invocation after the step in progress, checkpointed, without
writing the model (rerun to continue). When ``--steps`` are done: ``DIR/unet``,
``DIR/image_encoder``, ``DIR/sampler.json``, ``DIR/train_log.json``; logs in ``DIR/loss.csv``.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from vdmbench.models.synth_i2v_pipeline import count_params
from vdmbench.models.synth_latent_i2v_pipeline import (
    LatentSamplerConfig,
    SynthLatentI2VPipeline,
    build_random_model,
    save_latent_model_dir,
)
from vdmbench.models.synth_latent_i2v_vae import VAE_DIR, VAE_WEIGHTS, load_vae
from vdmbench.paths import sha256_file
from vdmbench.synth.latent_clips import SynthMotionLatents
from vdmbench.synth.train_state import (
    check_args,
    ema_update,
    load_train_state,
    save_train_state,
    truncate_log,
)

WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"


def train(args: argparse.Namespace) -> dict[str, Any] | None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    vae_dir = None if args.vae is None else Path(args.vae)
    vae = load_vae(vae_dir)
    sampler = LatentSamplerConfig(frames=args.frames, height=args.size, width=args.size,
                                  steps=args.sample_steps, sigma_max=args.sigma_max)
    pipe = build_random_model(vae, args.seed, sampler, channels=args.channels, heads=args.heads)
    pipe.unet.train().requires_grad_(True)
    pipe.image_encoder.train().requires_grad_(True)
    model = torch.nn.ModuleDict({"unet": pipe.unet, "image_encoder": pipe.image_encoder})
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99),
                            weight_decay=args.weight_decay)
    gen = torch.Generator().manual_seed(args.seed + 1)
    data = SynthMotionLatents(args.cache or out / "latents", vae, args.frames, args.size,
                              args.data_seed, args.pool)
    state_path, loss_csv = out / "train_state.pt", out / "loss.csv"
    start, elapsed = 0, 0.0
    logs = (loss_csv,)
    resumed = load_train_state(state_path, model, ema, opt, gen)
    if resumed:
        start, elapsed = resumed
        for log in logs:  # rows written after the checkpoint are redone
            truncate_log(log, start)
    else:
        loss_csv.write_text("step,loss,seconds\n")
    t_run = time.perf_counter()
    t0 = t_run - elapsed
    step = start
    while step < args.steps:
        b = data.batch(step, args.batch)
        motion = b["motion"]
        drop = torch.rand(len(motion), generator=gen) < args.class_dropout
        motion = torch.where(drop, torch.full_like(motion, sampler.null_motion_bucket), motion)
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = pipe.loss(b["latents"], motion, args.p_mean, args.p_std, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        ema_update(ema, model, min(args.ema_decay, (1 + step) / (10 + step)))
        step += 1
        now = time.perf_counter() - t0
        with loss_csv.open("a") as f:
            f.write(f"{step - 1},{loss.item():.6f},{now:.1f}\n")
        if (step - 1) % args.log_every == 0:
            print(f"step {step - 1:5d}  loss {loss.item():.4f}  lr {lr:.1e}  {now:7.1f}s",
                  flush=True)
        out_of_time = (args.max_minutes is not None
                       and time.perf_counter() - t_run > 60.0 * args.max_minutes)
        if step % args.checkpoint_every == 0 or step == args.steps or out_of_time:
            save_train_state(state_path, model, ema, opt, gen, step, now)
        if out_of_time and step < args.steps:
            print(f"--max-minutes {args.max_minutes} reached at step {step}; rerun to resume",
                  flush=True)
            return None
    seconds = time.perf_counter() - t0
    ema_cpu = ema.to("cpu").float()
    final = SynthLatentI2VPipeline(ema_cpu["unet"], ema_cpu["image_encoder"], vae, sampler)
    save_latent_model_dir(out, final)
    with loss_csv.open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    tail = losses[-100:]
    log = {
        "command": " ".join(["python -m vdmbench.synth.train_latent_i2v", *sys.argv[1:]]),
        "args": vars(args), "steps": args.steps, "train_seconds": round(seconds, 1),
        "final_loss_mean_last_100": sum(tail) / max(1, len(tail)),
        "params": {"unet": count_params(ema_cpu["unet"]),
                   "image_encoder": count_params(ema_cpu["image_encoder"])},
        "vae_sha256": sha256_file((vae_dir or VAE_DIR) / VAE_WEIGHTS),
        "weights_sha256": {f"{c}/{WEIGHTS_FILE}": sha256_file(out / c / WEIGHTS_FILE)
                           for c in ("unet", "image_encoder")},
        "threads": torch.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()} ({platform.platform()})",
        "torch": torch.__version__,
    }
    (out / "train_log.json").write_text(json.dumps(log, indent=2) + "\n")
    print(json.dumps({k: log[k] for k in ("steps", "train_seconds", "final_loss_mean_last_100",
                                          "params")}), flush=True)
    return log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vdmbench.synth.train_latent_i2v",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="run / model directory")
    p.add_argument("--vae", default=None, help="VAE directory (default: the shipped VAE)")
    p.add_argument("--steps", type=int, default=1600)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop this invocation after M minutes (checkpointed; rerun to resume)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and noise seed")
    p.add_argument("--data-seed", type=int, default=0, help="SynthMotion seed")
    p.add_argument("--cache", default=None,
                   help="latent cache root (default DIR/latents; any root works: the cache is "
                        "content-keyed)")
    p.add_argument("--pool", type=int, default=16384, help="train clips encoded and cycled")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip")
    p.add_argument("--ema-decay", type=float, default=0.99)
    p.add_argument("--p-mean", type=float, default=0.3, help="log-normal σ: mean of ln σ")
    p.add_argument("--p-std", type=float, default=1.4, help="log-normal σ: std of ln σ")
    p.add_argument("--class-dropout", type=float, default=0.1)
    p.add_argument("--channels", type=int, nargs=4, default=[32, 32, 32, 32],
                   help="UNet block_out_channels (multiples of 32)")
    p.add_argument("--heads", type=int, nargs=4, default=[2, 2, 2, 2])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=32, help="pixel height = width")
    p.add_argument("--sigma-max", type=float, default=40.0)
    p.add_argument("--sample-steps", type=int, default=8, help="default sampler steps")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--checkpoint-every", type=int, default=50)
    args = p.parse_args(argv)
    check_args(p, args, ("steps", "batch", "warmup", "threads", "frames", "size", "sample_steps",
                         "pool"))
    return args


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
