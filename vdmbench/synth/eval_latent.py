"""Measure the latent synthetic world: VAE reconstruction and per-component times.

    python -m vdmbench.synth.eval_latent [--vae DIR] [--teacher DIR] [--clips N] [--out FILE]
        [--figures DIR]

- reconstruction of ``--clips`` SynthMotion test clips (8 × 32 × 32): PSNR of the VAE
  (posterior mode) and of bilinear down/up-sampling to the latent's spatial size; synthetic FVD
  (motion-net features, ``fvd_synth``'s extractor) and content FD of the reconstructions against
  the real clips, and of a disjoint set of real test clips against them (the floor);
- times on this CPU (``--threads``): ``encode`` / ``denoise`` (one UNet step) / ``decode`` of
  the ``synth-latent-i2v`` adapter's ``components()`` for one request, median of
  ``--repeats``; with no ``--teacher``, a randomly initialised teacher of the default
  architecture (speed does not depend on the weights).

Writes the numbers as JSON (stdout and ``--out``); ``--figures`` also writes the VAE's loss
and PSNR curves (``--vae-run``: its run directory) and a reconstruction strip.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from vdmbench.data.synthmotion import render_batch, request_seed
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.frechet import FeatureStats, frechet_distance_from_stats
from vdmbench.models.synth_latent_i2v_vae import load_vae, spatial_factor
from vdmbench.synth.extractor_nets import SynthContentExtractor, SynthMotionExtractor
from vdmbench.synth.train_vae import bilinear_baseline, clips, psnr, reconstruct
from vdmbench.video import video_to_uint8


def _fd(extractor: Any, a: torch.Tensor, b: torch.Tensor) -> float:
    sa, sb = FeatureStats(), FeatureStats()
    for k in range(0, a.shape[0], 64):
        sa.update(extractor.features(a[k:k + 64]))
        sb.update(extractor.features(b[k:k + 64]))
    return float(frechet_distance_from_stats(sa, sb))


def reconstruction(vae: torch.nn.Module, n: int) -> dict[str, Any]:
    """PSNR and Fréchet distances of the VAE's reconstructions of ``n`` test clips."""
    x = clips(list(range(n)), "test", 8, 32)
    other = clips(list(range(n, 2 * n)), "test", 8, 32)
    rec = torch.cat([reconstruct(vae, x[k:k + 32]) for k in range(0, n, 32)])
    bil = bilinear_baseline(x, spatial_factor(vae))
    u8 = {k: video_to_uint8(v.clamp(-1, 1)) for k, v in
          (("real", x), ("rec", rec), ("bilinear", bil), ("other", other))}
    motion, content = SynthMotionExtractor(), SynthContentExtractor()
    out: dict[str, Any] = {"clips": n, "psnr_vae": psnr(rec, x), "psnr_bilinear": psnr(bil, x)}
    for name, ext in (("fvd_synth", motion), ("content_fd_synth", content)):
        out[name] = {"reconstructed_vs_real": _fd(ext, u8["rec"], u8["real"]),
                     "bilinear_vs_real": _fd(ext, u8["bilinear"], u8["real"]),
                     "real_vs_other_real": _fd(ext, u8["other"], u8["real"])}
    return out


