"""The ``vbench`` metric family: VBench's own dimension code on the generated videos.

- ``vbench_<dimension>`` (16 metrics, e.g. ``vbench_subject_consistency``): VBench's raw score.
- ``vbench_total``, ``vbench_quality``, ``vbench_semantic``: VBench's aggregates, computed here
  from the per-dimension results (:mod:`vdmbench.metrics.vbench.scores`). If a dimension is
  missing (not requested, no videos for it, or VBench failed on it) the aggregate's value is NaN
  and ``details["complete"]`` is False with the missing dimensions listed: never zero-filled.

``update`` writes each video once to a content-addressed mp4 store
(``<cache_dir>/vbench/mp4/<sha256>.mp4``); ``compute`` links them under VBench's names
(``{prompt}-{i}.mp4``) into a folder keyed by the content of the whole set, runs VBench in its own
interpreter for the dimensions not yet cached for that set, and caches each dimension's result, so
several metrics of the family in one suite run VBench once per dimension. Put ``vbench_total``
first in a suite: it evaluates all its dimensions in one VBench process.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from vdmbench.errors import DataError, MetricError
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.base import MetricContext, MetricValue
from vdmbench.metrics.vbench.metric_config import (
    DIMENSION_CONFIGS,
    VBenchAggregateConfig,
    VBenchAggregateOptions,
    VBenchFamilyConfig,
    VBenchOptions,
    VBenchQualityConfig,
    VBenchSemanticConfig,
    VBenchTotalConfig,
)
from vdmbench.metrics.vbench.naming import (
    SAMPLES_PER_PROMPT,
    expected_files,
    load_full_info,
    locate_full_info,
    video_filename,
)
from vdmbench.metrics.vbench.runner import (
    DimensionResult,
    cache_dir,
    run_vbench,
    write_mp4,
)
from vdmbench.metrics.vbench.scores import (
    DIMENSIONS,
    QUALITY_DIMENSIONS,
    SEMANTIC_DIMENSIONS,
    aggregate,
    normalize,
)
from vdmbench.paths import sha256_file
from vdmbench.video import Video, video_sha256

FAMILY_VERSION = "1"


class _VBenchFamily(VBenchFamilyConfig):
    """Shared machinery: write mp4 files on ``update``, run/cache VBench on ``compute``."""

    version: ClassVar[str] = FAMILY_VERSION
    higher_is_better: ClassVar[bool] = True
    #: update's costly part (encoding mp4 files) lands in the content-keyed mp4 store
    shardable: ClassVar[bool] = True

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self.opts: VBenchOptions = options  # type: ignore[assignment]
        self.root = Path(context.cache_dir) / "vbench"
        self._files: dict[str, str] = {}  # VBench file name -> content sha256
        self._prompts: dict[str, str] = {}  # VBench file name -> prompt
        self._per_prompt: dict[str, int] = {}

    # -- which dimensions ----------------------------------------------------------------------

    def dimensions(self) -> list[str]:
        raise NotImplementedError

    def protocol(self) -> dict[str, Any]:
        p = super().protocol()
        p.update({"family": "vbench", "dimensions": self.dimensions(),
                  "samples_per_prompt": SAMPLES_PER_PROMPT,
                  "encoding": {"codec": "libx264", "crf": self.opts.crf,
                               "pix_fmt": self.opts.pix_fmt}})
        for k in ("python", "weights_dir", "device", "timeout_s"):
            p["options"].pop(k, None)  # where it runs does not change the numbers
        return p

    # -- update: write the videos --------------------------------------------------------------

    def _filename(self, req: GenerationRequest) -> str:
        if req.prompt is None:
            raise DataError(f"request {req.id}: the vbench metrics need a text prompt")
        if self.opts.mode == "vbench_standard" and "vbench_filename" in req.extra:
            return str(req.extra["vbench_filename"])
        i = self._per_prompt.get(req.prompt, 0)
        self._per_prompt[req.prompt] = i + 1
        if self.opts.mode == "vbench_standard":
            return video_filename(req.prompt, i)
        # custom input: the prompt travels in VBench's prompt_list, the name only has to be unique
        return f"{hashlib.sha256(req.prompt.encode()).hexdigest()[:16]}-{i}.mp4"

    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        if len(videos) != len(requests):
            raise MetricError(f"{self.name}: {len(videos)} videos for {len(requests)} requests")
        store = self.root / "mp4"
        for v, r in zip(videos, requests):
            name = self._filename(r)
            if name in self._files:
                raise MetricError(f"{self.name}: two videos map to the VBench file {name!r} "
                                  f"(request {r.id})")
            sha = hashlib.sha256(
                f"{video_sha256(v.frames, v.fps)}|{self.opts.crf}|{self.opts.pix_fmt}".encode()
            ).hexdigest()
            target = store / f"{sha}.mp4"
            if not target.is_file():
                write_mp4(v.frames, target, v.fps, crf=self.opts.crf, pix_fmt=self.opts.pix_fmt)
            self._files[name] = sha
            self._prompts[name] = r.prompt or ""

    # -- compute: run VBench (cached per dimension) --------------------------------------------

    def _full_info(self) -> Path | None:
        if self.opts.mode != "vbench_standard":
            return None
        if self.opts.full_info is not None:
            return locate_full_info(self.opts.full_info)
        ds = self.context.dataset
        path = getattr(ds, "full_info_path", None)
        return Path(path) if path is not None else locate_full_info(None)

    def _set_key(self, full_info: Path | None) -> str:
        h = hashlib.sha256()
        h.update(json.dumps({"mode": self.opts.mode, "files": sorted(self._files.items()),
                             "full_info": sha256_file(full_info) if full_info else None,
                             "python": os.path.realpath(str(self.opts.python))},
                            sort_keys=True).encode())
        return h.hexdigest()[:32]

    def _materialize(self, folder: Path) -> Path:
        videos = folder / "videos"
        if videos.is_dir() and sorted(os.listdir(videos)) == sorted(self._files):
            return videos
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix="videos."))
        for name, sha in self._files.items():
            src = self.root / "mp4" / f"{sha}.mp4"
            try:
                os.link(src, tmp / name)
            except OSError:
                shutil.copyfile(src, tmp / name)
        if videos.exists():
            shutil.rmtree(videos)
        os.replace(tmp, videos)
        return videos

    def _completeness(self, full_info: Path | None, dims: list[str]) -> dict[str, dict]:
        """Per dimension: expected / present videos (standard mode), and whether complete."""
        out: dict[str, dict] = {}
        infos = load_full_info(full_info) if full_info is not None else None
        for d in dims:
            if infos is None:
                out[d] = {"expected": None, "present": len(self._files), "complete": True}
                continue
            expected = expected_files(infos, d)
            present = sum(1 for f in expected if f in self._files)
            out[d] = {"expected": len(expected), "present": present,
                      "complete": present == len(expected)}
        return out

    def results(self) -> tuple[dict[str, DimensionResult], dict[str, str], dict[str, dict]]:
        """Run (or reuse) VBench for :meth:`dimensions`. Returns (results by dimension,
        errors by dimension for those that could not be computed, completeness by dimension)."""
        if not self._files:
            raise MetricError(f"{self.name}: no videos were given")
        dims = self.dimensions()
        full_info = self._full_info()
        key = self._set_key(full_info)
        folder = self.root / "sets" / key
        (folder / "results").mkdir(parents=True, exist_ok=True)
        completeness = self._completeness(full_info, dims)
        errors: dict[str, str] = {}
        results: dict[str, DimensionResult] = {}
        todo = []
        for d in dims:
            cached = folder / "results" / f"{d}.json"
            if completeness[d]["present"] == 0:
                errors[d] = "no videos for this dimension's prompts"
            elif cached.is_file():
                data = json.loads(cached.read_text(encoding="utf-8"))
                results[d] = DimensionResult(data["score"], data["per_video"])
            else:
                todo.append(d)
        if todo:
            videos = self._materialize(folder)
            batches = [todo]
            while batches:
                batch = batches.pop(0)
                try:
                    got = run_vbench(
                        self.opts.python, videos, folder / "vbench_out",
                        f"run_{'_'.join(sorted(batch))[:80]}", batch, full_info=full_info,
                        weights_dir=cache_dir(self.opts.weights_dir),
                        device=self.opts.device or self.context.device, mode=self.opts.mode,
                        prompts=self._prompts if self.opts.mode == "custom_input" else None,
                        timeout_s=self.opts.timeout_s)
                except MetricError as e:
                    if len(batch) > 1:  # find which dimension fails: one process each
                        batches.extend([d] for d in batch)
                        continue
                    errors[batch[0]] = str(e)
                    continue
                for d in batch:
                    r = got[d]
                    results[d] = r
                    tmp = folder / "results" / f".{d}.json.tmp"
                    tmp.write_text(json.dumps({"score": r.score, "per_video": r.per_video}),
                                   encoding="utf-8")
                    os.replace(tmp, folder / "results" / f"{d}.json")
        return results, errors, completeness


class VBenchDimensionMetric(_VBenchFamily):
    """One VBench dimension's raw score (mean over its videos); see the module docstring."""

    dimension: ClassVar[str]

    def dimensions(self) -> list[str]:
        return [self.dimension]

    def compute(self) -> MetricValue:
        results, errors, completeness = self.results()
        d = self.dimension
        if d not in results:
            raise MetricError(f"{self.name}: VBench could not compute {d}: {errors.get(d)}")
        r = results[d]
        return MetricValue(value=r.score, n=r.n_videos, details={
            "normalized": normalize(d, r.score), **completeness[d]})


