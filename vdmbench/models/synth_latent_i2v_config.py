"""What ``vdmbench validate`` knows of the ``synth-latent-i2v`` adapter without importing torch
(:mod:`vdmbench.registry`, "config"); the adapter
(:class:`~vdmbench.models.synth_latent_i2v.SynthLatentI2VAdapter`) subclasses
:class:`SynthLatentI2VConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from vdmbench.models.synth_i2v_config import SynthI2VConfig, SynthI2VOptions


class SynthLatentI2VOptions(SynthI2VOptions):
    """``synth-i2v``'s options plus ``noise_aug_strength`` (the conditioning latent's noise
    augmentation at sampling; None = ``sampler.json``'s, 0.02 for the shipped teacher)."""

    noise_aug_strength: float | None = Field(None, ge=0)


class SynthLatentI2VConfig(SynthI2VConfig):
    """The ``synth-latent-i2v`` adapter's config: ``synth-i2v``'s with its own options."""

    Options: ClassVar[type[SynthLatentI2VOptions]] = SynthLatentI2VOptions  # type: ignore[assignment]
