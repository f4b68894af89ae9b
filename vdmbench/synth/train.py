"""Train the synthetic world's image-to-video teacher (``synth-i2v``) on SynthMotion.

    python -m vdmbench.synth.train --out DIR [--steps N] [--seed S] [--device cpu|cuda]

EDM denoising loss (log-normal σ, weight λ(σ)), AdamW with a linear warm-up, gradient clipping,
an EMA of the weights (the EMA is what is saved). Every step renders fresh SynthMotion train-split
videos (indices ``step·batch … step·batch + batch − 1``), so no video is seen twice. Motion
classes are dropped to the null bucket with probability ``--class-dropout``. On the CPU the script
uses one thread unless ``--threads`` says otherwise; CUDA is used when present unless
``--device cpu``. A killed run resumes from ``DIR/train_state.pt`` (saved every
``--checkpoint-every`` steps and at the end, so a larger ``--steps`` continues a finished
run). Outputs in ``DIR``: the model directory (``unet/``,
``image_encoder/``, ``sampler.json``), ``loss.csv``, ``train_log.json`` and, with
``--figures DIR2``, ``teacher_samples.png`` and ``teacher_loss.png``.
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

from vdmbench.data.synthmotion import MOTION_CLASSES, render_batch
from vdmbench.models.synth_i2v import (
    SamplerConfig,
    SynthI2VPipeline,
    build_random_model,
    count_params,
    save_model_dir,
    video_to_uint8,
)
from vdmbench.synth.train_state import (
    check_args,
    ema_update,
    load_train_state,
    save_train_state,
)
from vdmbench.video import to_unit_float


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def batch_videos(step: int, batch: int, sampler: SamplerConfig, data_seed: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """SynthMotion train videos of ``step``: float ``(B, T, 3, H, W)`` in [-1, 1] and motion
    classes ``(B,)`` int64."""
    idx = list(range(step * batch, (step + 1) * batch))
    videos, metas = render_batch(idx, "train", sampler.frames, sampler.height, sampler.width,
                                 data_seed)
    x = to_unit_float(videos).permute(0, 1, 4, 2, 3).contiguous()
    return x, torch.tensor([m.motion for m in metas], dtype=torch.int64)


def plot_loss(csv_path: Path, png_path: Path) -> None:
    """Loss per step (light) and its 50-step moving average, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    steps = [int(r["step"]) for r in rows]
    loss = torch.tensor([float(r["loss"]) for r in rows])
    k = min(50, len(rows))
    smooth = torch.nn.functional.avg_pool1d(loss.view(1, 1, -1), k, 1).view(-1)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    ax.plot(steps, loss.tolist(), lw=0.5, alpha=0.35, label="per step")
    ax.plot(steps[k - 1:], smooth.tolist(), lw=1.6, label=f"{k}-step mean")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("EDM loss λ(σ)·MSE")
    ax.set_title("synth-i2v teacher training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def sample_grid(pipe: SynthI2VPipeline, png_path: Path, data_seed: int, steps: int | None = None,
                count: int = 6, scale: int = 4) -> None:
    """For ``count`` test-split videos with distinct motion classes: a row of real frames and a
    row generated from the real first frame and class, frames left to right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = pipe.sampler
    chosen: list[int] = []
    seen: set[int] = set()
    i = 0
    while len(chosen) < count and i < 500:
        _, metas = render_batch([i], "test", s.frames, s.height, s.width, data_seed)
        if metas[0].motion not in seen:
            seen.add(metas[0].motion)
            chosen.append(i)
        i += 1
    real, metas = render_batch(chosen, "test", s.frames, s.height, s.width, data_seed)
    gens = [torch.Generator().manual_seed(1000 + j) for j in range(len(chosen))]
    fake = video_to_uint8(pipe.sample(real[:, 0], [m.motion for m in metas], steps=steps,
                                      generators=gens).float())
    fig, axes = plt.subplots(2 * len(chosen), 1, figsize=(s.frames * 0.9, 2 * len(chosen) * 0.95),
                             dpi=100)
    for j, m in enumerate(metas):
        for r, (vid, tag) in enumerate(((real[j], "real"), (fake[j], "generated"))):
            strip = vid.permute(1, 0, 2, 3).reshape(s.height, s.frames * s.width, 3)
            strip = strip.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
            ax = axes[2 * j + r]
            ax.imshow(strip.numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"{tag}\n{MOTION_CLASSES[m.motion]}" if r == 0 else tag, fontsize=7,
                          rotation=0, ha="right", va="center")
    fig.suptitle(f"synth-i2v: test-split first frames → {s.frames} frames "
                 f"({steps or s.steps} Euler steps)", fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def train(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = _device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    sampler = SamplerConfig(frames=args.frames, height=args.size, width=args.size,
                            steps=args.sample_steps, sigma_max=args.sigma_max)
    pipe = build_random_model(args.seed, sampler, channels=args.channels, heads=args.heads,
                              motion_context=args.motion_context)
    pipe.unet.train().requires_grad_(True).to(dev)
    pipe.image_encoder.train().requires_grad_(True).to(dev)
    model = torch.nn.ModuleDict({"unet": pipe.unet, "image_encoder": pipe.image_encoder})
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99),
                            weight_decay=args.weight_decay)
    gen = torch.Generator().manual_seed(args.seed + 1)
    start, elapsed = 0, 0.0
    state_path = out / "train_state.pt"
    loss_csv = out / "loss.csv"
    resumed = load_train_state(state_path, model, ema, opt, gen, dev)
    if resumed:
        start, elapsed = resumed
    else:
        loss_csv.write_text("step,loss,seconds\n")
    t0 = time.perf_counter() - elapsed
    for step in range(start, args.steps):
        x, motion = batch_videos(step, args.batch, sampler, args.data_seed)
        drop = torch.rand(len(motion), generator=gen) < args.class_dropout
        motion = torch.where(drop, torch.full_like(motion, sampler.null_motion_bucket), motion)
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = pipe.loss(x.to(dev), motion, args.p_mean, args.p_std, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        ema_update(ema, model, min(args.ema_decay, (1 + step) / (10 + step)))
        now = time.perf_counter() - t0
        with loss_csv.open("a") as f:
            f.write(f"{step},{loss.item():.6f},{now:.2f}\n")
        if step % args.log_every == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {now:7.1f}s", flush=True)
        if (step + 1) % args.checkpoint_every == 0 or step + 1 == args.steps:
            save_train_state(state_path, model, ema, opt, gen, step + 1, now)
    seconds = time.perf_counter() - t0
    ema_cpu = ema.to("cpu").float()
    save_model_dir(out, ema_cpu["unet"], ema_cpu["image_encoder"], sampler,
                   dtype=getattr(torch, args.save_dtype))
    with loss_csv.open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    tail = losses[-100:]
    log = {
        "command": " ".join(["python -m vdmbench.synth.train", *sys.argv[1:]]),
        "args": vars(args), "steps": args.steps, "train_seconds": round(seconds, 1),
        "final_loss_mean_last_100": sum(tail) / max(1, len(tail)),
        "params": {"unet": count_params(ema_cpu["unet"]),
                   "image_encoder": count_params(ema_cpu["image_encoder"])},
        "device": str(dev), "threads": torch.get_num_threads() if dev.type == "cpu" else None,
        "machine": f"{platform.processor() or platform.machine()} ({platform.platform()})",
        "torch": torch.__version__,
    }
    (out / "train_log.json").write_text(json.dumps(log, indent=2) + "\n")
    if args.figures:
        fig_dir = Path(args.figures)
        fig_dir.mkdir(parents=True, exist_ok=True)
        plot_loss(loss_csv, fig_dir / "teacher_loss.png")
        ema_pipe = SynthI2VPipeline(ema_cpu["unet"], ema_cpu["image_encoder"], sampler)
        sample_grid(ema_pipe, fig_dir / "teacher_samples.png", args.data_seed)
    print(json.dumps({k: log[k] for k in ("steps", "train_seconds", "final_loss_mean_last_100",
                                          "params", "device")}), flush=True)
    return log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vdmbench.synth.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="initialisation and noise seed")
    p.add_argument("--data-seed", type=int, default=0, help="SynthMotion seed")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1…")
    p.add_argument("--threads", type=int, default=1, help="CPU threads")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip")
    p.add_argument("--ema-decay", type=float, default=0.99)
    p.add_argument("--p-mean", type=float, default=-0.4, help="log-normal σ: mean of ln σ")
    p.add_argument("--p-std", type=float, default=1.4, help="log-normal σ: std of ln σ")
    p.add_argument("--class-dropout", type=float, default=0.1)
    p.add_argument("--channels", type=int, nargs=4, default=[32, 32, 32, 32],
                   help="UNet block_out_channels (multiples of 32)")
    p.add_argument("--heads", type=int, nargs=4, default=[2, 2, 2, 2],
                   help="UNet attention heads per level")
    p.add_argument("--motion-context", action=argparse.BooleanOptionalAction, default=True,
                   help="also embed the motion bucket in the cross-attention context token")
    p.add_argument("--save-dtype", choices=["float32", "float16"], default="float32",
                   help="dtype of the saved weights (loaded back as float32)")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=16, help="height = width in pixels")
    p.add_argument("--sigma-max", type=float, default=20.0)
    p.add_argument("--sample-steps", type=int, default=8, help="default sampler steps")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--figures", default=None, help="write teacher_samples.png/teacher_loss.png")
    args = p.parse_args(argv)
    check_args(p, args, ("steps", "batch", "warmup", "threads", "frames", "size", "sample_steps"))
    if args.size % 8:
        p.error("--size must be a multiple of 8 (three 2× downsamplings)")
    return args


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
