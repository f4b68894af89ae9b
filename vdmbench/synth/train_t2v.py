"""Train the synthetic world's text-to-video teacher (``synth-t2v``) on SynthMotion captions.

    python -m vdmbench.synth.train_t2v --out DIR [--steps N] [--minutes M] [--batch B]

EDM denoising loss (log-normal σ with P_mean −1.2, P_std 1.2, weight (σ² + σ_d²)/(σ σ_d)²) on
pixel-space videos, AdamW with a linear warm-up, gradient clipping at 1, an EMA of the weights
(the EMA is what is saved), captions dropped to the empty caption with probability
``--caption-dropout`` (for classifier-free guidance). Every step renders fresh SynthMotion
train-split videos (indices ``step·batch …``), so no video is seen twice. Training stops after
``--steps`` steps or ``--minutes`` of wall-clock time, whichever comes first. One CPU thread
unless ``--threads`` says otherwise. Outputs in ``DIR``: the model directory (see
:mod:`vdmbench.models.synth_t2v`), ``loss.csv`` and ``train_log.json`` (steps, wall-clock time,
final loss, arguments, environment).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

from vdmbench.data.synthmotion import render_batch
from vdmbench.models.synth_t2v import (
    CaptionEncoder,
    T2VSamplerConfig,
    denoise,
    save_model_dir,
    synthmotion_vocabulary,
    tiny_unet_config,
)
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet
from vdmbench.video import to_unit_float


def batch(step: int, size: int, s: T2VSamplerConfig, data_seed: int
          ) -> tuple[torch.Tensor, list[str]]:
    """Train videos of ``step``: float ``(B, 3, T, H, W)`` in [-1, 1] and their captions."""
    idx = list(range(step * size, (step + 1) * size))
    videos, metas = render_batch(idx, "train", s.frames, s.height, s.width, data_seed)
    return to_unit_float(videos).permute(0, 4, 1, 2, 3).contiguous(), [m.caption for m in metas]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--minutes", type=float, default=14.0, help="wall-clock limit")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--caption-dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    s = T2VSamplerConfig()
    unet = VideoCrafter2UNet.from_config(tiny_unet_config())
    te = CaptionEncoder(synthmotion_vocabulary(), dim=32)
    for m in unet.modules():  # start the temporal conv blocks' last conv away from exact zero
        if isinstance(m, torch.nn.Conv3d) and not m.weight.any():
            torch.nn.init.normal_(m.weight, std=1e-3)
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    ema_unet, ema_te = copy.deepcopy(unet).eval(), copy.deepcopy(te).eval()
    gen = torch.Generator().manual_seed(args.seed + 1)
    args.out.mkdir(parents=True, exist_ok=True)
    t0, losses, step = time.time(), [], 0
    with (args.out / "loss.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss", "seconds"])
        while step < args.steps and time.time() - t0 < args.minutes * 60:
            x0, captions = batch(step, args.batch, s, args.data_seed)
            drop = torch.rand(len(captions), generator=gen) < args.caption_dropout
            captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
            sigma = (torch.randn(len(captions), generator=gen) * 1.2 - 1.2).exp()
            noise = torch.randn(x0.shape, generator=gen)
            ctx = te(te.tokenize(captions))
            pred = denoise(unet, x0 + sigma.view(-1, 1, 1, 1, 1) * noise, sigma, ctx, s)
            weight = (sigma ** 2 + s.sigma_data ** 2) / (sigma * s.sigma_data) ** 2
            loss = (weight.view(-1, 1, 1, 1, 1) * (pred - x0) ** 2).mean()
            for g in opt.param_groups:
                g["lr"] = args.lr * min(1.0, (step + 1) / args.warmup)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            with torch.no_grad():
                for src, dst in ((unet, ema_unet), (te, ema_te)):
                    for p, q in zip(src.parameters(), dst.parameters()):
                        q.lerp_(p, 1 - args.ema)
            losses.append(float(loss.detach()))
            step += 1
            w.writerow([step, f"{losses[-1]:.6f}", f"{time.time() - t0:.1f}"])
            if step % 50 == 0:
                f.flush()
                recent = sum(losses[-50:]) / len(losses[-50:])
                print(f"step {step} loss {recent:.4f} {time.time() - t0:.0f}s", flush=True)
    save_model_dir(args.out, ema_unet, ema_te, s)
    log = {"steps": step, "seconds": round(time.time() - t0, 1),
           "final_loss_mean50": sum(losses[-50:]) / max(1, len(losses[-50:])),
           "args": {k: str(v) for k, v in vars(args).items()},
           "params": {"unet": sum(p.numel() for p in unet.parameters()),
                      "text_encoder": sum(p.numel() for p in te.parameters())},
           "torch": torch.__version__, "python": sys.version.split()[0],
           "machine": platform.machine(), "threads": torch.get_num_threads()}
    (args.out / "train_log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps({k: log[k] for k in ("steps", "seconds", "final_loss_mean50")}))
    return 0 if math.isfinite(log["final_loss_mean50"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
