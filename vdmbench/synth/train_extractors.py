"""Train the synthetic world's feature extractors on SynthMotion and write them to ``--out``.

    python -m vdmbench.synth.train_extractors --out vdmbench/assets/synth_extractors

Seeded (``--seed``), uses CUDA when present (``--device auto``), runs on CPU. Training videos are
rendered on the fly from the train split (each step sees new videos, so there is no epoch and no
over-fitting to a fixed set); accuracies are measured on the first ``--eval-videos`` videos of the
test split. Writes ``motion_net.safetensors``, ``content_net.safetensors`` and ``extractors.json``
(configs, held-out accuracies, training time and device, sha256 of each weight file).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vdmbench.data.synthmotion import (
    GENERATOR_VERSION,
    MOTION_CLASSES,
    render_batch,
    sample_meta,
)
from vdmbench.synth.extractor_nets import (
    CONTENT_HEADS,
    CONTENT_WEIGHTS,
    MOTION_WEIGHTS,
    build_net,
    save_net,
)

MOTION_CONFIG: dict[str, Any] = {"width": 16, "dim": 64, "input_size": [32, 32],
                                 "classes": list(MOTION_CLASSES)}
CONTENT_CONFIG: dict[str, Any] = {"width": 32, "dim": 64, "input_size": [32, 32],
                                  "heads": dict(CONTENT_HEADS)}


def _to_input(videos: torch.Tensor, device: str) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) → float (B, 3, T, H, W) in [-1, 1] on ``device``."""
    return (videos.to(device).float() / 127.5 - 1.0).permute(0, 4, 1, 2, 3).contiguous()


