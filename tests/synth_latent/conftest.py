"""Fixtures for the synth-latent-i2v tests: one CPU thread, a tiny random model directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vdmbench.data.synthmotion import render_batch, request_seed
from vdmbench.generation import GenerationRequest
from vdmbench.models.synth_latent_i2v_pipeline import (
    LatentSamplerConfig,
    build_random_model,
    save_latent_model_dir,
)
from vdmbench.models.synth_latent_i2v_vae import build_random_vae, save_vae

torch.set_num_threads(1)


def tiny_vae(seed: int = 5) -> torch.nn.Module:
    """A random VAE with the shipped one's layout (4× factor, 4 latent channels), narrow."""
    return build_random_vae(seed, channels=(32, 32, 32))


@pytest.fixture(scope="session")
def random_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete model directory (unet/, image_encoder/, vae/, sampler.json) with random
    weights, in the shipped teacher's layout."""
    d = tmp_path_factory.mktemp("random_latent_model")
    pipe = build_random_model(tiny_vae(), seed=3, sampler=LatentSamplerConfig(steps=2),
                              heads=(1, 1, 1, 1), cross_attention_dim=16,
                              encoder_channels=(8, 16))
    save_latent_model_dir(d, pipe)
    save_vae(d / "vae", pipe.vae, dtype=torch.float32)
    return d


def make_requests(count: int, split: str = "test", first: int = 0, frames: int = 8,
                  size: int = 32) -> list[GenerationRequest]:
    """SynthMotion requests (first frame, motion class) in the latent teacher's shape."""
    idx = list(range(first, first + count))
    videos, metas = render_batch(idx, split, frames, size, size, 0)
    return [GenerationRequest(id=f"synthmotion-{split}-{i:05d}", seed=request_seed(0, split, i),
                              frames=frames, height=size, width=size, fps=8.0,
                              image=videos[j, 0].clone(), extra={"motion_class": metas[j].motion})
            for j, i in enumerate(idx)]
