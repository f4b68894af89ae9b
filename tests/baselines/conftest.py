"""Generators every baseline test runs on: the shipped synthetic I2V (SVD UNet) and T2V
(VideoCrafter2 UNet) models and a tiny random SVD pipeline (CPU, one thread)."""

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
    }
