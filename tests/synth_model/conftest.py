"""Fixtures for the synth-i2v tests: one CPU thread, a tiny random model directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vdmbench.data.synthmotion import render_batch, request_seed
from vdmbench.generation import GenerationRequest
from vdmbench.models.synth_i2v import SamplerConfig, build_random_model, save_model_dir

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def random_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete model directory (unet/, image_encoder/, sampler.json) with random weights and
    tiny channels, in the shipped teacher's layout."""
    d = tmp_path_factory.mktemp("random_model")
    pipe = build_random_model(seed=3, sampler=SamplerConfig(steps=2), channels=(32, 32, 32, 32),
                              heads=(1, 1, 1, 1), cross_attention_dim=16,
                              encoder_channels=(8, 16))
    save_model_dir(d, pipe.unet, pipe.image_encoder, pipe.sampler)
    return d


def make_requests(count: int, split: str = "test", first: int = 0, frames: int = 8,
                  size: int = 16) -> list[GenerationRequest]:
    """SynthMotion requests (first frame, motion class) in the teacher's shape."""
    idx = list(range(first, first + count))
    videos, metas = render_batch(idx, split, frames, size, size, 0)
    return [GenerationRequest(id=f"synthmotion-{split}-{i:05d}", seed=request_seed(0, split, i),
                              frames=frames, height=size, width=size, fps=8.0,
                              image=videos[j, 0].clone(), extra={"motion_class": metas[j].motion})
            for j, i in enumerate(idx)]


@pytest.fixture(scope="session")
def requests4() -> list[GenerationRequest]:
    return make_requests(4)
