"""What ``vdmbench validate`` knows of the ``synth-i2v`` adapter without importing torch: its
options and class facts (:mod:`vdmbench.registry`, "config"); the adapter
(:class:`~vdmbench.models.synth_i2v.SynthI2VAdapter`) subclasses :class:`SynthI2VConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class SynthI2VOptions(BaseModel):
    """Options of the ``synth-i2v`` adapter; None = the value in the model's ``sampler.json``.

    ``motion_from_request``: use ``request.extra["motion_class"]`` as the motion bucket (else the
    null bucket). ``batch_size``: requests per sampler call. ``pad_batches``: fill the last
    batch up to ``batch_size`` (with copies of its last request) so that every sampler call has
    the same batch size: CPU kernels give results that depend on the batch size (≈1e-5), never
    on a sample's position or companions, so a video is then bit-identical however the requests
    are split into calls.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    sigma_min: float | None = Field(None, gt=0)
    sigma_max: float | None = Field(None, gt=0)
    rho: float | None = Field(None, gt=0)
    motion_from_request: bool = True
    batch_size: int = Field(8, ge=1)
    pad_batches: bool = True


class SynthI2VConfig:
    """The ``synth-i2v`` adapter's config: its options; it hands out a denoiser."""

    Options: ClassVar[type[SynthI2VOptions]] = SynthI2VOptions
    has_denoiser: ClassVar[bool] = True
