"""What ``vdmbench validate`` knows of the ``synthmotion`` dataset without importing torch
(:mod:`vdmbench.registry`, "config"); :class:`~vdmbench.data.synthmotion.SynthMotionDataset`
subclasses :class:`SynthMotionConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.data.config import DatasetConfig


class SynthMotionOptions(BaseModel):
    """``first_index``: the first sample index (use disjoint ranges for disjoint sets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    first_index: int = Field(0, ge=0)


class SynthMotionConfig(DatasetConfig):
    """The ``synthmotion`` dataset's config: its options."""

    Options: ClassVar[type[BaseModel]] = SynthMotionOptions
