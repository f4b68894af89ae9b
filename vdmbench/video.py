"""The canonical video form and every conversion from it.

A :class:`Video` holds ``frames``: a ``torch.uint8`` tensor of shape ``(T, H, W, 3)`` (RGB) and
``fps``. Batches are ``(B, T, H, W, 3)`` uint8. Every metric and feature extractor checks its
input with :func:`check_video` / :func:`stack_videos` and converts with the functions here, so
there is one place where value ranges, layouts and resize modes are decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from vdmbench.errors import InvalidVideoError

ResizeMode = Literal["squash_bilinear", "short_side_center_crop", "none"]


@dataclass(frozen=True, eq=False)
class Video:
    """A video: ``frames`` uint8 ``(T, H, W, 3)`` RGB on any device, ``fps`` frames per second."""

    frames: torch.Tensor
    fps: float

    def __post_init__(self) -> None:
        check_video(self.frames, "video")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def sha256(self) -> str:
        """Content hash of the frames (bytes in (T, H, W, 3) order) and fps."""
        return video_sha256(self.frames, self.fps)


def video_sha256(frames: torch.Tensor, fps: float | None = None) -> str:
    """sha256 of a uint8 tensor's bytes (C order), its shape and, if given, fps."""
    h = hashlib.sha256()
    h.update(str(tuple(frames.shape)).encode())
    if fps is not None:
        h.update(repr(float(fps)).encode())
    h.update(frames.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def check_video(frames: torch.Tensor, name: str) -> None:
    """Raise :class:`InvalidVideoError` naming ``name`` unless ``frames`` is uint8 (T, H, W, 3)."""
    if not isinstance(frames, torch.Tensor):
        raise InvalidVideoError(f"{name}: expected a torch.Tensor, got {type(frames).__name__}")
    if frames.dtype != torch.uint8:
        raise InvalidVideoError(f"{name}: expected dtype uint8, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidVideoError(
            f"{name}: expected shape (T, H, W, 3), got {tuple(frames.shape)}")
    if min(frames.shape[:3]) < 1:
        raise InvalidVideoError(f"{name}: empty video of shape {tuple(frames.shape)}")


def check_batch(batch: torch.Tensor, name: str = "batch") -> None:
    """Raise unless ``batch`` is uint8 ``(B, T, H, W, 3)``; names the first bad sample."""
    if not isinstance(batch, torch.Tensor) or batch.ndim != 5:
        shape = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise InvalidVideoError(f"{name}: expected a (B, T, H, W, 3) uint8 tensor, got {shape}")
    for i in range(batch.shape[0]):
        check_video(batch[i], f"{name}[{i}]")


def stack_videos(videos: Sequence[Video | torch.Tensor], names: Sequence[str] | None = None
                 ) -> torch.Tensor:
    """Stack videos of one shape into a uint8 ``(B, T, H, W, 3)`` batch; errors name the sample."""
    if len(videos) == 0:
        raise InvalidVideoError("empty list of videos")
    tensors = []
    for i, v in enumerate(videos):
        label = names[i] if names is not None else f"sample {i}"
        frames = v.frames if isinstance(v, Video) else v
        check_video(frames, label)
        if tensors and frames.shape != tensors[0].shape:
            raise InvalidVideoError(
                f"{label}: shape {tuple(frames.shape)} differs from the batch's "
                f"{tuple(tensors[0].shape)}")
        tensors.append(frames)
    return torch.stack(tensors)


def to_unit_float(batch: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 ``(..., 3)`` in [0, 255] → float in [-1, 1] (x / 127.5 − 1), same layout."""
    return batch.to(dtype) / 127.5 - 1.0


def from_unit_float(x: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] → uint8 in [0, 255] with rounding and clamping, same layout."""
    return ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def to_bcthw(batch: torch.Tensor) -> torch.Tensor:
    """``(B, T, H, W, C)`` → ``(B, C, T, H, W)`` (a permuted view; call .contiguous() if needed)."""
    return batch.permute(0, 4, 1, 2, 3)


def from_bcthw(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, T, H, W)`` → ``(B, T, H, W, C)``."""
    return x.permute(0, 2, 3, 4, 1)


def to_btchw(batch: torch.Tensor) -> torch.Tensor:
    """``(B, T, H, W, C)`` → ``(B, T, C, H, W)`` (diffusers' video layout)."""
    return batch.permute(0, 1, 4, 2, 3)


def from_btchw(x: torch.Tensor) -> torch.Tensor:
    """``(B, T, C, H, W)`` → ``(B, T, H, W, C)``."""
    return x.permute(0, 1, 3, 4, 2)


def video_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Sampled float ``(B, T, 3, H, W)`` in [-1, 1] → uint8 ``(B, T, H, W, 3)`` on the CPU."""
    return from_unit_float(from_btchw(x)).cpu().contiguous()


def resize_frames(x: torch.Tensor, size: tuple[int, int], mode: ResizeMode) -> torch.Tensor:
    """Resize float frames ``(N, C, H, W)`` to ``size`` = (height, width).

    ``squash_bilinear``: bilinear to exactly ``size``, aspect ratio not kept, no antialias
    (the StyleGAN-V / cd-fvd detectors' resize). ``short_side_center_crop``: bilinear with the
    aspect ratio kept, by the smallest scale at which the frame covers ``size`` (for a square
    ``size``: the short side becomes ``size``), then a centre crop. ``none``: shape must match.
    """
    h, w = size
    if mode == "none":
        if tuple(x.shape[-2:]) != (h, w):
            raise InvalidVideoError(f"frames are {tuple(x.shape[-2:])}, protocol needs {size}")
        return x
    if mode == "squash_bilinear":
        if tuple(x.shape[-2:]) == (h, w):
            return x
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    if mode == "short_side_center_crop":
        ih, iw = x.shape[-2:]
        scale = max(h / ih, w / iw)
        nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
        if (nh, nw) != (ih, iw):
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
        top, left = (nh - h) // 2, (nw - w) // 2
        return x[..., top:top + h, left:left + w]
    raise ValueError(f"unknown resize mode {mode!r}")


def resize_video_batch(batch: torch.Tensor, size: tuple[int, int], mode: ResizeMode
                       ) -> torch.Tensor:
    """Resize a float ``(B, C, T, H, W)`` batch frame by frame with :func:`resize_frames`."""
    b, c, t, _, _ = batch.shape
    frames = batch.permute(0, 2, 1, 3, 4).reshape(b * t, c, *batch.shape[-2:])
    frames = resize_frames(frames, size, mode)
    return frames.reshape(b, t, c, *frames.shape[-2:]).permute(0, 2, 1, 3, 4)
