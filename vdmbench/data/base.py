"""The dataset interface: generation requests plus the real videos they come from.

A dataset is built from the suite's :class:`~vdmbench.suite.DatasetSpec`. It yields the
``GenerationRequest`` list (conditioning frames or prompts, seeds) and the real reference videos
that reference-based metrics compare against; ``manifest_hash()`` identifies exactly which samples
(content, not a name), so cached reference statistics never go stale.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from pydantic import BaseModel

from vdmbench.data.config import DatasetConfig, NoDatasetOptions
from vdmbench.generation import GenerationRequest
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video

__all__ = ["NoDatasetOptions", "VideoDataset"]


class VideoDataset(DatasetConfig, ABC):
    """Base class of registered datasets. ``Options`` (from its config class,
    :class:`~vdmbench.data.config.DatasetConfig`) validates ``spec.options``; ``options``: the
    options already validated (``vdmbench run`` passes the resolved suite's), else
    ``spec.options`` are validated here."""

    def __init__(self, spec: DatasetSpec, options: BaseModel | None = None) -> None:
        self.spec = spec
        self.options = options if isinstance(options, self.Options) \
            else self.Options.model_validate(spec.options)

    @abstractmethod
    def requests(self) -> list[GenerationRequest]:
        """``spec.num_videos`` requests, deterministic from ``spec.seed``."""

    @abstractmethod
    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        """The real videos of the reference set, in batches (uint8 (T, H, W, 3) each)."""

    @abstractmethod
    def manifest_hash(self) -> str:
        """sha256 identifying the exact reference samples and their preprocessing."""
