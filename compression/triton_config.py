"""What ``vdmbench validate`` knows of the transform ``triton`` without importing torch: its
options (:mod:`vdmbench.registry`, "config"; outside ``compression/kernels/``, whose package
imports the kernels); :class:`~compression.kernels.transform.TritonKernels` subclasses
:class:`TritonConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from vdmbench.acceleration import Transform


class TritonOptions(BaseModel):
    """Which parts to install (all by default); see :class:`~compression.kernels.FastKernels`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    temporal_attention: bool = True
    one_token_cross_attention: bool = True
    group_norm: bool = True
    project_once: bool = False


class TritonConfig(Transform):
    """``triton``'s config."""

    name: ClassVar[str] = "triton"
    Options: ClassVar[type[BaseModel]] = TritonOptions
