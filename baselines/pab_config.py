"""What ``vdmbench validate`` knows of the transform ``pab`` without importing torch:
its options; a one-step adapter is refused (:mod:`vdmbench.registry`,
"config"); :class:`~baselines.pab.PyramidAttentionBroadcast` subclasses :class:`PABConfig`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from baselines.dit_cache import adapter_applicability
from baselines.steps_config import AcrossStepsConfig
from vdmbench.acceleration import Applicability


class PABOptions(BaseModel):
    """``spatial_every`` / ``temporal_every`` / ``cross_every``: compute that attention once
    every N calls inside the range (None: never skip it); ``sigma_range``: ``[lo, hi]``, the
    noise levels (σ, exclusive) where a UNet's attention may be reused (``lo == hi``:
    nowhere); ``timestep_range``: the same on a transformer, in its timestep units (diffusers'
    default (100, 800))."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    spatial_every: int | None = Field(2, ge=1, le=100)
    temporal_every: int | None = Field(None, ge=1, le=100)
    cross_every: int | None = Field(None, ge=1, le=100)
    sigma_range: tuple[float, float] = (0.05, 10.0)
    timestep_range: tuple[float, float] = (100.0, 800.0)

    @model_validator(mode="after")
    def _range(self) -> PABOptions:
        lo, hi = self.sigma_range
        if not 0 <= lo <= hi:
            raise ValueError(f"sigma_range must be [lo, hi] with 0 ≤ lo ≤ hi, got [{lo}, {hi}]")
        if self.timestep_range[0] > self.timestep_range[1]:
            raise ValueError(f"timestep_range must be [lo, hi] with lo ≤ hi, got "
                             f"{list(self.timestep_range)}")
        if self.spatial_every is None and self.temporal_every is None \
                and self.cross_every is None:
            raise ValueError("set at least one of spatial_every, temporal_every, cross_every")
        return self


class PABConfig(AcrossStepsConfig):
    """``pab``'s config."""

    name: ClassVar[str] = "pab"
    Options: ClassVar[type[BaseModel]] = PABOptions
    one_step_reason: ClassVar[str] = "later step to broadcast attention to"
    #: a transformer-only model (the ``diffusers`` adapter on Wan) has no denoiser spec
    needs_denoiser: ClassVar[bool] = False

    @classmethod
    def applies_to_adapter(cls, factory: Any) -> Applicability:
        verdict = adapter_applicability(factory, unet_too=True)
        return verdict if not verdict else super().applies_to_adapter(factory)
