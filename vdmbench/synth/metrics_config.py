"""What ``vdmbench validate`` knows of the synthetic world's metrics without importing torch:
their options (the shipped extractors, or ``weights``) and the videos they need
(:mod:`vdmbench.registry`, "config"); each metric of :mod:`vdmbench.synth.metrics` subclasses
its config here.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from vdmbench.metrics.feature_metrics_config import (
    ExtractorMetricConfig,
    FeatureISOptions,
    FeatureMetricOptions,
    FrechetConfig,
    InceptionScoreConfig,
)


class SynthFeatureOptions(FeatureMetricOptions):
    """``weights``: a weight file or folder to use instead of the shipped extractors."""

    weights: str | None = Field(None, description="weight file/folder; None = shipped weights")


class SynthISOptions(FeatureISOptions):
    """``is_synth`` options: ``splits`` (default 10) and ``weights`` as for ``fvd_synth``."""

    weights: str | None = Field(None, description="weight file/folder; None = shipped weights")


class SynthFVDConfig(FrechetConfig):
    name: ClassVar[str] = "fvd_synth"
    Options: ClassVar[type[BaseModel]] = SynthFeatureOptions


class SynthContentFDConfig(FrechetConfig):
    name: ClassVar[str] = "content_fd_synth"
    Options: ClassVar[type[BaseModel]] = SynthFeatureOptions


class SynthISConfig(InceptionScoreConfig):
    name: ClassVar[str] = "is_synth"
    Options: ClassVar[type[BaseModel]] = SynthISOptions


class SynthMotionAccuracyConfig(ExtractorMetricConfig):
    name: ClassVar[str] = "motion_acc_synth"
    Options: ClassVar[type[BaseModel]] = SynthFeatureOptions
