"""Generators every baseline test runs on: the shipped synthetic I2V (SVD UNet) and T2V
(VideoCrafter2 UNet) models, a tiny random SVD pipeline and T2V-Turbo-v2's adapter around a tiny
random VideoCrafter2 UNet (CPU, one thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from vdmbench.data.synthmotion import SynthMotionDataset
from vdmbench.generation import GenerationRequest
from vdmbench.suite import DatasetSpec

torch.set_num_threads(1)


def synth_requests(n: int = 2) -> list[GenerationRequest]:
    spec = DatasetSpec(name="synthmotion", split="test", num_videos=n, frames=8, height=16,
                       width=16, fps=8, seed=0)
    return SynthMotionDataset(spec).requests()


def svd_requests(n: int = 2) -> list[GenerationRequest]:
    out = []
    for i in range(n):
        g = torch.Generator().manual_seed(i)
        image = torch.randint(0, 256, (16, 16, 3), generator=g, dtype=torch.uint8)
        out.append(GenerationRequest(id=f"r{i}", seed=i, frames=4, height=16, width=16, fps=7.0,
                                     image=image))
    return out


@pytest.fixture(scope="session")
def tiny_svd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A diffusers-format random SVD folder (4 frames, 16×16)."""
    from vdmbench.models.svd import random_svd_pipeline

    path = tmp_path_factory.mktemp("weights") / "svd-tiny"
    random_svd_pipeline("tiny", num_frames=4, seed=0).save_pretrained(path)
    return path


def turbo_requests(n: int = 1) -> list[GenerationRequest]:
    prompts = ["a red square moves left", "a blue disc moves up"]
    return [GenerationRequest(id=f"p{i}", seed=i, frames=4, height=64, width=64, fps=16.0,
                              prompt=prompts[i % 2]) for i in range(n)]


def tiny_turbo_generator() -> Any:
    """``t2v-turbo-v2``'s adapter around a tiny random VideoCrafter2 UNet with guidance and
    motion-guidance embeddings (the real architecture), a 1×1-conv "VAE" and a seeded
    word-table "text encoder"; 4 frames at 64×64 (latents 8×8). 3 steps, as every generator
    here (the options' identity settings, e.g. T-GATE's gate step 3, assume it); the adapter's
    ``load`` offers 4, 8 and 16."""
    from vdmbench.models.t2v_turbo import T2VTurboAdapter
    from vdmbench.models.t2v_turbo_pipeline import T2VTurboPipeline, TurboSampler
    from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

    torch.manual_seed(0)
    unet = VideoCrafter2UNet.from_config({
        "block_out_channels": [32, 64], "layers_per_block": 1,
        "down_block_types": ["CrossAttnDownBlockVC2", "DownBlockVC2"],
        "up_block_types": ["UpBlockVC2", "CrossAttnUpBlockVC2"], "attention_head_dim": 16,
        "cross_attention_dim": 24, "transformer_in_heads": 2, "norm_num_groups": 8,
        "time_cond_proj_dim": 256, "motion_cond_proj_dim": 256}).eval()
    torch.nn.init.normal_(unet.conv_out.weight, std=0.05)
    vae = torch.nn.Conv2d(4, 3, 1)

    class _Decoder(torch.nn.Module):
        dtype = torch.float32

        def __init__(self) -> None:
            super().__init__()
            self.conv = vae

        def decode(self, z: torch.Tensor) -> Any:
            out = torch.tanh(torch.nn.functional.interpolate(self.conv(z), scale_factor=8.0))
            return type("Out", (), {"sample": out})()

    table = torch.randn(50, 24, generator=torch.Generator().manual_seed(5))

    def text(prompts: list[str]) -> torch.Tensor:
        return torch.stack([table[[sum(map(ord, w)) % 50 for w in (p.split() + ["."] * 5)[:5]]]
                            for p in prompts])

    pipe = T2VTurboPipeline(unet, _Decoder().eval(), text, TurboSampler(steps=3), "cpu",
                            torch.float32, motion_guidance=True)
    options = T2VTurboAdapter.Options(frames=4, height=64, width=64)
    return T2VTurboAdapter("t2v-turbo-v2", pipe, options, "float32", files=[])


@pytest.fixture(scope="session")
def generators(tiny_svd_dir: Path) -> dict[str, tuple[Any, list[GenerationRequest]]]:
    """``{adapter: (loaded generator, requests)}`` at 3 steps, one request each."""
    from vdmbench.models.svd import SVDAdapter
    from vdmbench.models.synth_i2v import SynthI2VAdapter
    from vdmbench.models.synth_t2v import SynthT2VAdapter

    return {
        "synth-i2v": (SynthI2VAdapter.load("i2v", None, {}, "cpu", steps=3), synth_requests(1)),
        "synth-t2v": (SynthT2VAdapter.load("t2v", None, {}, "cpu", steps=3), synth_requests(1)),
        "svd": (SVDAdapter.load("svd", str(tiny_svd_dir), {}, "cpu", steps=3), svd_requests(1)),
        "t2v-turbo-v2": (tiny_turbo_generator(), turbo_requests(1)),
    }
