"""Helpers of the svd tests: conditioning requests."""

from __future__ import annotations

import torch

from vdmbench.generation import GenerationRequest


def make_request(seed: int = 0, frames: int = 4, size: int = 16, rid: str = "r0",
                 image_seed: int = 0) -> GenerationRequest:
    g = torch.Generator().manual_seed(image_seed)
    image = torch.randint(0, 256, (size, size, 3), generator=g, dtype=torch.uint8)
    return GenerationRequest(id=rid, seed=seed, frames=frames, height=size, width=size, fps=7.0,
                             prompt="apply eye makeup", image=image)
