"""What ``vdmbench validate`` knows of the ``videofolder`` dataset without importing torch: its
options and the check before a run (root, metadata file, videos folder; no table read;
:mod:`vdmbench.registry`, "config"). :class:`~vdmbench.data.videofolder.VideoFolderDataset`
subclasses :class:`VideoFolderConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.data.config import DatasetConfig
from vdmbench.errors import DataError
from vdmbench.paths import expand_path
from vdmbench.suite import DatasetSpec

METADATA_NAMES = ("metadata.csv", "metadata.jsonl")


class VideoFolderColumns(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    file_name: str = Field("file_name", description="column holding the video's path")
    caption: str | None = Field(None, description="column holding the caption (None: "
                                "'caption', else 'text', else no captions)")


class VideoFolderOptions(BaseModel):
    """``dataset.options`` of ``videofolder``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: str = Field(description="the folder; ${ENV} allowed")
    metadata: str | None = Field(None, description="metadata table relative to root (.csv or "
                                 ".jsonl); default: metadata.csv or metadata.jsonl in root")
    videos_subdir: str | None = Field(None, description="folder (under root) the file names "
                                      "are relative to; default: the metadata file's folder")
    columns: VideoFolderColumns = Field(default_factory=VideoFolderColumns)
    frame_stride: int | None = Field(None, gt=0, description="frame step; default from fps")
    resize: Literal["cover_center_crop", "squash"] = "cover_center_crop"
    decoder: Literal["pyav", "decord"] = "pyav"


class VideoFolderConfig(DatasetConfig):
    """The ``videofolder`` dataset's config: options and :meth:`check`."""

    Options: ClassVar[type[BaseModel]] = VideoFolderOptions

    @classmethod
    def check(cls, spec: DatasetSpec, options: BaseModel) -> tuple[Path, Path, Path]:
        """Root, metadata file and videos folder exist (no table read): (root, table, videos)."""
        o: VideoFolderOptions = options  # type: ignore[assignment]
        root = expand_path(o.root, "videofolder root")
        if not root.is_dir():
            raise DataError(f"videofolder: root folder {root} not found (dataset option root="
                            f"{o.root!r})")
        if o.metadata is not None:
            table = root / o.metadata
            if not table.is_file():
                raise DataError(f"videofolder: metadata file {table} not found (dataset option "
                                f"metadata)")
        else:
            found = [root / n for n in METADATA_NAMES if (root / n).is_file()]
            if not found:
                raise DataError(f"videofolder: {root} has no metadata.csv or metadata.jsonl "
                                f"(one row per video with a file_name column; or set the "
                                f"metadata option)")
            table = found[0]
        if table.suffix not in (".csv", ".jsonl"):
            raise DataError(f"videofolder: {table}: metadata must be .csv or .jsonl")
        videos = root / o.videos_subdir if o.videos_subdir else table.parent
        if not videos.is_dir():
            raise DataError(f"videofolder: videos folder {videos} not found (dataset option "
                            f"videos_subdir)")
        return root, table, videos
