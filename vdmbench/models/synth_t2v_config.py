"""What ``vdmbench validate`` knows of the ``synth-t2v`` adapter without importing torch
(:mod:`vdmbench.registry`, "config"); the adapter
(:class:`~vdmbench.models.synth_t2v.SynthT2VAdapter`) subclasses :class:`SynthT2VConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class SynthT2VOptions(BaseModel):
    """``guidance_scale``: classifier-free guidance (None = the model's default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    guidance_scale: float | None = Field(None, ge=0)


class SynthT2VConfig:
    """The ``synth-t2v`` adapter's config: its options; it hands out a denoiser."""

    Options: ClassVar[type[SynthT2VOptions]] = SynthT2VOptions
    has_denoiser: ClassVar[bool] = True
