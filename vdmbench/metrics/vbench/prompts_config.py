"""What ``vdmbench validate`` knows of the ``vbench_prompts`` dataset without importing torch
(:mod:`vdmbench.registry`, "config"); :class:`~vdmbench.metrics.vbench.prompts.VBenchPromptDataset`
subclasses :class:`VBenchPromptsConfig`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.data.config import DatasetConfig
from vdmbench.metrics.vbench.naming import SAMPLES_PER_PROMPT


class VBenchPromptsOptions(BaseModel):
    """``full_info``: path of ``VBench_full_info.json`` (default: the installed vbench's);
    ``dimensions``: keep prompts of these dimensions only (default: all 16);
    ``samples_per_prompt``: videos per prompt (VBench's protocol: 5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full_info: str | None = None
    dimensions: list[str] | None = None
    samples_per_prompt: int = Field(SAMPLES_PER_PROMPT, gt=0)


class VBenchPromptsConfig(DatasetConfig):
    """The ``vbench_prompts`` dataset's config: its options."""

    Options: ClassVar[type[BaseModel]] = VBenchPromptsOptions
