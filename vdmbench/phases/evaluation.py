"""Evaluation: a model's cached videos (and the teacher's, for fidelity metrics) streamed through
every metric of the suite, as resolved."""

from __future__ import annotations

from typing import Any

from vdmbench.cache import VideoCache, video_key
from vdmbench.errors import VdmbenchError
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.base import Metric, MetricContext
from vdmbench.phases.generation import batches
from vdmbench.progress import Reporter
from vdmbench.resolved import ResolvedSuite
from vdmbench.video import Video


def evaluate(resolved: ResolvedSuite, name: str, mkey: str, requests: list[GenerationRequest],
             cache: VideoCache, ctx: MetricContext, teacher_key: str | None,
             progress: Reporter) -> dict[str, Any]:
    """Every metric's record entry (value, n, CI, direction, version, protocol) for model
    ``name`` (cache key ``mkey``); ``teacher_key``: the teacher's cache key, if known."""
    suite = resolved.suite
    if not suite.metrics:
        return {}
    metrics: list[Metric] = []
    for entry in resolved.metrics.values():
        metric = entry.cls(entry.options, ctx)
        metric.prepare()
        metrics.append(metric)
    with progress.stage("metrics", name, len(requests), "videos") as stage:
        for batch in batches(requests, suite.batch_size):
            videos = [cache.get(video_key(mkey, r)) for r in batch]
            teacher_videos: list[Video] | None = None
            if any(type(m).needs_teacher for m in metrics):
                if teacher_key is None:
                    raise VdmbenchError(f"teacher model {suite.teacher} has no videos")
                teacher_videos = [cache.get(video_key(teacher_key, r)) for r in batch]
            for metric in metrics:
                metric.update(videos, list(batch), teacher_videos)
            stage.advance(len(batch))
    out = {}
    for metric in metrics:
        value = metric.result()  # with its small-sample mark
        cls = type(metric)
        out[cls.name] = {**value.to_dict(), "higher_is_better": cls.higher_is_better,
                         "version": cls.version, "protocol": metric.protocol()}
    return out
