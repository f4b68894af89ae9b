"""What ``vdmbench validate`` knows of ``psnr`` and ``ssim`` without importing torch: their
options; both need the teacher's videos (:mod:`vdmbench.registry`, "config"). The metrics of
:mod:`vdmbench.metrics.fidelity` subclass these configs.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.metrics.base import Metric


class PSNROptions(BaseModel):
    """``max_db``: cap of each video's PSNR (identical videos count as ``max_db``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_db: float = Field(100.0, gt=0)


class SSIMOptions(BaseModel):
    """``channels``: SSIM on BT.601 luma (default) or per RGB channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channels: Literal["luma", "rgb"] = "luma"


class TeacherFidelityConfig(Metric):
    """A metric comparing each video with the teacher's for the same request."""

    needs_teacher: ClassVar[bool] = True


class PSNRConfig(TeacherFidelityConfig):
    name: ClassVar[str] = "psnr"
    Options: ClassVar[type[BaseModel]] = PSNROptions


class SSIMConfig(TeacherFidelityConfig):
    name: ClassVar[str] = "ssim"
    Options: ClassVar[type[BaseModel]] = SSIMOptions
