"""``noise``: no videos — the name a user gives to train on Gaussian latents (smoke runs).

``vdmbench compress --dataset noise`` (or a recipe's ``data: {name: noise}``) lets a real adapter
(``svd``, ``sfv``, ``t2v-turbo-v2``) distil on its seeded Gaussian latent clips with placeholder
conditioning: fast, data-free, and useless for quality. It is never chosen by default; only the
``random-svd`` test model trains on such clips without being asked. It yields no requests or
reference videos (a suite cannot evaluate on it).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from vdmbench.data.base import VideoDataset
from vdmbench.errors import ConfigError
from vdmbench.generation import GenerationRequest
from vdmbench.video import Video


class NoiseDataset(VideoDataset):
    """The registered ``noise`` dataset (training smoke runs only)."""

    def _refuse(self) -> ConfigError:
        return ConfigError("dataset 'noise' has no videos: it names Gaussian training latents "
                           "for compress smoke runs, not an evaluation set", field="dataset.name")

    def requests(self) -> list[GenerationRequest]:
        raise self._refuse()

    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        raise self._refuse()

    def manifest_hash(self) -> str:
        raise self._refuse()


def noise_generator(seed: int, split: str = "train") -> torch.Generator:
    """The CPU generator of a ``noise`` batch: one stream per (seed, split)."""
    return torch.Generator().manual_seed(seed * 7919 + (0 if split == "train" else 1))


def drifting_latents(n: int, frames: int, channels: int, size: int,
                     generator: torch.Generator) -> torch.Tensor:
    """Seeded Gaussian latent "clips" ``(n, frames, channels, size, size)`` with a smooth
    per-clip drift over time: ``0.5·(base + t·drift)``, ``t`` from 0 to 1 over the frames."""
    base = torch.randn(n, 1, channels, size, size, generator=generator)
    drift = torch.randn(n, 1, channels, size, size, generator=generator)
    t = torch.linspace(0, 1, frames).reshape(1, -1, 1, 1, 1)
    return 0.5 * (base + t * drift)


def gaussian_latents(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """N(0, 1) latents of ``shape`` from ``generator``."""
    return torch.randn(*shape, generator=generator)
