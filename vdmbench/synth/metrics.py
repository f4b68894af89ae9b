"""The synthetic world's metrics, on the trained SynthMotion extractors.

- ``fvd_synth`` (protocol ``synth_fvd_v1``): Fréchet distance between the 64-d clip embeddings of
  :class:`~vdmbench.synth.extractor_nets.MotionNet` for generated and real videos (lower better).
  Sensitive to motion: shuffled, frozen or noisy clips move far from the real ones.
- ``content_fd_synth`` (protocol ``synth_content_fd_v1``): per-frame Fréchet distance between the
  64-d frame embeddings of :class:`~vdmbench.synth.extractor_nets.ContentNet` (lower better).
  Sensitive to per-frame content (shape, colour, size, background), not to frame order.
- ``is_synth`` (protocol ``synth_is_v1``): Inception Score of the motion net's softmax over the
  11 motion classes (higher better; at most 11).

All three take the reference videos from the suite's dataset (normally ``synthmotion``); frames
are squashed (bilinear) to 32×32 and scaled to [-1, 1] inside the extractors. ``weights`` may name
another weight file (or a folder holding ``motion_net.safetensors``/``content_net.safetensors``);
its sha256 enters the protocol record, not its path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.metrics.feature_metrics import (
    FeatureFrechetMetric,
    FeatureInceptionScoreMetric,
    FeatureISOptions,
    FeatureMetricOptions,
)
from vdmbench.paths import expand_path
from vdmbench.synth.extractor_nets import SynthContentExtractor, SynthMotionExtractor


class SynthFeatureOptions(FeatureMetricOptions):
    """``weights``: a weight file or folder to use instead of the shipped extractors."""

    weights: str | None = Field(None, description="weight file/folder; None = shipped weights")


class SynthISOptions(FeatureISOptions):
    """``is_synth`` options: ``splits`` (default 10) and ``weights`` as for ``fvd_synth``."""

    weights: str | None = Field(None, description="weight file/folder; None = shipped weights")


def _weights(options: BaseModel) -> Any:
    w = getattr(options, "weights", None)
    return None if w is None else expand_path(w, "synthetic extractor weights")


class _SynthProtocol:
    """Records the synthetic protocol id (``protocol_id``) instead of the registered name."""

    protocol_id: ClassVar[str]
    name: ClassVar[str]

    def protocol(self) -> dict[str, Any]:
        base = super().protocol()  # type: ignore[misc]
        return {**base, "id": self.protocol_id, "metric": self.name}

    def preprocessing(self) -> dict[str, Any]:
        return {"resize": "squash_bilinear 32x32", "range": "[-1, 1] (x / 127.5 - 1)",
                "frames": "all frames of each video"}


class SynthFVD(_SynthProtocol, FeatureFrechetMetric):
    """``fvd_synth``: Fréchet distance of motion-net clip embeddings (64-d), biased covariance."""

    name: ClassVar[str] = "fvd_synth"
    version: ClassVar[str] = "1"
    protocol_id: ClassVar[str] = "synth_fvd_v1"
    Options: ClassVar[type[BaseModel]] = SynthFeatureOptions

    def build_extractor(self) -> VideoFeatureExtractor:
        return SynthMotionExtractor(_weights(self.options), device=self.context.device)


class SynthContentFD(_SynthProtocol, FeatureFrechetMetric):
    """``content_fd_synth``: Fréchet distance of content-net frame embeddings (64-d, one row per
    frame), biased covariance."""

    name: ClassVar[str] = "content_fd_synth"
    version: ClassVar[str] = "1"
    protocol_id: ClassVar[str] = "synth_content_fd_v1"
    Options: ClassVar[type[BaseModel]] = SynthFeatureOptions

    def build_extractor(self) -> VideoFeatureExtractor:
        return SynthContentExtractor(_weights(self.options), device=self.context.device)


class SynthIS(_SynthProtocol, FeatureInceptionScoreMetric):
    """``is_synth``: Inception Score of the motion net's class probabilities (11 classes)."""

    name: ClassVar[str] = "is_synth"
    version: ClassVar[str] = "1"
    protocol_id: ClassVar[str] = "synth_is_v1"
    Options: ClassVar[type[BaseModel]] = SynthISOptions

    def build_extractor(self) -> VideoFeatureExtractor:
        return SynthMotionExtractor(_weights(self.options), device=self.context.device)
