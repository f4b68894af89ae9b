"""Generation: every request a model's videos are not yet cached for, in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from vdmbench.cache import VideoCache, video_key
from vdmbench.errors import VdmbenchError
from vdmbench.generation import GenerationRequest, VideoGenerator
from vdmbench.progress import Reporter


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def generate_missing(name: str, gen: VideoGenerator, mkey: str,
                     requests: list[GenerationRequest], cache: VideoCache, batch_size: int,
                     progress: Reporter) -> int:
    """Generate (model ``name``, cache key ``mkey``) every request not yet in ``cache``, checking
    each video's shape against its request; returns how many were generated."""
    todo = [r for r in requests if not cache.has(video_key(mkey, r))]
    with progress.stage("generate", name, len(requests), "videos",
                        completed=len(requests) - len(todo)) as stage:
        for batch in batches(todo, batch_size):
            videos = gen.generate(list(batch))
            if len(videos) != len(batch):
                raise VdmbenchError(f"model {name} returned {len(videos)} videos for "
                                    f"{len(batch)} requests")
            for r, v in zip(batch, videos):
                if v.num_frames != r.frames or v.size != (r.height, r.width):
                    raise VdmbenchError(
                        f"model {name}, request {r.id}: generated "
                        f"{tuple(v.frames.shape)}, asked for ({r.frames}, {r.height}, "
                        f"{r.width}, 3)")
                cache.put(video_key(mkey, r), v)
            stage.advance(len(batch))
    return len(todo)