class VBenchAggregateMetric(VBenchAggregateConfig, _VBenchFamily):
    """VBench's Total / Quality / Semantic score over the requested dimensions."""

    part: ClassVar[Literal["total", "quality", "semantic"]]

    def dimensions(self) -> list[str]:
        wanted = list(self.options.dimensions)  # type: ignore[attr-defined]
        if self.part == "quality":
            return [d for d in wanted if d in QUALITY_DIMENSIONS]
        if self.part == "semantic":
            return [d for d in wanted if d in SEMANTIC_DIMENSIONS]
        return wanted

    def compute(self) -> MetricValue:
        results, errors, completeness = self.results()
        scores = aggregate({d: r.score for d, r in results.items()})
        value = getattr(scores, self.part)
        needed = {"total": DIMENSIONS, "quality": QUALITY_DIMENSIONS,
                  "semantic": SEMANTIC_DIMENSIONS}[self.part]
        missing = [d for d in needed if d not in results]
        partial = [d for d in needed if d in results and not completeness[d]["complete"]]
        complete = not missing and not partial
        n = min((results[d].n_videos for d in needed if d in results), default=0)
        return MetricValue(
            value=float(value) if value is not None else math.nan, n=n,
            details={**scores.to_dict(), "complete": complete,
                     "status": "complete" if complete else "incomplete",
                     "missing": missing, "partial": partial, "errors": errors,
                     "videos": {d: completeness[d] for d in completeness}})


