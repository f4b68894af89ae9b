"""``vbench_prompts``: VBench's prompt set as a dataset of text-to-video requests.

Requests come in (prompt, sample) order: every distinct prompt of the selected dimensions (in
the prompt list's order), ``samples_per_prompt`` samples each (VBench: 5), request id
``{prompt}-{i}`` (the VBench file stem), seed ``spec.seed + i`` (sample ``i`` of every prompt
uses the same seed), ``prompt`` = the VBench prompt. ``extra["vbench_filename"]`` carries the
file name the ``vbench`` metric family writes the video under. There are no reference videos.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from vdmbench.data.base import VideoDataset
from vdmbench.errors import ConfigError, DataError
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.vbench.naming import (
    load_full_info,
    locate_full_info,
    prompts_for,
    video_filename,
)
from vdmbench.metrics.vbench.prompts_config import VBenchPromptsConfig, VBenchPromptsOptions
from vdmbench.metrics.vbench.scores import check_dimensions
from vdmbench.paths import sha256_file
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video


class VBenchPromptDataset(VBenchPromptsConfig, VideoDataset):
    """VBench's prompts → :class:`GenerationRequest` list (``spec.num_videos`` of them, taken in
    (prompt, sample) order; it must not exceed the number available)."""

    def __init__(self, spec: DatasetSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        opts: VBenchPromptsOptions = self.options  # type: ignore[assignment]
        if opts.dimensions is not None:
            try:
                check_dimensions(opts.dimensions)
            except Exception as e:
                raise ConfigError(str(e), field="dataset.options.dimensions") from None
        self.full_info_path: Path = locate_full_info(opts.full_info)
        self.infos = load_full_info(self.full_info_path)
        self.prompts = prompts_for(self.infos, opts.dimensions)
        available = len(self.prompts) * opts.samples_per_prompt
        if spec.num_videos > available:
            raise ConfigError(
                f"num_videos {spec.num_videos} exceeds the {available} videos of the VBench "
                f"prompt set ({len(self.prompts)} prompts × {opts.samples_per_prompt})",
                field="dataset.num_videos")

    @property
    def available(self) -> int:
        """Videos of the full protocol (distinct prompts × samples per prompt)."""
        return len(self.prompts) * self.options.samples_per_prompt  # type: ignore[attr-defined]

    def requests(self) -> list[GenerationRequest]:
        spec, k = self.spec, self.options.samples_per_prompt  # type: ignore[attr-defined]
        out = []
        for n in range(spec.num_videos):
            prompt, i = self.prompts[n // k], n % k
            name = video_filename(prompt, i)
            out.append(GenerationRequest(
                id=name[:-len(".mp4")], seed=spec.seed + i, frames=spec.frames,
                height=spec.height, width=spec.width, fps=spec.fps, prompt=prompt,
                extra={"vbench_filename": name, "vbench_index": i}))
        return out

    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        raise DataError("vbench_prompts has no reference videos; use it with metrics that do "
                        "not need reference data (the vbench family, temporal_flickering)")

    def manifest_hash(self) -> str:
        h = hashlib.sha256()
        h.update(sha256_file(self.full_info_path).encode())
        blob = [(r.id, r.seed, r.frames, r.height, r.width, r.fps) for r in self.requests()]
        h.update(json.dumps(blob).encode())
        return h.hexdigest()
