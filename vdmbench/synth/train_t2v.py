"""Train the synthetic world's text-to-video teacher (``synth-t2v``) on SynthMotion captions.

    python -m vdmbench.synth.train_t2v --out DIR [--steps N] [--minutes M] [--batch B]

EDM denoising loss (log-normal σ with ``--p-mean``/``--p-std``, weight (σ² + σ_d²)/(σ σ_d)²) on
pixel-space videos, AdamW with a linear warm-up, gradient clipping at 1, an EMA of the weights
(the EMA is what is saved), captions dropped to the empty caption with probability
``--caption-dropout`` (for classifier-free guidance). Every step renders fresh SynthMotion
train-split videos (indices ``step·batch …``), so no video is seen twice. Training stops after
``--steps`` steps or ``--minutes`` of wall-clock time (this invocation's), whichever comes first.
One CPU thread unless ``--threads`` says otherwise. A stopped run resumes from
``DIR/train_state.pt`` (saved every ``--checkpoint-every`` steps and at the end). Every
``--eval-every`` steps the EMA model samples the first ``--eval-videos`` SynthMotion *val*
captions and the trained motion net scores them (``motion_acc_synth``), logged to ``eval.csv``.
Outputs in ``DIR``: the model directory (see :mod:`vdmbench.models.synth_t2v`), ``loss.csv``,
``eval.csv`` and ``train_log.json`` (steps, wall-clock time, final loss, arguments, environment).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from vdmbench.data.synthmotion import SynthMotionDataset, render_batch
from vdmbench.metrics.base import MetricContext
from vdmbench.models.synth_t2v_pipeline import (
    CaptionEncoder,
    SynthT2VPipeline,
    T2VSamplerConfig,
    denoise,
    save_model_dir,
    synthmotion_vocabulary,
    tiny_unet_config,
)
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet
from vdmbench.suite import DatasetSpec
from vdmbench.synth.metrics import SynthMotionAccuracy
from vdmbench.synth.train_state import check_args, load_train_state, save_train_state
from vdmbench.video import Video, to_unit_float


def batch(step: int, size: int, s: T2VSamplerConfig, data_seed: int
          ) -> tuple[torch.Tensor, list[str]]:
    """Train videos of ``step``: float ``(B, 3, T, H, W)`` in [-1, 1] and their captions."""
    idx = list(range(step * size, (step + 1) * size))
    videos, metas = render_batch(idx, "train", s.frames, s.height, s.width, data_seed)
    return to_unit_float(videos).permute(0, 4, 1, 2, 3).contiguous(), [m.caption for m in metas]


def motion_accuracy(pipe: SynthT2VPipeline, videos: int, steps: int, data_seed: int) -> float:
    """``motion_acc_synth`` of ``pipe`` on the first ``videos`` SynthMotion val captions,
    sampled with ``steps`` Heun steps and the requests' seeds (fraction in [0, 1])."""
    s = pipe.sampler
    ds = SynthMotionDataset(DatasetSpec(name="synthmotion", split="val", num_videos=videos,
                                        frames=s.frames, height=s.height, width=s.width,
                                        seed=data_seed))
    reqs = ds.requests()
    out: list[Video] = []
    for k in range(0, len(reqs), 32):
        part = reqs[k:k + 32]
        frames = pipe.generate([r.prompt or "" for r in part], [r.seed for r in part], steps)
        out += [Video(f, s.fps) for f in frames]
    with tempfile.TemporaryDirectory() as tmp:
        metric = SynthMotionAccuracy(SynthMotionAccuracy.Options(),
                                     MetricContext(device="cpu", cache_dir=Path(tmp)))
        metric.update(out, reqs)
        return metric.compute().value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m vdmbench.synth.train_t2v",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--minutes", type=float, default=14.0, help="wall-clock limit of this call")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--p-mean", type=float, default=-0.4, help="log-normal σ: mean of ln σ")
    ap.add_argument("--p-std", type=float, default=1.4, help="log-normal σ: std of ln σ")
    ap.add_argument("--caption-dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=0, help="0: no evaluation during training")
    ap.add_argument("--eval-videos", type=int, default=64)
    ap.add_argument("--eval-steps", type=int, default=8, help="Heun steps of the evaluation")
    args = ap.parse_args(argv)
    check_args(ap, args, ("steps", "batch", "warmup", "threads", "checkpoint_every", "eval_videos",
              "eval_steps"), channels=False)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    s = T2VSamplerConfig()
    unet = VideoCrafter2UNet.from_config(tiny_unet_config())
    te = CaptionEncoder(synthmotion_vocabulary(), dim=32)
    for m in unet.modules():  # start the temporal conv blocks' last conv away from exact zero
        if isinstance(m, torch.nn.Conv3d) and not m.weight.any():
            torch.nn.init.normal_(m.weight, std=1e-3)
    model = torch.nn.ModuleDict({"unet": unet, "text_encoder": te})
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(args.seed + 1)
    args.out.mkdir(parents=True, exist_ok=True)
    state_path, loss_csv, eval_csv = (args.out / n for n in
                                      ("train_state.pt", "loss.csv", "eval.csv"))
    step, elapsed = 0, 0.0
    resumed = load_train_state(state_path, model, ema, opt, gen)
    if resumed:
        step, elapsed = resumed
    else:
        loss_csv.write_text("step,loss,seconds\n")
        eval_csv.write_text("step,motion_acc_synth,seconds\n")
    t_call = time.time()
    t0 = t_call - elapsed

    def checkpoint() -> None:
        save_train_state(state_path, model, ema, opt, gen, step, time.time() - t0)

    while step < args.steps and time.time() - t_call < args.minutes * 60:
        x0, captions = batch(step, args.batch, s, args.data_seed)
        drop = torch.rand(len(captions), generator=gen) < args.caption_dropout
        captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
        sigma = (torch.randn(len(captions), generator=gen) * args.p_std + args.p_mean).exp()
        noise = torch.randn(x0.shape, generator=gen)
        ctx = te(te.tokenize(captions))
        pred = denoise(unet, x0 + sigma.view(-1, 1, 1, 1, 1) * noise, sigma, ctx, s)
        weight = (sigma ** 2 + s.sigma_data ** 2) / (sigma * s.sigma_data) ** 2
        loss = (weight.view(-1, 1, 1, 1, 1) * (pred - x0) ** 2).mean()
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / args.warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for p, q in zip(model.parameters(), ema.parameters(), strict=True):
                q.lerp_(p, 1 - args.ema)
        step += 1
        with loss_csv.open("a") as f:
            f.write(f"{step},{float(loss.detach()):.6f},{time.time() - t0:.1f}\n")
        if step % 50 == 0:
            print(f"step {step} loss {float(loss.detach()):.4f} {time.time() - t0:.0f}s",
                  flush=True)
        if step % args.checkpoint_every == 0:
            checkpoint()
        if args.eval_every and step % args.eval_every == 0:
            acc = motion_accuracy(SynthT2VPipeline(ema["unet"], ema["text_encoder"], s),
                                  args.eval_videos, args.eval_steps, args.data_seed)
            with eval_csv.open("a") as f:
                f.write(f"{step},{acc:.4f},{time.time() - t0:.1f}\n")
            print(f"step {step} motion_acc_synth (val, {args.eval_videos} videos) {acc:.3f}",
                  flush=True)
    checkpoint()
    save_model_dir(args.out, ema["unet"], ema["text_encoder"], s)
    with loss_csv.open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    tail = losses[-50:]
    log = {"steps": step, "seconds": round(time.time() - t0, 1),
           "final_loss_mean50": sum(tail) / max(1, len(tail)),
           "command": " ".join(["python -m vdmbench.synth.train_t2v", *sys.argv[1:]]),
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