def _lr(step: int, steps: int, base: float) -> float:
    warm = max(1, steps // 20)
    if step < warm:
        return base * (step + 1) / warm
    return base * 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def _labels(metas: Sequence[Any], key: str, device: str) -> torch.Tensor:
    return torch.tensor([getattr(m, key) for m in metas], device=device)


def train_motion(steps: int, batch: int, device: str, seed: int, log_every: int = 50,
                 frame_choices: Sequence[int] = (8, 16)) -> tuple[torch.nn.Module, float]:
    """Train :class:`MotionNet`; returns (net in eval mode, wall-clock seconds)."""
    torch.manual_seed(seed)
    net = build_net("motion", MOTION_CONFIG).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    start = time.perf_counter()
    net.train()
    for step in range(steps):
        frames = frame_choices[step % len(frame_choices)]
        idx = range(step * batch, (step + 1) * batch)
        videos, metas = render_batch(idx, "train", frames=frames, seed=seed)
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, 3e-3)
        _, logits = net(_to_input(videos, device))
        loss = F.cross_entropy(logits, _labels(metas, "motion", device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            acc = (logits.argmax(1) == _labels(metas, "motion", device)).float().mean().item()
            print(f"motion step {step:5d}/{steps} T={frames:2d} loss {loss.item():.4f} "
                  f"batch acc {acc:.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
    return net.eval(), time.perf_counter() - start


def train_content(steps: int, batch: int, device: str, seed: int, frames_per_video: int = 4,
                  log_every: int = 50) -> tuple[torch.nn.Module, float]:
    """Train :class:`ContentNet` on ``batch`` videos × ``frames_per_video`` frames per step."""
    torch.manual_seed(seed + 1)
    net = build_net("content", CONTENT_CONFIG).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    start = time.perf_counter()
    net.train()
    offset = 10_000_000  # disjoint from the motion net's training indices
    for step in range(steps):
        idx = range(offset + step * batch, offset + (step + 1) * batch)
        videos, metas = render_batch(idx, "train", frames=frames_per_video, seed=seed)
        x = _to_input(videos, device).permute(0, 2, 1, 3, 4).reshape(-1, 3, 32, 32)
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, 3e-3)
        _, out = net(x)
        loss = torch.zeros((), device=device)
        accs = {}
        for key in CONTENT_HEADS:
            y = _labels(metas, key, device).repeat_interleave(frames_per_video)
            loss = loss + F.cross_entropy(out[key], y)
            accs[key] = (out[key].argmax(1) == y).float().mean().item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"content step {step:5d}/{steps} loss {loss.item():.4f} "
                  + " ".join(f"{k} {v:.3f}" for k, v in accs.items())
                  + f" ({time.perf_counter() - start:.0f} s)", flush=True)
    return net.eval(), time.perf_counter() - start


@torch.no_grad()
def evaluate_motion(net: torch.nn.Module, n: int, frames: int, device: str, seed: int = 0,
                    batch: int = 100) -> float:
    """Held-out motion accuracy over test videos 0..n-1 with ``frames`` frames."""
    net.eval()
    correct = 0
    for k in range(0, n, batch):
        videos, metas = render_batch(range(k, min(n, k + batch)), "test", frames=frames, seed=seed)
        _, logits = net(_to_input(videos, device))
        correct += int((logits.argmax(1) == _labels(metas, "motion", device)).sum())
    return correct / n


@torch.no_grad()
def evaluate_content(net: torch.nn.Module, n: int, frames: int, device: str, seed: int = 0,
                     batch: int = 50) -> dict[str, float]:
    """Held-out per-frame accuracy of each content head over test videos 0..n-1."""
    net.eval()
    correct = dict.fromkeys(CONTENT_HEADS, 0)
    for k in range(0, n, batch):
        videos, metas = render_batch(range(k, min(n, k + batch)), "test", frames=frames, seed=seed)
        x = _to_input(videos, device).permute(0, 2, 1, 3, 4).reshape(-1, 3, *videos.shape[2:4])
        _, out = net(x)
        for key in CONTENT_HEADS:
            y = _labels(metas, key, device).repeat_interleave(frames)
            correct[key] += int((out[key].argmax(1) == y).sum())
    return {key: c / (n * frames) for key, c in correct.items()}


def write_example_strips(folder: str | Path, per_class: int = 3, frames: int = 8,
                         scale: int = 4) -> list[Path]:
    """Write ``synth_<motion>.png`` (``per_class`` test videos × ``frames`` frames each) and
    ``synth_overview.png`` (one video per class) into ``folder``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_class: dict[int, list[int]] = {k: [] for k in range(len(MOTION_CLASSES))}
    i = 0
    while min(len(v) for v in by_class.values()) < per_class:
        m = sample_meta(i, "test")
        if len(by_class[m.motion]) < per_class:
            by_class[m.motion].append(i)
        i += 1
    pad = np.full((2 * scale, 1, 3), 255, np.uint8)

    def strip(index: int) -> np.ndarray:
        video, _ = render_batch([index], "test", frames=frames)
        v = video[0].numpy()
        sep = np.full((v.shape[1], 1, 3), 255, np.uint8)
        row = np.concatenate([np.concatenate([f, sep], axis=1) for f in v], axis=1)
        return np.kron(row, np.ones((scale, scale, 1), np.uint8))

    paths = []
    for k, name in enumerate(MOTION_CLASSES):
        rows = [strip(i) for i in by_class[k]]
        img = np.concatenate([np.concatenate([r, np.broadcast_to(pad, (pad.shape[0],
                             r.shape[1], 3))]) for r in rows])
        p = folder / f"synth_{name}.png"
        plt.imsave(p, img)
        paths.append(p)
    fig, axes = plt.subplots(len(MOTION_CLASSES), 1, figsize=(frames * 1.1, len(MOTION_CLASSES)))
    for k, ax in enumerate(axes):
        meta = sample_meta(by_class[k][0], "test")
        ax.imshow(strip(by_class[k][0]))
        ax.set_title(f"{MOTION_CLASSES[k]}: {meta.caption}", fontsize=7, loc="left")
        ax.axis("off")
    fig.tight_layout()
    p = folder / "synth_overview.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder for the weights and JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--motion-steps", type=int, default=1500)
    ap.add_argument("--motion-batch", type=int, default=32)
    ap.add_argument("--content-steps", type=int, default=1500)
    ap.add_argument("--content-batch", type=int, default=32)
    ap.add_argument("--eval-videos", type=int, default=1000)
    ap.add_argument("--only", choices=["motion", "content"], default=None,
                    help="train one net only (the other's entry in extractors.json is kept)")
    ap.add_argument("--strips", default=None, help="also write example strips to this folder")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" \
        else args.device
    dev_name = torch.cuda.get_device_name(0) if device.startswith("cuda") else \
        f"CPU ({platform.processor() or platform.machine()}, {args.threads} thread(s))"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "extractors.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.exists() else {}
    report.update({"generator_version": GENERATOR_VERSION, "seed": args.seed,
                   "torch": torch.__version__})

    if args.only in (None, "motion"):
        cpu0 = time.process_time()
        net, secs = train_motion(args.motion_steps, args.motion_batch, device, args.seed)
        cpu = time.process_time() - cpu0
        acc = {f"{t}_frames": evaluate_motion(net, args.eval_videos, t, device)
               for t in (16, 8)}
        sha = save_net(net, "motion", MOTION_CONFIG, out / MOTION_WEIGHTS)
        report["motion"] = {
            "file": MOTION_WEIGHTS, "sha256": sha, "config": MOTION_CONFIG,
            "params": sum(p.numel() for p in net.parameters()),
            "steps": args.motion_steps, "batch": args.motion_batch, "train_frames": [8, 16],
            "train_seconds": round(secs, 1), "train_cpu_seconds": round(cpu, 1),
            "device": dev_name, "test_accuracy": acc, "eval_videos": args.eval_videos,
        }
        print("motion test accuracy", acc, flush=True)
    if args.only in (None, "content"):
        cpu0 = time.process_time()
        net, secs = train_content(args.content_steps, args.content_batch, device, args.seed)
        cpu = time.process_time() - cpu0
        acc = evaluate_content(net, args.eval_videos, 8, device)
        sha = save_net(net, "content", CONTENT_CONFIG, out / CONTENT_WEIGHTS)
        report["content"] = {
            "file": CONTENT_WEIGHTS, "sha256": sha, "config": CONTENT_CONFIG,
            "params": sum(p.numel() for p in net.parameters()),
            "steps": args.content_steps, "batch_videos": args.content_batch,
            "frames_per_video": 4, "train_seconds": round(secs, 1),
            "train_cpu_seconds": round(cpu, 1), "device": dev_name,
            "test_accuracy_per_frame": acc, "eval_videos": args.eval_videos, "eval_frames": 8,
        }
        print("content test accuracy", acc, flush=True)
    tmp = report_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    tmp.replace(report_path)
    if args.strips:
        for p in write_example_strips(args.strips):
            print("wrote", p)


if __name__ == "__main__":
    main()
