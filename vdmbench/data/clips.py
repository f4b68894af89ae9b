"""Training clips: which videos a dataset offers for training and how a clip is cut from one.

A :class:`ClipSource` is what a registered dataset hands to training (``Dataset.training_source``):
the list of candidate videos (:class:`ClipRef`, in a fixed order, listed without decoding) and
:meth:`ClipSource.load`, which decodes one into a :class:`TrainClip` — uint8 ``(T, H, W, 3)``
frames at the model's resolution, the first frame, the caption. Everything is a pure function of
``(seed, index)`` and the file: the same arguments give the same pixels.

Clip sampling (:class:`ClipSampler`, versioned by :data:`SAMPLER_VERSION`):

- stride: ``frame_stride`` when given, else ``round(native fps / fps)`` (at least 1), so clips
  play at about ``fps``; where the video is too short for that stride, the largest stride that
  fits (as the UCF101 presets do); a video shorter than ``frames`` is a bad file;
- start: a seeded offset in ``[0, total − span]`` from sha256(seed, index, file name);
- resize: ``cover_center_crop`` (aspect kept, centre crop) or ``squash`` to height × width
  (:func:`resize_clip`, which the UCF101 evaluation presets use too);
- decoding: PyAV, or decord with ``decoder: decord`` (:mod:`vdmbench.data.decode`).

A file that cannot be decoded, is truncated or too short raises :class:`DataError` naming it;
callers (the latent cache) skip it and list it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from vdmbench.data.decode import Backend, decode, probe
from vdmbench.errors import DataError
from vdmbench.video import from_unit_float, resize_frames, to_unit_float

#: bump whenever the pixels of a clip for the same (seed, index, file, options) can change
SAMPLER_VERSION = "train-clips-1"


def resize_clip(frames: np.ndarray | torch.Tensor, size: tuple[int, int],
                policy: Literal["cover_center_crop", "squash"]) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` → uint8 ``(T, size[0], size[1], 3)`` by the resize policy."""
    x = torch.as_tensor(np.asarray(frames))
    h, w = size
    if tuple(x.shape[1:3]) == (h, w):
        return x.clone()
    f = to_unit_float(x).permute(0, 3, 1, 2)
    if policy == "squash":
        f = resize_frames(f, (h, w), "squash_bilinear")
    else:
        ih, iw = f.shape[-2:]
        scale = max(h / ih, w / iw)
        nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
        f = resize_frames(f, (nh, nw), "squash_bilinear")
        top, left = (nh - h) // 2, (nw - w) // 2
        f = f[..., top:top + h, left:left + w]
    return from_unit_float(f.permute(0, 2, 3, 1)).contiguous()


@dataclass(frozen=True)
class ClipRef:
    """One candidate video: its position ``index`` in the source's list, ``name`` (the path as
    the dataset lists it, relative to its root), ``path`` (None for procedural sources),
    ``caption`` (None: the dataset has no captions) and ``size`` (file bytes, part of the cache
    key; 0 for procedural sources)."""

    index: int
    name: str
    path: Path | None
    caption: str | None
    size: int = 0


@dataclass(frozen=True)
class TrainClip:
    """A decoded training clip: ``frames`` uint8 ``(T, H, W, 3)``, ``fps`` the clip's own rate
    (native fps / stride), the ``start`` frame and ``stride`` in a video of ``total`` frames."""

    ref: ClipRef
    frames: torch.Tensor
    fps: float
    start: int
    stride: int
    total: int

    @property
    def first_frame(self) -> torch.Tensor:
        """uint8 ``(H, W, 3)``: the conditioning image of image-to-video models."""
        return self.frames[0]

    @property
    def caption(self) -> str | None:
        return self.ref.caption


def _offset(seed: int, index: int, name: str, choices: int) -> int:
    digest = hashlib.sha256(f"{SAMPLER_VERSION}:{seed}:{index}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % choices


@dataclass(frozen=True)
class ClipSampler:
    """How a clip is cut from a video file (see the module docstring)."""

    frames: int
    height: int
    width: int
    fps: float = 8.0
    frame_stride: int | None = None
    resize: Literal["cover_center_crop", "squash"] = "cover_center_crop"
    decoder: Backend = "pyav"
    seed: int = 0

    def material(self) -> dict[str, Any]:
        """What determines the pixels (for cache keys)."""
        return {"sampler": SAMPLER_VERSION, "frames": self.frames, "height": self.height,
                "width": self.width, "fps": self.fps, "frame_stride": self.frame_stride,
                "resize": self.resize, "decoder": self.decoder, "seed": self.seed}

    def window(self, ref: ClipRef, total: int, native_fps: float) -> tuple[int, int]:
        """(start, stride) of the clip of ``ref`` in a video of ``total`` frames."""
        if total < self.frames:
            raise DataError(f"{ref.path or ref.name}: {total} frames, a clip needs "
                            f"{self.frames} (too short)")
        stride = self.frame_stride or max(1, round(native_fps / self.fps))
        while stride > 1 and (self.frames - 1) * stride + 1 > total:
            stride -= 1
        span = (self.frames - 1) * stride + 1
        return _offset(self.seed, ref.index, ref.name, total - span + 1), stride

    def load(self, ref: ClipRef) -> TrainClip:
        """Decode and resize the clip of ``ref`` (a file); :class:`DataError` names a bad one."""
        if ref.path is None:
            raise DataError(f"{ref.name}: no file to decode")
        total, native_fps = probe(ref.path, self.decoder)
        start, stride = self.window(ref, total, native_fps)
        idx = [start + i * stride for i in range(self.frames)]
        frames = decode(ref.path, idx, self.decoder)
        clip = resize_clip(frames, (self.height, self.width), self.resize)
        return TrainClip(ref, clip, native_fps / stride, start, stride, total)


class ClipSource:
    """Candidate training videos of a dataset and how to load one (see the module docstring).

    ``dataset``: the registered name; ``has_captions``: whether clips carry captions;
    ``options``: the dataset's validated options (recorded with the cache)."""

    def __init__(self, dataset: str, refs: Sequence[ClipRef], sampler: ClipSampler | None,
                 *, has_captions: bool, options: dict[str, Any] | None = None,
                 identity: dict[str, Any] | None = None) -> None:
        self.dataset = dataset
        self._refs = list(refs)
        self.sampler = sampler
        self.has_captions = has_captions
        self.options = options or {}
        self.identity = identity or {}

    def refs(self) -> list[ClipRef]:
        return list(self._refs)

    def load(self, ref: ClipRef) -> TrainClip:
        assert self.sampler is not None
        return self.sampler.load(ref)

    def material(self) -> dict[str, Any]:
        """What determines the clips: dataset, options, sampling, and every candidate's name,
        size and caption (content identity without reading the videos)."""
        h = hashlib.sha256()
        for r in self._refs:
            h.update(f"{r.index}\0{r.name}\0{r.size}\0{r.caption}\n".encode())
        return {"dataset": self.dataset, "options": self.options, **self.identity,
                "sampler": self.sampler.material() if self.sampler else None,
                "clips": len(self._refs), "clip_list_sha256": h.hexdigest()}


def select(n_total: int, limit: int | None, seed: int) -> list[int]:
    """Indices of the candidates used: all (``limit`` None or ≥ ``n_total``), else a seeded
    sample of ``limit`` of them, in listing order."""
    if limit is None or limit >= n_total:
        return list(range(n_total))
    return sorted(random.Random(f"train-select:{seed}").sample(range(n_total), limit))
