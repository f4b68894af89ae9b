"""What ``vdmbench validate`` knows of the transform ``deepcache`` without importing torch:
its options; a one-step adapter is refused (:mod:`vdmbench.registry`,
"config"); :class:`~baselines.deepcache.DeepCache` subclasses :class:`DeepCacheConfig`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from baselines.steps_config import one_step_adapter
from vdmbench.acceleration import Applicability, Transform


class DeepCacheOptions(BaseModel):
    """``interval``: a full UNet evaluation every ``interval`` noise levels (1 = every step, the
    identity); ``branch``: the shallow branch recomputed between full steps, as the number of
    down/up block pairs kept after the first (0 = the shallowest, the most saved; must be
    below the UNet's number of down blocks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    interval: int = Field(2, ge=1, le=1000)
    branch: int = Field(0, ge=0)


class DeepCacheConfig(Transform):
    """``deepcache``'s config: options; refused for one-step adapters."""

    name: ClassVar[str] = "deepcache"
    Options: ClassVar[type[BaseModel]] = DeepCacheOptions

    @classmethod
    def applies_to_adapter(cls, factory: Any) -> Applicability:
        if one_step_adapter(factory):
            return Applicability(False, "its adapter samples in one step: there is no later "
                                        "step to reuse features in")
        return super().applies_to_adapter(factory)
