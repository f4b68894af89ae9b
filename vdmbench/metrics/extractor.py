"""The feature-extractor interface shared by real (I3D, C3D) and synthetic-world networks.

An extractor takes a canonical uint8 batch ``(B, T, H, W, 3)`` and returns float64 features
``(B, d)`` (clip-level) or ``(B·T, d)`` (frame-level, ``per_frame=True``); classifiers also give
class probabilities ``(B, K)``. Each extractor does its own protocol preprocessing (resize mode,
value range) in ``vdmbench.video`` terms and reports the sha256 of the weight file it was loaded
from, so results record exactly which network produced them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch


class VideoFeatureExtractor(ABC):
    """Base class: ``features(batch)`` → float64 ``(N, d)``; ``probs(batch)`` → ``(B, K)``."""

    #: short identifier, recorded in results (e.g. "i3d_torchscript", "synth_motion_net")
    name: ClassVar[str]
    #: True when ``features`` returns one row per frame (N = B·T) instead of one per clip
    per_frame: ClassVar[bool] = False

    def __init__(self, weights_sha256: str, device: str = "cpu") -> None:
        self.weights_sha256 = weights_sha256
        self.device = device

    @abstractmethod
    def features(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, T, H, W, 3)`` → float64 ``(N, d)`` on CPU."""

    def probs(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, T, H, W, 3)`` → float64 class probabilities ``(B, K)`` on CPU."""
        raise NotImplementedError(f"{self.name} is not a classifier")

    def describe(self) -> dict[str, str]:
        """What results record about this extractor."""
        return {"name": self.name, "weights_sha256": self.weights_sha256}
