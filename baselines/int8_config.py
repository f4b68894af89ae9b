"""What ``vdmbench validate`` knows of the transform ``int8`` without importing torch:
its options (:mod:`vdmbench.registry`,
"config"); :class:`~baselines.int8.Int8` subclasses :class:`Int8Config`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.acceleration import Transform


class Int8Options(BaseModel):
    """``mode``: ``weight_only`` or ``dynamic`` (int8 activations too); ``min_features``:
    quantize only Linear layers with at least this many input features."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["weight_only", "dynamic"] = "weight_only"
    min_features: int = Field(16, ge=1)


class Int8Config(Transform):
    """``int8``'s config."""

    name: ClassVar[str] = "int8"
    Options: ClassVar[type[BaseModel]] = Int8Options
