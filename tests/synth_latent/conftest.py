"""Fixtures for the synth-latent-i2v tests: one CPU thread, a tiny random model directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from latent_helpers import tiny_vae

from vdmbench.models.synth_latent_i2v_pipeline import (
    LatentSamplerConfig,
    build_random_model,
    save_latent_model_dir,
)
from vdmbench.models.synth_latent_i2v_vae import save_vae

torch.set_num_threads(1)


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