def component_times(teacher: str | None, repeats: int, vae_dir: str | None = None
                    ) -> dict[str, Any]:
    """Median ms of the adapter's components (and a whole video at its default steps); with no
    ``teacher``, a random one around ``vae_dir`` (None = the shipped VAE)."""
    from vdmbench.models.synth_latent_i2v import SynthLatentI2VAdapter

    with tempfile.TemporaryDirectory() as tmp:
        if teacher is None:
            from vdmbench.models.synth_latent_i2v_pipeline import (
                build_random_model,
                save_latent_model_dir,
            )

            vae = load_vae(None if vae_dir is None else Path(vae_dir))
            save_latent_model_dir(tmp, build_random_model(vae, seed=0))
            if vae_dir is not None:
                shutil.copytree(vae_dir, Path(tmp) / "vae")
            teacher = tmp
        model = SynthLatentI2VAdapter.load("t", teacher, {}, "cpu")
        v, metas = render_batch([0], "test", 8, 32, 32, 0)
        req = GenerationRequest(id="r", seed=request_seed(0, "test", 0), frames=8, height=32,
                                width=32, fps=8.0, image=v[0, 0].clone(),
                                extra={"motion_class": metas[0].motion})
        comps = model.components(req)
        out: dict[str, Any] = {}
        for name in ("encode", "denoise", "decode", "video"):
            fn = comps[name]
            fn()
            ts = []
            for _ in range(repeats if name != "video" else max(3, repeats // 4)):
                t0 = time.perf_counter()
                fn()
                ts.append(1000 * (time.perf_counter() - t0))
            out[f"{name}_ms"] = statistics.median(ts)
        out["steps"] = model.steps
        card = model.describe()
        out["params"] = card.params
    one = out["encode_ms"] + out["denoise_ms"] + out["decode_ms"]
    out["one_step_video_ms"] = one
    out["decode_share_one_step"] = out["decode_ms"] / one
    return out


def plot_vae_run(run: Path, png: Path, marks: dict[int, str] | None = None) -> None:
    """The VAE run's loss (per step and a 25-step mean) and eval PSNR vs bilinear; ``marks``:
    step → label of a recipe change (a dotted line on both panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with (run / "loss.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (run / "eval.csv").open() as f:
        ev = list(csv.DictReader(f))
    steps = [int(r["step"]) for r in rows]
    loss = torch.tensor([float(r["rec"]) for r in rows])
    k = min(25, len(rows))
    smooth = torch.nn.functional.avg_pool1d(loss.view(1, 1, -1), k, 1).view(-1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=110)
    a1.plot(steps, loss.tolist(), lw=0.5, alpha=0.35, label="per step")
    a1.plot(steps[k - 1:], smooth.tolist(), lw=1.6, label=f"{k}-step mean")
    a1.set_yscale("log")
    a1.set_xlabel("training step")
    a1.set_ylabel("L1 + MSE (pixels in [-1, 1])")
    a1.legend()
    a2.plot([int(r["step"]) for r in ev], [float(r["psnr_vae"]) for r in ev], "o-", ms=3,
            label="VAE (EMA)")
    a2.plot([int(r["step"]) for r in ev], [float(r["psnr_bilinear"]) for r in ev], "--",
            label="bilinear ×4 down/up")
    for step, label in (marks or {}).items():
        for ax in (a1, a2):
            ax.axvline(step, ls=":", lw=0.8, color="grey")
        a1.annotate(label, (step, 1.0), xycoords=("data", "axes fraction"), fontsize=6,
                    rotation=90, va="top", ha="right")
    a2.set_xlabel("training step")
    a2.set_ylabel("PSNR on 16 val clips (dB)")
    a2.legend()
    fig.suptitle("synth-latent-i2v temporal VAE training", fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def plot_reconstructions(vae: torch.nn.Module, png: Path, count: int = 4, scale: int = 3
                         ) -> None:
    """Rows of real / reconstructed / bilinear frames for ``count`` test clips."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = clips(list(range(count)), "test", 8, 32)
    rows = []
    for tag, v in (("real", x), ("VAE", reconstruct(vae, x)),
                   ("bilinear", bilinear_baseline(x, spatial_factor(vae)))):
        rows.append((tag, video_to_uint8(v.clamp(-1, 1))))
    fig, axes = plt.subplots(3 * count, 1, figsize=(8 * 0.9, 3 * count * 0.95), dpi=100)
    for j in range(count):
        for r, (tag, vids) in enumerate(rows):
            strip = vids[j].permute(1, 0, 2, 3).reshape(32, 8 * 32, 3)
            strip = strip.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
            ax = axes[3 * j + r]
            ax.imshow(strip.numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(tag, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("SynthMotion test clips: real, VAE reconstruction, bilinear ×4", fontsize=8)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m vdmbench.synth.eval_latent", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vae", default=None, help="VAE directory (default: the shipped VAE)")
    p.add_argument("--vae-run", default=None, help="the VAE's training run (for --figures)")
    p.add_argument("--mark", action="append", default=[], metavar="STEP:LABEL",
                   help="a recipe change to mark on the VAE curves (repeatable)")
    p.add_argument("--teacher", default=None, help="latent teacher directory (timing only)")
    p.add_argument("--clips", type=int, default=512)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-times", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--figures", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    vae = load_vae(None if args.vae is None else Path(args.vae))
    result: dict[str, Any] = {"reconstruction": reconstruction(vae, args.clips)}
    if not args.skip_times:
        result["times"] = component_times(args.teacher, args.repeats, args.vae)
    result["threads"] = torch.get_num_threads()
    result["machine"] = f"{platform.processor() or platform.machine()} ({platform.platform()})"
    result["torch"] = torch.__version__
    text = json.dumps(result, indent=2)
    print(text, flush=True)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.figures:
        fig_dir = Path(args.figures)
        fig_dir.mkdir(parents=True, exist_ok=True)
        plot_reconstructions(vae, fig_dir / "latent_vae_reconstructions.png")
        if args.vae_run:
            marks = {int(m.split(":", 1)[0]): m.split(":", 1)[1] for m in args.mark}
            plot_vae_run(Path(args.vae_run), fig_dir / "latent_vae_loss.png", marks)


if __name__ == "__main__":
    main()
