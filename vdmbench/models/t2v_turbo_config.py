"""What ``vdmbench validate`` knows of the ``t2v-turbo-v2`` adapter without importing torch
(:mod:`vdmbench.registry`, "config"); the adapter
(:class:`~vdmbench.models.t2v_turbo.T2VTurboAdapter`) subclasses :class:`T2VTurboConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class T2VTurboOptions(BaseModel):
    """File names are relative to the weights directory (absolute paths and ``${ENV}``
    allowed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_checkpoint: str = "VideoCrafter2_model.ckpt"
    unet: str = "unet_mg.pt"
    text_encoder: str | None = Field(
        None, description="OpenCLIP ViT-H-14 weights; None = the base checkpoint's")
    guidance_scale: float = 7.5
    motion_gs: float = 0.05
    motion_percentage: float = Field(0.3, ge=0, le=1)
    lcm_origin_steps: int = Field(200, gt=0)
    fps: int = Field(16, gt=0)
    frames: int = 16
    height: int = 320
    width: int = 512


class T2VTurboConfig:
    """The ``t2v-turbo-v2`` adapter's config: its options; it hands out a denoiser."""

    Options: ClassVar[type[T2VTurboOptions]] = T2VTurboOptions
    has_denoiser: ClassVar[bool] = True
