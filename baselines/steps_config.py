"""What ``vdmbench validate`` knows of the transforms that reuse results across sampler steps
(``deepcache``, ``pab``, ``tgate``) without importing torch: a one-step adapter is refused
(:mod:`vdmbench.registry`, "config"). :class:`~baselines.steps.AcrossStepsAttentionTransform`
subclasses :class:`AcrossStepsConfig`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from vdmbench.acceleration import Applicability, Transform


def one_step_adapter(factory: Any) -> bool:
    """Whether an adapter class samples in exactly one step (``default_steps == 1``: sfv)."""
    return getattr(factory, "default_steps", None) == 1


class AcrossStepsConfig(Transform):
    """The config of a transform that reuses attention from earlier sampler steps: refused for
    adapters that sample in one step."""

    #: why a one-step model is refused (completes "there is no …")
    one_step_reason: ClassVar[str] = "later step to reuse attention in"

    @classmethod
    def applies_to_adapter(cls, factory: Any) -> Applicability:
        if one_step_adapter(factory):
            return Applicability(False, f"its adapter samples in one step: there is no "
                                        f"{cls.one_step_reason}")
        return super().applies_to_adapter(factory)
