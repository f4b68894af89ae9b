"""What ``vdmbench validate`` knows of the ``vbench_*`` metric family without importing torch:
the options and a config class per metric (:mod:`vdmbench.registry`, "config"); each metric of
:mod:`vdmbench.metrics.vbench.metric` subclasses its config here
(``vbench_<dimension>``: :data:`DIMENSION_CONFIGS`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vdmbench.metrics.base import Metric
from vdmbench.metrics.vbench.naming import Mode
from vdmbench.metrics.vbench.scores import DIMENSIONS, check_dimensions


class VBenchOptions(BaseModel):
    """Options shared by the family.

    ``python``: VBench's interpreter (``${VBENCH_PYTHON}``); ``full_info``: the prompt list
    (default: the dataset's, else an installed vbench's); ``weights_dir``: VBench's weights
    (default ``$VBENCH_CACHE_DIR``); ``mode``: ``vbench_standard`` (VBench prompt set, files
    named ``{prompt}-{i}.mp4``) or ``custom_input`` (any prompts; 10 dimensions);
    ``device``: VBench's device (default: the run's); ``crf``/``pix_fmt``: mp4 encoding;
    ``timeout_s``: limit per VBench process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python: str = "${VBENCH_PYTHON}"
    full_info: str | None = None
    weights_dir: str | None = None
    mode: Mode = "vbench_standard"
    device: str | None = None
    crf: int = Field(0, ge=0, le=51)
    pix_fmt: Literal["yuv444p", "yuv420p"] = "yuv444p"
    timeout_s: float | None = Field(None, gt=0)


class VBenchAggregateOptions(VBenchOptions):
    """``dimensions``: which dimensions to evaluate (default: all 16); an aggregate missing one
    of its dimensions is reported incomplete."""

    dimensions: list[str] = Field(default_factory=lambda: list(DIMENSIONS))

    @field_validator("dimensions")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        check_dimensions(v)
        return v


class VBenchFamilyConfig(Metric):
    """Every metric of the family: VBench's options."""

    Options: ClassVar[type[BaseModel]] = VBenchOptions


class VBenchAggregateConfig(VBenchFamilyConfig):
    """Total / Quality / Semantic: the options name the dimensions."""

    Options: ClassVar[type[BaseModel]] = VBenchAggregateOptions


class VBenchTotalConfig(VBenchAggregateConfig):
    name: ClassVar[str] = "vbench_total"


class VBenchQualityConfig(VBenchAggregateConfig):
    name: ClassVar[str] = "vbench_quality"


class VBenchSemanticConfig(VBenchAggregateConfig):
    name: ClassVar[str] = "vbench_semantic"


def _dimension_config(dim: str) -> type[VBenchFamilyConfig]:
    cls_name = "VBench" + "".join(p.capitalize() for p in dim.split("_")) + "Config"
    return type(cls_name, (VBenchFamilyConfig,), {"name": f"vbench_{dim}", "__module__": __name__})


#: ``vbench_<dimension>`` → its config class (also a module attribute, ``VBench<Dim>Config``)
DIMENSION_CONFIGS: dict[str, type[VBenchFamilyConfig]] = {}
for _d in DIMENSIONS:
    _cls = _dimension_config(_d)
    DIMENSION_CONFIGS[_cls.name] = _cls
    globals()[_cls.__name__] = _cls
