"""VBench's ``temporal_flickering`` dimension, computed natively (no model, no network).

Per video: the mean absolute difference between consecutive frames (over all pixels and the three
channels, in [0, 255] units), averaged over the ``T − 1`` frame pairs, gives ``MAE``; the video's
score is ``(255 − MAE) / 255`` ∈ [0, 1]. The metric is the mean of the per-video scores; higher is
better (1.0 = a static video). This is VBench's formula (``vbench/temporal_flickering.py``).

VBench computes it on the *decoded mp4 files*; this metric computes it on the frames as generated
(uint8, lossless). Codec noise changes the value slightly (usually in the 4th decimal); use the
``vbench`` family with ``temporal_flickering`` in its dimension list to get VBench's own number on
the written mp4 files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from pydantic import BaseModel

from vdmbench.errors import MetricError
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.base import MetricContext, MetricValue
from vdmbench.metrics.vbench.flickering_config import TemporalFlickeringConfig
from vdmbench.video import Video, check_video

PROTOCOL_ID = "vbench.temporal_flickering"


def frame_mae(frames: torch.Tensor, name: str = "video") -> torch.Tensor:
    """Mean absolute difference of consecutive frames.

    ``frames``: uint8 ``(T, H, W, 3)``, ``T ≥ 2``. Returns float64 ``(T − 1,)``: entry ``i`` is
    ``mean |frames[i+1] − frames[i]|`` over ``H·W·3`` values, in [0, 255] units.
    """
    check_video(frames, name)
    if frames.shape[0] < 2:
        raise MetricError(f"temporal_flickering: {name} has {frames.shape[0]} frame(s); "
                          f"at least 2 are needed to compare consecutive frames")
    x = frames.detach().to("cpu")
    out = torch.empty(x.shape[0] - 1, dtype=torch.float64)
    for i in range(x.shape[0] - 1):  # one pair at a time: memory stays at two frames
        d = (x[i + 1].to(torch.int16) - x[i].to(torch.int16)).abs()
        out[i] = d.sum(dtype=torch.int64).item() / d.numel()
    return out


def flickering_score(frames: torch.Tensor, name: str = "video") -> float:
    """VBench score of one video: ``(255 − mean(frame_mae)) / 255``; 1.0 for a static video."""
    mae = float(frame_mae(frames, name).mean())
    return (255.0 - mae) / 255.0


class TemporalFlickering(TemporalFlickeringConfig):
    """``temporal_flickering``: mean over videos of ``(255 − MAE)/255`` (VBench's formula).

    ``update`` takes generated videos (uint8 ``(T, H, W, 3)``, ``T ≥ 2``); ``compute`` returns the
    mean score with ``n`` = videos seen and, in ``details``, the per-video standard deviation and
    the minimum score. Streaming: keeps only sums.
    """

    version = "1"
    higher_is_better = True

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self._n = 0
        self._sum = 0.0
        self._sumsq = 0.0
        self._min = math.inf

    def protocol(self) -> dict:
        p = super().protocol()
        p.update({"formula": "(255 - mean_t mean_pixels |x[t+1] - x[t]|) / 255, mean over videos",
                  "input": "uint8 frames as generated (no video codec)",
                  "reference": PROTOCOL_ID})
        return p

    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        for i, v in enumerate(videos):
            label = f"request {requests[i].id}" if i < len(requests) else f"video {i}"
            frames = v.frames if isinstance(v, Video) else v
            s = flickering_score(frames, label)
            self._n += 1
            self._sum += s
            self._sumsq += s * s
            self._min = min(self._min, s)

    def compute(self) -> MetricValue:
        if self._n == 0:
            raise MetricError("temporal_flickering: no videos were given")
        mean = self._sum / self._n
        var = max(self._sumsq / self._n - mean * mean, 0.0)
        return MetricValue(value=mean, n=self._n,
                           details={"std_over_videos": math.sqrt(var), "min": self._min})
