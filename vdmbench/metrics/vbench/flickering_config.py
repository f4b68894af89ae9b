"""What ``vdmbench validate`` knows of ``temporal_flickering`` without importing torch: its name;
it has no options (:mod:`vdmbench.registry`, "config"). The metric
(:class:`~vdmbench.metrics.vbench.flickering.TemporalFlickering`) subclasses it.
"""

from __future__ import annotations

from typing import ClassVar

from vdmbench.metrics.base import Metric


class TemporalFlickeringConfig(Metric):
    name: ClassVar[str] = "temporal_flickering"
