"""What ``vdmbench validate`` knows of a dataset without importing torch: the base of every
dataset's config class (:mod:`vdmbench.registry`, "config"). A dataset's config holds its
``Options`` and, where it has one, the classmethod ``check(spec, options)`` (before any data is
read: folders, split files, presets); :class:`~vdmbench.data.base.VideoDataset` and so every
registered dataset subclasses it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class NoDatasetOptions(BaseModel):
    """A dataset without options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig:
    """The config of a dataset without options and checks (``noise``, ``test-patterns``); the
    base of the others'."""

    Options: ClassVar[type[BaseModel]] = NoDatasetOptions
