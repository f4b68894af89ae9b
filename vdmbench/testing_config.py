"""What ``vdmbench validate`` knows of the test-only components of :mod:`vdmbench.testing` without
importing torch (:mod:`vdmbench.registry`, "config"): their options and class facts; each class
there subclasses its config here. ``test-patterns`` has no options: its config is
:class:`~vdmbench.data.config.DatasetConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.acceleration import NoOptions, Transform
from vdmbench.metrics.base import Metric


class TestGeneratorOptions(BaseModel):
    """Options of ``test-generator``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    noise: float = Field(8.0, ge=0, description="std of added noise, pixel units")
    shift: int = Field(1, description="pixels the frame moves right per frame")
    work: int = Field(32, gt=0, description="matmul size per denoising step (speed knob)")
    sleep_s: float = Field(0.0, ge=0, description="seconds slept per generated video")


class TestGeneratorConfig:
    """``test-generator``'s config: its options."""

    Options: ClassVar[type[BaseModel]] = TestGeneratorOptions


class RandomSVDConfig:
    """``random-svd``'s config: no options (a teacher for analyze/compress tests only)."""

    Options: ClassVar[type[BaseModel]] = NoOptions


class MeanAbsDiffConfig(Metric):
    """``mean_abs_diff_to_teacher``'s config: it needs the teacher's videos."""

    name: ClassVar[str] = "mean_abs_diff_to_teacher"
    needs_teacher: ClassVar[bool] = True


class ScaleOutputOptions(BaseModel):
    """The denoiser's output becomes ``output · factor + offset`` (1, 0 = no change)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    factor: float = Field(1.0, gt=0)
    offset: float = 0.0


class ScaleOutputConfig(Transform):
    """``test-scale-output``'s config: its options."""

    name: ClassVar[str] = "test-scale-output"
    Options: ClassVar[type[BaseModel]] = ScaleOutputOptions
