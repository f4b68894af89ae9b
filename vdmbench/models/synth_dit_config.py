"""What ``vdmbench validate`` knows of the ``synth-dit-t2v`` adapter without importing torch
(:mod:`vdmbench.registry`, "config"); the adapter
(:class:`~vdmbench.models.synth_dit.SynthDiTT2VAdapter`) subclasses :class:`SynthDiTT2VConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class SynthDiTT2VOptions(BaseModel):
    """``guidance_scale``: classifier-free guidance (None = the model's default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    guidance_scale: float | None = Field(None, ge=0)


class SynthDiTT2VConfig:
    """The ``synth-dit-t2v`` adapter's config: its options; it hands out a denoiser and a
    transformer (a diffusers ``CacheMixin``)."""

    Options: ClassVar[type[SynthDiTT2VOptions]] = SynthDiTT2VOptions
    has_denoiser: ClassVar[bool] = True
    has_transformer: ClassVar[bool] = True
