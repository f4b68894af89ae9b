"""Helpers of the training-data tests: a PyAV-written video folder, a tiny VideoCrafter2-type
T2V-Turbo denoiser."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

H, W = 24, 32
#: the folder's videos: (file, frames, kind); kinds: good, corrupt (random bytes), truncated
#: (a good file cut short), short (fewer frames than a 4-frame clip)
VIDEOS = [(f"clips/v{i:02d}.avi", 12, "good") for i in range(9)] + [
    ("clips/bad_bytes.avi", 12, "corrupt"), ("clips/cut.avi", 12, "truncated"),
    ("clips/short.avi", 3, "short")]
GOOD = [name for name, _, kind in VIDEOS if kind == "good"]
BAD = [name for name, _, kind in VIDEOS if kind != "good"]


def frames_of(vid: int, n: int) -> np.ndarray:
    """Frame ``i`` of video ``vid``: a smooth gradient moving with i, tinted by ``vid``."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    out = np.zeros((n, H, W, 3), np.uint8)
    for i in range(n):
        out[i, ..., 0] = (4 * x + 9 * i) % 256
        out[i, ..., 1] = (6 * y + 20 * vid) % 256
        out[i, ..., 2] = (3 * x + 5 * y + 7 * i + 13 * vid) % 256
    return out


def write_video(path: Path, frames: np.ndarray, fps: int = 16) -> None:
    """A lossless (png) AVI: decoded frames equal ``frames``."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("png", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "rgb24"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), "rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def make_folder(root: Path, videos: list[tuple[str, int, str]] = VIDEOS,
                captions: bool = True) -> Path:
    """``root/metadata.csv`` (file_name, caption) and the videos."""
    for i, (name, n, kind) in enumerate(videos):
        path = root / name
        if kind == "corrupt":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(np.random.default_rng(i).integers(0, 256, 5000, np.uint8).tobytes())
            continue
        write_video(path, frames_of(i, n))
        if kind == "truncated":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 6])
    with (root / "metadata.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "caption"] if captions else ["file_name"])
        for i, (name, _, _) in enumerate(videos):
            w.writerow([name, f"a gradient number {i} sliding right"] if captions else [name])
    return root


class TinyText:
    """Stands in for OpenCLIP's text tower: words → ids (sum of character codes) → embeddings,
    (B, 6, 24); ``model`` is the module whose weights the cache key hashes."""

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.model = torch.nn.Embedding(101, 24)

    @torch.no_grad()
    def __call__(self, prompts: list[str]) -> torch.Tensor:
        ids = [[sum(map(ord, w)) % 101 for w in (p.split() + ["."] * 6)[:6]] for p in prompts]
        return self.model(torch.tensor(ids))


def t2v_denoiser(seed: int = 0):  # noqa: ANN201 (test helper)
    """A T2VTurboDenoiser around a tiny VideoCrafter2 UNet, a tiny AutoencoderKL and
    :class:`TinyText`, generating 4 frames of 16×16."""
    from diffusers import AutoencoderKL

    from vdmbench.models.t2v_turbo import T2VTurboPipeline, TurboSampler
    from vdmbench.models.t2v_turbo_denoiser import T2VTurboDenoiser
    from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

    torch.manual_seed(seed)
    unet = VideoCrafter2UNet.from_config({
        "block_out_channels": [16, 32, 32, 32], "layers_per_block": 2, "attention_head_dim": 8,
        "cross_attention_dim": 24, "transformer_in_heads": 2, "norm_num_groups": 8,
        "time_cond_proj_dim": 256}).eval()
    vae = AutoencoderKL(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4,
                        norm_num_groups=8, layers_per_block=1).eval()
    pipe = T2VTurboPipeline(unet, vae, TinyText(seed), TurboSampler(steps=4), "cpu",
                            torch.float32, motion_guidance=False)
    return T2VTurboDenoiser(pipe, "cpu", frames=4, height=16, width=16)
