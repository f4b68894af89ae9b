"""The synthetic world's metrics, on the trained SynthMotion extractors.

- ``fvd_synth`` (protocol ``synth_fvd_v1``): Fréchet distance between the 64-d clip embeddings of
  :class:`~vdmbench.synth.extractor_nets.MotionNet` for generated and real videos (lower better).
  Sensitive to motion: shuffled, frozen or noisy clips move far from the real ones.
- ``content_fd_synth`` (protocol ``synth_content_fd_v1``): per-frame Fréchet distance between the
  64-d frame embeddings of :class:`~vdmbench.synth.extractor_nets.ContentNet` (lower better).
  Sensitive to per-frame content (shape, colour, size, background), not to frame order.
- ``is_synth`` (protocol ``synth_is_v1``): Inception Score of the motion net's softmax over the
  11 motion classes (higher better; at most 11).
- ``motion_acc_synth`` (protocol ``synth_motion_acc_v1``): the fraction of generated videos the
  motion net classifies as the motion class they were asked for (``request.extra
  ["motion_class"]``), with a 95% Wilson interval — does a model *follow* the conditioning?
  (higher better; chance = 1/11; real test videos: 100%).

The Fréchet and IS metrics take the reference videos from the suite's dataset (normally
``synthmotion``); frames are squashed (bilinear) to 32×32 and scaled to [-1, 1] inside the
extractors. ``weights`` may name another weight file (or a folder holding
``motion_net.safetensors``/``content_net.safetensors``); its sha256 enters the protocol record,
not its path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from pydantic import BaseModel

from vdmbench.data.synthmotion import MOTION_CLASSES
from vdmbench.errors import MetricError
from vdmbench.metrics.base import MetricValue
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.metrics.feature_metrics import (
    FeatureFrechetMetric,
    FeatureInceptionScoreMetric,
    _ExtractorMetric,
)
from vdmbench.paths import expand_path
from vdmbench.synth.extractor_nets import SynthContentExtractor, SynthMotionExtractor
from vdmbench.synth.metrics_config import (
    SynthContentFDConfig,
    SynthFVDConfig,
    SynthISConfig,
    SynthMotionAccuracyConfig,
)
from vdmbench.video import stack_videos

if TYPE_CHECKING:
    from vdmbench.generation import GenerationRequest
    from vdmbench.video import Video


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


class SynthFVD(SynthFVDConfig, _SynthProtocol, FeatureFrechetMetric):
    """``fvd_synth``: Fréchet distance of motion-net clip embeddings (64-d), biased covariance."""

    version: ClassVar[str] = "1"
    protocol_id: ClassVar[str] = "synth_fvd_v1"

    def build_extractor(self) -> VideoFeatureExtractor:
        return SynthMotionExtractor(_weights(self.options), device=self.context.device)


class SynthContentFD(SynthContentFDConfig, _SynthProtocol, FeatureFrechetMetric):
    """``content_fd_synth``: Fréchet distance of content-net frame embeddings (64-d, one row per
    frame), biased covariance."""

    version: ClassVar[str] = "1"
    protocol_id: ClassVar[str] = "synth_content_fd_v1"

    def build_extractor(self) -> VideoFeatureExtractor:
        return SynthContentExtractor(_weights(self.options), device=self.context.device)


class SynthIS(SynthISConfig, _SynthProtocol, FeatureInceptionScoreMetric):
    """``is_synth``: Inception Score of the motion net's class probabilities (11 classes)."""

    version: ClassVar[str] = "1"
    protocol_id: ClassVar[str] = "synth_is_v1"

    def build_extractor(self) -> VideoFeatureExtractor:
        return SynthMotionExtractor(_weights(self.options), device=self.context.device)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% for the default ``z``)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


class SynthMotionAccuracy(SynthMotionAccuracyConfig, _SynthProtocol, _ExtractorMetric):
    """``motion_acc_synth``: fraction of generated videos whose motion-net argmax is the motion
    class of their request (``request.extra["motion_class"]``, 0–10). Higher is better."""

    version: ClassVar[str] = "1"
    protocol_id: ClassVar[str] = "synth_motion_acc_v1"
    higher_is_better: ClassVar[bool] = True

    def __init__(self, options: BaseModel, context: Any) -> None:
        super().__init__(options, context)
        k = len(MOTION_CLASSES)
        self._confusion = torch.zeros(k, k, dtype=torch.int64)  # [asked, predicted]

    def build_extractor(self) -> VideoFeatureExtractor:
        return SynthMotionExtractor(_weights(self.options), device=self.context.device)

    def _asked(self, request: GenerationRequest) -> int:
        m = request.extra.get("motion_class") if request.extra else None
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < len(MOTION_CLASSES):
            raise MetricError(f"{self.name}: request {request.id!r} has no motion class "
                              f"(extra['motion_class'] must be an int in [0, "
                              f"{len(MOTION_CLASSES)}), got {m!r}); use a SynthMotion dataset")
        return m

    sample_note: ClassVar[str] = ("Motion: the class the suite's motion net (motion_acc_synth) "
                                  "predicts; ✓ when it is the class asked for.")

    @staticmethod
    def _motion_class(request: Any) -> int | None:
        m = (request.extra or {}).get("motion_class")
        ok = isinstance(m, int) and not isinstance(m, bool) and 0 <= m < len(MOTION_CLASSES)
        return m if ok else None

    @classmethod
    def sample_label(cls, request: Any) -> str | None:
        m = cls._motion_class(request)
        return None if m is None else f"motion asked: {MOTION_CLASSES[m]}"

    def sample_captions(self, videos: Sequence[Video], requests: Sequence[Any]
                        ) -> list[str | None]:
        """``motion <predicted class> ✓/✗`` per video, where some request asks for a motion."""
        asked = [self._motion_class(r) for r in requests]
        if all(a is None for a in asked):
            return [None] * len(videos)
        out: list[str | None] = [None] * len(videos)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, v in enumerate(videos):
            groups.setdefault(tuple(v.frames.shape), []).append(i)
        for idx in groups.values():
            pred = self.extractor.probs(stack_videos([videos[i] for i in idx])).argmax(dim=1)
            for i, c in zip(idx, pred.tolist(), strict=True):
                mark = "✓" if asked[i] == c else "✗"
                out[i] = f"motion {MOTION_CLASSES[c]} {mark}"
        return out

    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        names = self._check_request_names(videos, requests)
        asked = [self._asked(r) for r in requests]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, v in enumerate(videos):
            groups.setdefault(tuple(v.frames.shape), []).append(i)
        for idx in groups.values():
            for s in range(0, len(idx), self.batch_size):
                part = idx[s:s + self.batch_size]
                batch = stack_videos([videos[i] for i in part], [names[i] for i in part])
                pred = self.generated_probs(batch).argmax(dim=1).tolist()
                for i, p in zip(part, pred, strict=True):
                    self._confusion[asked[i], p] += 1

    def compute(self) -> MetricValue:
        n = int(self._confusion.sum())
        if n == 0:
            raise MetricError(f"{self.name}: no generated videos")
        correct = int(self._confusion.diagonal().sum())
        per_class = {MOTION_CLASSES[c]: round(int(self._confusion[c, c]) / int(row), 4)
                     for c, row in enumerate(self._confusion.sum(dim=1).tolist()) if row}
        return MetricValue(value=correct / n, n=n, ci=wilson_interval(correct, n),
                           details={"correct": correct, "chance": 1 / len(MOTION_CLASSES),
                                    "per_class": per_class,
                                    "confusion": self._confusion.tolist()})
