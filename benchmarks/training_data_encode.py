"""Training-data encoding at SVD-xt's architecture (random weights): throughput and cache bytes.

Builds SVD's real-size VAE (``AutoencoderKLTemporalDecoder``, channels 128-256-512-512) and CLIP
ViT-H/14 image encoder with random weights (speed and bytes do not depend on the weights), writes
``--clips`` lossless videos of ``--frames`` frames at ``--height``×``--width`` into a video folder,
and fills the latent cache with ``vdmbench.training_data`` exactly as ``vdmbench prepare-data``
does (PyAV decoding, resize, CLIP embedding, noise-augmented conditioning latent, VAE latents of
every frame, fp16 shards). Prints a Markdown table: clips/s, seconds per clip split into the
CLIP embedding, the VAE encoding and the rest (decoding, resizing, writing), cache bytes per
clip, and the VAE encoder's FLOPs per clip at this size and at 14×576×1024
(``torch.utils.flop_counter``, 2 per multiply-add; counted on the meta device).

    python benchmarks/training_data_encode.py --frames 14 --height 144 --width 256 --clips 2
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# this folder's kernels.py would shadow the `kernels` package transformers imports
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402


def _vae(device: str = "cpu") -> Any:
    from diffusers import AutoencoderKLTemporalDecoder

    with torch.device(device):
        return AutoencoderKLTemporalDecoder(block_out_channels=(128, 256, 512, 512),
                                            down_block_types=("DownEncoderBlock2D",) * 4,
                                            layers_per_block=2, sample_size=768).eval()


def encoder_flops(frames: int, height: int, width: int) -> float:
    """FLOPs of ``vae.encode`` of one clip (frames × 3 × height × width), on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    vae = _vae("meta")
    x = torch.empty(frames, 3, height, width, device="meta")
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        vae.encode(x)
    return float(fc.get_total_flops())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=14)
    ap.add_argument("--height", type=int, default=144)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from vdmbench.models.svd_components import image_processor_class
    from vdmbench.models.svd_denoiser import SVDClipEncoder
    from vdmbench.training_data import TrainingDataSpec, check
    from vdmbench.training_data.cache import prepare

    torch.manual_seed(0)
    vae = _vae()
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=1280, intermediate_size=5120, num_attention_heads=16, num_hidden_layers=32,
        patch_size=14, image_size=224, projection_dim=1024, hidden_act="gelu",
        layer_norm_eps=1e-5)).eval()
    fe = image_processor_class()(crop_size=224, size={"shortest_edge": 224})
    f, h, w = args.frames, args.height, args.width
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "videos"
        import av

        rows = ["file_name,caption"]
        rng = np.random.default_rng(0)
        for i in range(args.clips):
            path = root / f"v{i}.avi"
            path.parent.mkdir(parents=True, exist_ok=True)
            with av.open(str(path), "w") as c:
                s = c.add_stream("png", rate=7)
                s.width, s.height, s.pix_fmt = w, h, "rgb24"
                base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                for k in range(f):
                    img = np.roll(base, 3 * k, axis=1)
                    for p in s.encode(av.VideoFrame.from_ndarray(img, "rgb24")):
                        c.mux(p)
                for p in s.encode():
                    c.mux(p)
            rows.append(f"v{i}.avi,clip {i}")
        (root / "metadata.csv").write_text("\n".join(rows) + "\n")
        data = TrainingDataSpec(name="videofolder", options={"root": str(root)}, frames=f,
                                height=h, width=w, fps=7)
        enc = SVDClipEncoder(vae, clip, fe, None, "cpu", data, 127.0, 0.02)
        parts = {"clip": 0.0, "vae": 0.0}
        orig_image, orig_encode = enc.pipe._encode_image, vae.encode

        def timed(name: str, fn: Any) -> Any:
            def wrapper(*a: Any, **kw: Any) -> Any:
                t = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    parts[name] += time.perf_counter() - t
            return wrapper

        enc.pipe._encode_image = timed("clip", orig_image)  # type: ignore[method-assign]
        vae.encode = timed("vae", orig_encode)  # type: ignore[method-assign]
        t0 = time.perf_counter()
        res = prepare(check(data), enc, Path(tmp) / "cache", log=print)
        total = time.perf_counter() - t0
    n = res.clips
    full = encoder_flops(14, 576, 1024)
    here = encoder_flops(f, h, w)
    print(f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or 'cpu'}")
    print("| clips | frames × H × W | clips/s | s/clip | CLIP s/clip | VAE s/clip | rest s/clip "
          "| cache bytes/clip | VAE encoder TFLOP/clip (here, at 14×576×1024) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {n} | {f}×{h}×{w} | {n / total:.4f} | {total / n:.1f} | {parts['clip'] / n:.1f} | "
          f"{parts['vae'] / n:.1f} | {(total - parts['clip'] - parts['vae']) / n:.1f} | "
          f"{res.bytes / n:.0f} | {here / 1e12:.2f}, {full / 1e12:.2f} |")


if __name__ == "__main__":
    main()
