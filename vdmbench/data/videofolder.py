"""``videofolder``: a folder of video files described by a metadata table (Hugging Face's
``videofolder`` convention).

Layout under ``root``::

    metadata.csv  or  metadata.jsonl     one row per video: file_name[, caption, …]
    <file_name>                          paths relative to the metadata file's folder
                                         (or to ``videos_subdir`` under root)

``columns`` maps the table's own column names: ``{file_name: video, caption: caption}`` reads
OpenVid-1M's CSV, ``{file_name: videoid, caption: name}`` a WebVid-style one. Without an explicit
``caption`` column, ``caption`` and then ``text`` are used when present; a table without either has
no captions (enough for image-to-video models, refused for text-to-video ones). A missing root,
metadata file or named column is a :class:`~vdmbench.errors.DataError` naming the file and the
column — raised by :meth:`VideoFolderDataset.check`, before any model loads.

For training (:meth:`VideoFolderDataset.training_source`) clips are cut by
:class:`~vdmbench.data.clips.ClipSampler`; for evaluation the dataset yields the first
``num_videos`` clips as reference videos and their first frames and captions as requests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vdmbench.data.base import VideoDataset
from vdmbench.data.clips import ClipRef, ClipSampler, ClipSource, select
from vdmbench.data.videofolder_config import (
    VideoFolderConfig,
    VideoFolderOptions,
)
from vdmbench.errors import DataError
from vdmbench.generation import GenerationRequest
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(column names, rows as strings) of a .csv or .jsonl metadata file."""
    import pandas as pd

    try:
        if path.suffix == ".jsonl":
            df = pd.read_json(path, lines=True, dtype=False)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read the metadata table ({e})") from None
    cols = [str(c) for c in df.columns]
    rows = [{c: ("" if v is None or (isinstance(v, float) and v != v) else str(v))
             for c, v in zip(cols, rec)} for rec in df.itertuples(index=False, name=None)]
    return cols, rows


class VideoFolderDataset(VideoFolderConfig, VideoDataset):
    """The registered ``videofolder`` dataset (see the module docstring)."""

    def __init__(self, spec: DatasetSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        self.root, self.table, self.videos_dir = self.check(spec, self.options)
        self._rows: list[tuple[str, str | None]] | None = None
        self._caption_col: str | None = None

    def rows(self) -> list[tuple[str, str | None]]:
        """(file name, caption or None) per table row, in table order; a missing column is a
        DataError naming the table and the column."""
        if self._rows is None:
            o: VideoFolderOptions = self.options  # type: ignore[assignment]
            cols, rows = _read_table(self.table)
            fcol = o.columns.file_name
            if fcol not in cols:
                raise DataError(f"{self.table}: no column {fcol!r} (columns: "
                                f"{', '.join(cols)}); map yours with the columns option, e.g. "
                                f"columns={{file_name: video}}")
            ccol = o.columns.caption
            if ccol is not None and ccol not in cols:
                raise DataError(f"{self.table}: no caption column {ccol!r} (columns: "
                                f"{', '.join(cols)})")
            if ccol is None:
                ccol = next((c for c in ("caption", "text") if c in cols), None)
            self._caption_col = ccol
            self._rows = [(r[fcol], r[ccol] if ccol else None) for r in rows]
            if not self._rows:
                raise DataError(f"{self.table}: no rows")
        return self._rows

    @property
    def has_captions(self) -> bool:
        self.rows()
        return self._caption_col is not None

    def refs(self, limit: int | None = None) -> list[ClipRef]:
        """Candidate videos (a seeded subset of ``limit``), file sizes read, in table order.
        A listed file that does not exist is kept (it is skipped as a bad file when loaded)."""
        rows = self.rows()
        out = []
        for k, i in enumerate(select(len(rows), limit, self.spec.seed)):
            name, caption = rows[i]
            path = self.videos_dir / name
            try:
                size = path.stat().st_size
            except OSError:
                size = -1
            out.append(ClipRef(k, name, path, caption, size))
        return out

    def sampler(self) -> ClipSampler:
        o: VideoFolderOptions = self.options  # type: ignore[assignment]
        s = self.spec
        return ClipSampler(s.frames, s.height, s.width, s.fps, o.frame_stride, o.resize,
                           o.decoder, s.seed)

    @classmethod
    def training_source(cls, spec: DatasetSpec, limit: int | None = None) -> ClipSource:
        ds = cls(spec)
        refs = ds.refs(limit)
        return ClipSource("videofolder", refs, ds.sampler(), has_captions=ds.has_captions,
                          options=ds.options.model_dump(mode="json"),
                          identity={"table": str(ds.table.relative_to(ds.root))})

    # -- evaluation --------------------------------------------------------------------------

    def _clips(self) -> list[Any]:
        """The first ``num_videos`` videos' clips (a bad file is an error here)."""
        sampler = self.sampler()
        return [sampler.load(r) for r in self.refs()[: self.spec.num_videos]]

    def requests(self) -> list[GenerationRequest]:
        s = self.spec
        out = []
        for c in self._clips():
            seed = int.from_bytes(hashlib.sha256(f"videofolder:{s.seed}:{c.ref.index}".encode()
                                                 ).digest()[:4], "little") & 0x7FFFFFFF
            out.append(GenerationRequest(
                id=f"videofolder-{c.ref.index:05d}-{Path(c.ref.name).stem}", seed=seed,
                frames=s.frames, height=s.height, width=s.width, fps=s.fps, prompt=c.caption,
                image=c.first_frame.clone(), extra={"video": c.ref.name, "start": c.start,
                                                    "stride": c.stride}))
        return out

    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        clips = self._clips()
        for k in range(0, len(clips), batch_size):
            yield [Video(c.frames, c.fps) for c in clips[k:k + batch_size]]

    def manifest_hash(self) -> str:
        src = self.training_source(self.spec, None)
        blob = json.dumps({**src.material(), "num_videos": self.spec.num_videos},
                          sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()
