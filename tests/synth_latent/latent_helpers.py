"""Helpers of the synth-latent-i2v tests (a uniquely named module: ``conftest`` is ambiguous
when several test folders are collected together)."""

from __future__ import annotations

import torch

from vdmbench.data.synthmotion import render_batch, request_seed
from vdmbench.generation import GenerationRequest
from vdmbench.models.synth_latent_i2v_vae import build_random_vae


def tiny_vae(seed: int = 5) -> torch.nn.Module:
    """A random VAE with the shipped one's layout (4× factor, 4 latent channels), narrow."""
    return build_random_vae(seed, channels=(32, 32, 32))


def make_requests(count: int, split: str = "test", first: int = 0, frames: int = 8,
                  size: int = 32) -> list[GenerationRequest]:
    """SynthMotion requests (first frame, motion class) in the latent teacher's shape."""
    idx = list(range(first, first + count))
    videos, metas = render_batch(idx, split, frames, size, size, 0)
    return [GenerationRequest(id=f"synthmotion-{split}-{i:05d}", seed=request_seed(0, split, i),
                              frames=frames, height=size, width=size, fps=8.0,
                              image=videos[j, 0].clone(), extra={"motion_class": metas[j].motion})
            for j, i in enumerate(idx)]
