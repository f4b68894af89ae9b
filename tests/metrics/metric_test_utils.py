"""Helpers for the metric tests: a tiny deterministic extractor, a synthetic dataset, and
TorchScript detectors with the call signatures of StyleGAN-V's I3D and C3D files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

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


class FakeI3D(nn.Module):
    """Same forward signature as StyleGAN-V's i3d_torchscript.pt. Features 0..4 report what it
    saw (mean, width, rescale, resize, return_features); 5..10 per-channel mean and motion
    statistics times ``scale`` (a buffer, so two scales are two checkpoints); the rest zeros."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale))

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        seen_mean = x.float().mean(dim=(1, 2, 3, 4))
        width = torch.full_like(seen_mean, float(x.shape[-1]))
        if rescale:
            x = x.float() / 255.0 * 2.0 - 1.0
        if resize:
            b, c, t, h, w = x.shape
            x = F.interpolate(x, size=(t, 224, 224), mode="trilinear", align_corners=False)
        stats = torch.cat([x.mean(dim=(2, 3, 4)), (x[:, :, 1:] - x[:, :, :-1]).abs().mean(
            dim=(2, 3, 4))], dim=1)
        flags = torch.stack([seen_mean, width, torch.full_like(seen_mean, float(rescale)),
                             torch.full_like(seen_mean, float(resize)),
                             torch.full_like(seen_mean, float(return_features))], dim=1)
        zeros = torch.zeros(x.shape[0], 389, dtype=stats.dtype)
        return torch.cat([flags, stats * self.scale, zeros], dim=1)


class FakeC3D(nn.Module):
    """Takes uint8 (B, 3, T, H, W) like the C3D port; returns 101 softmax probabilities."""

    def __init__(self, probs: bool = True) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 101)
        self.probs = probs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8:
            raise RuntimeError("expected a uint8 video")
        logits = self.fc(x.float().mean(dim=(2, 3, 4)) / 25.0)
        if self.probs:
            return torch.softmax(logits, dim=1)
        return logits


def script_to(module: nn.Module, path: Path) -> Path:
    """Script ``module`` (seeded: the same file every time) and save it to ``path``."""
    torch.manual_seed(0)
    torch.jit.script(module).save(str(path))
    return path
