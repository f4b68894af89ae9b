"""What ``vdmbench validate`` knows of the transform ``tgate`` without importing torch:
its options; a one-step adapter is refused (:mod:`vdmbench.registry`,
"config"); :class:`~baselines.tgate.TGate` subclasses :class:`TGateConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from baselines.steps_config import AcrossStepsConfig


class TGateOptions(BaseModel):
    """``gate_step``: the first noise level (0-based) at which cross-attention is reused;
    ``self_every_before`` / ``self_every_after``: compute self-attention once every N levels
    before / from the gate (1 = every level)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    gate_step: int = Field(4, ge=1, le=10000)
    self_every_before: int = Field(1, ge=1, le=100)
    self_every_after: int = Field(1, ge=1, le=100)


class TGateConfig(AcrossStepsConfig):
    """``tgate``'s config."""

    name: ClassVar[str] = "tgate"
    Options: ClassVar[type[BaseModel]] = TGateOptions
    one_step_reason: ClassVar[str] = "step after a gate"