def _dimension_class(dim: str) -> type[VBenchDimensionMetric]:
    cls_name = "VBench" + "".join(p.capitalize() for p in dim.split("_"))
    return type(cls_name, (DIMENSION_CONFIGS[f"vbench_{dim}"], VBenchDimensionMetric), {
        "dimension": dim, "__module__": __name__,
        "__doc__": f"VBench's ``{dim}`` raw score (``vbench_{dim}``)."})


#: ``vbench_<dimension>`` → class, e.g. ``DIMENSION_METRICS["vbench_color"]``.
DIMENSION_METRICS: dict[str, type[VBenchDimensionMetric]] = {}
for _d in DIMENSIONS:
    _cls = _dimension_class(_d)
    DIMENSION_METRICS[_cls.name] = _cls
    globals()[_cls.__name__] = _cls


class VBenchTotal(VBenchTotalConfig, VBenchAggregateMetric):
    """``vbench_total``: (4·Quality + Semantic)/5."""

    part = "total"


class VBenchQuality(VBenchQualityConfig, VBenchAggregateMetric):
    """``vbench_quality``: Σ normalized quality dimensions / 6.5."""

    part = "quality"


class VBenchSemantic(VBenchSemanticConfig, VBenchAggregateMetric):
    """``vbench_semantic``: Σ normalized semantic dimensions / 9."""

    part = "semantic"


def registry_entries() -> dict[str, str]:
    """Every metric of the family as ``name → "module:attr"`` (for the catalog)."""
    out = {c.name: f"{__name__}:{c.__name__}" for c in DIMENSION_METRICS.values()}
    for c in (VBenchTotal, VBenchQuality, VBenchSemantic):
        out[c.name] = f"{__name__}:{c.__name__}"
    return out


__all__ = ["VBenchAggregateOptions", "VBenchOptions", "VBenchTotal", "VBenchQuality",
           "VBenchSemantic", "VBenchDimensionMetric", "VBenchAggregateMetric",
           "DIMENSION_METRICS", "registry_entries"]
