"""What ``vdmbench validate`` knows of the transform ``int8`` without importing torch:
its options (:mod:`vdmbench.registry`,
"config"); :class:`~baselines.int8.Int8` subclasses :class:`Int8Config`.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.acceleration import Applicability, Transform


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

    @classmethod
    def applies_to_adapter(cls, factory: Any) -> Applicability:
        """Refused before any model loads where torchao is not installed (found, not imported)."""
        if importlib.util.find_spec("torchao") is None:
            return Applicability(False, "it needs torchao, which is not installed: "
                                        "pip install 'torchao>=0.18'")
        return super().applies_to_adapter(factory)

