"""What ``vdmbench validate`` knows of the ``ucf101`` dataset without importing torch: its
options, the clip presets and the check before a run (folders and split files, no video read;
:mod:`vdmbench.registry`, "config"). :class:`~vdmbench.data.ucf101.UCF101Dataset` subclasses
:class:`UCF101Config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.data.config import DatasetConfig
from vdmbench.errors import ConfigError, DataError
from vdmbench.paths import expand_path
from vdmbench.suite import DatasetSpec


@dataclass(frozen=True)
class ClipPreset:
    """A named, versioned clip sampling protocol."""

    name: str
    version: int
    frames: int
    stride: int
    selection: Literal["first_sorted", "random"]
    description: str


PRESETS: dict[str, ClipPreset] = {
    "fvd_styleganv_2048_16f": ClipPreset(
        "fvd_styleganv_2048_16f", 1, 16, 1, "first_sorted",
        "first N videos in sorted order, one 16-frame window at a seeded random offset each"),
    "i2v_dynamicrafter": ClipPreset(
        "i2v_dynamicrafter", 1, 16, 3, "random",
        "N seeded random videos, a 16-frame clip with stride 3 at a seeded random offset, "
        "its first frame conditions"),
}


class UCF101Options(BaseModel):
    """``dataset.options`` of ``ucf101``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: str = Field("${UCF101_ROOT}", description="folder holding UCF-101/ and "
                      "ucfTrainTestlist/; ${ENV} allowed")
    videos_subdir: str = "UCF-101"
    splits_subdir: str = "ucfTrainTestlist"
    split_file: int = Field(1, ge=1, le=3, description="which official split (1–3)")
    clip_preset: Literal["fvd_styleganv_2048_16f", "i2v_dynamicrafter"] = "i2v_dynamicrafter"
    frame_stride: int | None = Field(None, gt=0, description="override the preset's stride")
    resize: Literal["cover_center_crop", "squash"] = "cover_center_crop"
    decoder: Literal["pyav", "decord"] = Field(
        "pyav", description="video decoder: pyav (default) or decord (pip install "
        "\"vdmbench[decord]\")")


class UCF101Config(DatasetConfig):
    """The ``ucf101`` dataset's config: options, subsets, :meth:`check`."""

    Options: ClassVar[type[BaseModel]] = UCF101Options
    SUBSETS: ClassVar[tuple[str, ...]] = ("train", "test", "trainval")

    @classmethod
    def check(cls, spec: DatasetSpec, options: BaseModel) -> Path:
        """What needs no video decoding: the split name, the clip preset's frames against
        ``dataset.frames``, the root, videos and split-list files. Returns the root folder."""
        o: UCF101Options = options  # type: ignore[assignment]
        if spec.split not in cls.SUBSETS:
            raise ConfigError(f"ucf101: dataset.split must be one of {', '.join(cls.SUBSETS)}, "
                              f"got {spec.split!r}", field="dataset.split")
        preset = PRESETS[o.clip_preset]
        if spec.frames != preset.frames:
            raise ConfigError(f"ucf101: clip preset {preset.name} takes "
                              f"{preset.frames}-frame clips; dataset.frames is "
                              f"{spec.frames}", field="dataset.frames")
        root = expand_path(o.root, "ucf101 root")
        if not root.is_dir():
            env = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", o.root)
            via = f" (from {o.root!r}; set {', '.join(env)})" if env else ""
            raise DataError(f"ucf101: root folder {root} not found{via}. It must hold "
                            f"{o.videos_subdir}/ and {o.splits_subdir}/")
        if not (root / o.videos_subdir).is_dir():
            raise DataError(f"ucf101: videos folder {root / o.videos_subdir} not found")
        k = o.split_file
        lists = {"train": [f"trainlist0{k}.txt"], "test": [f"testlist0{k}.txt"],
                 "trainval": [f"trainlist0{k}.txt", f"testlist0{k}.txt"]}[spec.split]
        for name in ["classInd.txt", *lists]:
            if not (root / o.splits_subdir / name).is_file():
                raise DataError(f"ucf101: split file {root / o.splits_subdir / name} not found")
        return root
