"""Helpers for the metric tests: a tiny deterministic extractor and a synthetic dataset."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import ClassVar

import torch

from vdmbench.data.base import VideoDataset
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video

torch.set_num_threads(1)


class StatsExtractor(VideoFeatureExtractor):
    """Clip features without a network: per-channel mean and spread, mean |frame difference|,
    and a few spatial-gradient statistics → float64 (B, 12)."""

    name: ClassVar[str] = "test_stats_extractor"

    def __init__(self) -> None:
        super().__init__(weights_sha256="0" * 64)
        self.calls = 0

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        x = batch.double() / 255.0  # (B, T, H, W, 3)
        mean = x.mean(dim=(1, 2, 3))
        std = x.std(dim=(1, 2, 3))
        dt = (x[:, 1:] - x[:, :-1]).abs().mean(dim=(1, 2, 3))
        dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean(dim=(1, 2, 3))
        return torch.cat([mean, std, dt, dx], dim=1)


def make_videos(n: int, seed: int, frames: int = 6, size: int = 16, shift: float = 0.0,
                speed: int = 3) -> list[Video]:
    """Random moving-blob videos; ``shift`` brightens, ``speed`` changes motion."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        base = torch.rand(3, generator=g) * 0.5 + 0.25 + shift
        pos = int(torch.randint(0, size, (1,), generator=g))
        vid = torch.zeros(frames, size, size, 3)
        noise = torch.rand(size, size, 3, generator=g) * 0.2  # static texture
        for t in range(frames):
            vid[t] = base * 0.5
            c = (pos + speed * t) % size
            vid[t, :, max(0, c - 2):c + 2] = base
        vid = (vid + noise).clamp(0, 1)
        out.append(Video((vid * 255).round().to(torch.uint8), fps=8.0))
    return out


class ListDataset(VideoDataset):
    """A dataset over given reference videos; manifest hash = hash of their content."""

    def __init__(self, videos: list[Video], name: str = "list") -> None:
        super().__init__(DatasetSpec(name=name, num_videos=len(videos)))
        self.videos = videos
        self.batches_served = 0

    def requests(self) -> list[GenerationRequest]:
        return [GenerationRequest(id=f"r{i}", seed=i, frames=v.num_frames, height=v.size[0],
                                  width=v.size[1], fps=v.fps) for i, v in enumerate(self.videos)]

    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        for s in range(0, len(self.videos), batch_size):
            self.batches_served += 1
            yield self.videos[s:s + batch_size]

    def manifest_hash(self) -> str:
        h = hashlib.sha256()
        for v in self.videos:
            h.update(v.sha256().encode())
        return h.hexdigest()


def requests_for(videos: list[Video], prefix: str = "g") -> list[GenerationRequest]:
    return [GenerationRequest(id=f"{prefix}{i}", seed=i, frames=v.num_frames, height=v.size[0],
                              width=v.size[1], fps=v.fps) for i, v in enumerate(videos)]
