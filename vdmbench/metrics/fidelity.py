"""Fidelity of a student to its teacher: PSNR and SSIM between videos for the same request + seed.

- **PSNR** (dB), per video: ``10·log10(255² / MSE)`` with the MSE over all frames, pixels and
  channels in float64. Identical videos have MSE 0 and PSNR ``inf`` (what :func:`psnr_video`
  returns); the ``psnr`` metric caps each video's value at ``max_db`` (default 100 dB) so the
  mean stays finite and JSON-safe, and reports how many videos hit the cap.
- **SSIM** (Wang et al. 2004), per frame: Gaussian window 11×11, σ 1.5, K1 0.01, K2 0.03, data
  range L = 255, statistics over "valid" window positions only (no padding), population
  (biased) local variances; computed on BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` by default
  (``channels="rgb"``: per RGB channel, then averaged); averaged over frames, then over videos.
  Identical videos give exactly 1.

Both metrics need the teacher's videos (``needs_teacher=True``); higher is better.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel

from vdmbench.errors import InvalidVideoError, MetricError
from vdmbench.metrics.base import MetricContext, MetricValue
from vdmbench.metrics.fidelity_config import (
    PSNRConfig,
    SSIMConfig,
    TeacherFidelityConfig,
)
from vdmbench.metrics.fidelity_config import (
    PSNROptions as PSNROptions,
)
from vdmbench.metrics.fidelity_config import (
    SSIMOptions as SSIMOptions,
)
from vdmbench.video import check_video

if TYPE_CHECKING:
    from vdmbench.generation import GenerationRequest
    from vdmbench.video import Video

DATA_RANGE = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
LUMA = (0.299, 0.587, 0.114)


def _pair(a: torch.Tensor, b: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    check_video(a, f"{name} (student)")
    check_video(b, f"{name} (teacher)")
    if a.shape != b.shape:
        raise InvalidVideoError(f"{name}: student video {tuple(a.shape)} and teacher video "
                                f"{tuple(b.shape)} differ in shape")
    return a.cpu().to(torch.float64), b.cpu().to(torch.float64)


def psnr_video(a: torch.Tensor, b: torch.Tensor, name: str = "video") -> float:
    """PSNR in dB between two uint8 ``(T, H, W, 3)`` videos (``inf`` when identical)."""
    x, y = _pair(a, b, name)
    mse = float(((x - y) ** 2).mean())
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(DATA_RANGE ** 2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalized 1-D Gaussian ``(size,)`` float64 centred on the middle sample."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim_frames(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image for float64 ``(N, H, W)`` images in [0, 255] → ``(N,)``."""
    g = gaussian_window()
    k = SSIM_WINDOW
    wh, ww = g.view(1, 1, k, 1), g.view(1, 1, 1, k)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(z.unsqueeze(1), wh), ww).squeeze(1)

    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2))


def ssim_video(a: torch.Tensor, b: torch.Tensor, channels: Literal["luma", "rgb"] = "luma",
               name: str = "video") -> float:
    """SSIM between two uint8 ``(T, H, W, 3)`` videos: per frame (luma or per channel),
    averaged over frames (and channels). Frames must be at least 11×11."""
    x, y = _pair(a, b, name)
    t, h, w, _ = x.shape
    if min(h, w) < SSIM_WINDOW:
        raise MetricError(f"{name}: frames of {h}×{w} are smaller than the {SSIM_WINDOW}×"
                          f"{SSIM_WINDOW} SSIM window")
    if channels == "luma":
        coef = torch.tensor(LUMA, dtype=torch.float64)
        xs, ys = x @ coef, y @ coef  # (T, H, W)
    elif channels == "rgb":
        xs = x.permute(0, 3, 1, 2).reshape(t * 3, h, w)
        ys = y.permute(0, 3, 1, 2).reshape(t * 3, h, w)
    else:
        raise MetricError(f"{name}: unknown SSIM channels {channels!r} (use 'luma' or 'rgb')")
    return float(ssim_frames(xs, ys).mean())


class _TeacherFidelity(TeacherFidelityConfig):
    """Per-video scores of student vs teacher, averaged; ``ci`` = mean ± 1.96 standard errors."""

    higher_is_better: ClassVar[bool] = True

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self._values: list[float] = []

    def score(self, student: torch.Tensor, teacher: torch.Tensor, name: str) -> float:
        raise NotImplementedError

    def protocol(self) -> dict[str, Any]:
        from vdmbench.metrics.protocols import get_preset

        return {**super().protocol(), "preprocessing": get_preset(self.name).describe()}

    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        if teacher_videos is None:
            raise MetricError(f"metric '{self.name}' compares with the teacher's videos, but "
                              f"none were given (set the suite's teacher_model)")
        if not (len(videos) == len(requests) == len(teacher_videos)):
            raise MetricError(f"{self.name}: {len(videos)} videos, {len(teacher_videos)} "
                              f"teacher videos and {len(requests)} requests do not match")
        for v, t, r in zip(videos, teacher_videos, requests):
            self._values.append(self.score(v.frames, t.frames, f"request {r.id}"))

    def _summary(self, values: np.ndarray) -> MetricValue:
        n = len(values)
        if n == 0:
            raise MetricError(f"{self.name}: no videos were compared")
        mean = float(values.mean())
        ci = None
        if n >= 2:
            se = float(values.std(ddof=1)) / math.sqrt(n)
            ci = (mean - 1.96 * se, mean + 1.96 * se)
        return MetricValue(value=mean, n=n, ci=ci,
                           details={"min": float(values.min()), "max": float(values.max())})


class PSNRMetric(PSNRConfig, _TeacherFidelity):
    """``psnr``: mean per-video PSNR (dB) of student vs teacher, each capped at ``max_db``."""

    version: ClassVar[str] = "1"

    def score(self, student: torch.Tensor, teacher: torch.Tensor, name: str) -> float:
        return psnr_video(student, teacher, name)

    def compute(self) -> MetricValue:
        cap = float(self.options.max_db)  # type: ignore[attr-defined]
        raw = np.asarray(self._values, dtype=np.float64)
        mv = self._summary(np.minimum(raw, cap))
        mv.details.update({"max_db": cap, "n_capped": int((raw >= cap).sum()),
                           "n_identical": int(np.isinf(raw).sum())})
        return mv


class SSIMMetric(SSIMConfig, _TeacherFidelity):
    """``ssim``: mean per-video SSIM of student vs teacher."""

    version: ClassVar[str] = "1"

    def score(self, student: torch.Tensor, teacher: torch.Tensor, name: str) -> float:
        channels = self.options.channels  # type: ignore[attr-defined]
        return ssim_video(student, teacher, channels, name)

    def compute(self) -> MetricValue:
        mv = self._summary(np.asarray(self._values, dtype=np.float64))
        mv.details["channels"] = self.options.channels  # type: ignore[attr-defined]
        return mv
