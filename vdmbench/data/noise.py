"""``noise``: no videos — the name a user gives to train on Gaussian latents (smoke runs).

``vdmbench compress --dataset noise`` (or a recipe's ``data: {name: noise}``) lets a real adapter
(``svd``, ``sfv``, ``t2v-turbo-v2``) distil on its seeded Gaussian latent clips with placeholder
conditioning: fast, data-free, and useless for quality. It is never chosen by default; only the
``random-svd`` test model trains on such clips without being asked. It yields no requests or
reference videos (a suite cannot evaluate on it).
"""

from __future__ import annotations

from collections.abc import Iterator

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
