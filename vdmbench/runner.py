"""The runner: generate (cached) → metrics → speed → one record per model → leaderboard.

Work is a list of independent items (model × request for generation, batches for features), so
it can later be sharded across processes. A run is resumable: videos already in the content-keyed
cache are not generated again, and models whose record already exists are not run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vdmbench.cache import VideoCache, model_key, video_key
from vdmbench.catalog import DATASETS, METRICS, MODELS
from vdmbench.data.base import VideoDataset
from vdmbench.errors import VdmbenchError
from vdmbench.generation import GenerationRequest, ModelCard, VideoGenerator
from vdmbench.leaderboard import write_leaderboards
from vdmbench.metrics.base import Metric, MetricContext
from vdmbench.records import (
    RECORD_VERSION,
    atomic_write_text,
    environment,
    git_commit,
    now_iso,
    write_once_json,
)
from vdmbench.resolve import ResolvedSuite, resolve_suite
from vdmbench.speed import measure
from vdmbench.suite import ModelSpec
from vdmbench.video import Video


@dataclass(frozen=True)
class RunOptions:
    """How to run a suite: output root, request limit, device, resume, progress output."""

    out_dir: Path = Path("results")
    limit: int | None = None
    device: str = "cpu"
    resume: bool = True
    quiet: bool = False
    cache_dir: Path | None = None


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    records: list[Path]
    leaderboards: dict[str, Path]


def _progress(quiet: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=quiet, transient=False,
                    console=Console(stderr=True))


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _check_device(device: str) -> None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VdmbenchError(f"--device {device}: CUDA is not available on this machine")
    if not (device == "cpu" or device.startswith("cuda")):
        raise VdmbenchError(f"--device must be cpu or cuda[:N], got {device!r}")


def run_id_for(resolved: ResolvedSuite, options: RunOptions) -> str:
    """Deterministic id of a run: suite hash, device and limit (so a rerun resumes it)."""
    blob = json.dumps({"suite": resolved.suite.content_hash(), "device": options.device,
                       "limit": options.limit}, sort_keys=True)
    return f"run-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


class SuiteRun:
    """One execution of a resolved suite (see :func:`run_suite`)."""

    def __init__(self, resolved: ResolvedSuite, options: RunOptions) -> None:
        self.resolved, self.options, self.suite = resolved, options, resolved.suite
        base = options.out_dir / (self.suite.output or self.suite.name)
        run_id = run_id_for(resolved, options)
        if not options.resume and (base / run_id).exists():
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            run_id = f"{run_id}-{stamp}"
        self.run_id = run_id
        self.run_dir = base / run_id
        self.cache = VideoCache((options.cache_dir or options.out_dir / ".cache") / "videos")
        self.metric_cache_dir = (options.cache_dir or options.out_dir / ".cache") / "metrics"
        self.progress = _progress(options.quiet)
        self.console = Console(stderr=True, quiet=options.quiet)
        self._model_keys: dict[str, str] = {}

    # -- setup ---------------------------------------------------------------------------------

    def _dataset(self) -> VideoDataset:
        return DATASETS.get(self.suite.dataset.name)(self.suite.dataset)

    def _load_model(self, spec: ModelSpec) -> VideoGenerator:
        factory = MODELS.get(spec.adapter)
        return factory.load(spec.name, spec.weights, self.resolved.model_options[spec.name],
                            self.options.device, steps=spec.steps, dtype=spec.dtype,
                            kernels=spec.kernels)

    def _model_order(self) -> list[ModelSpec]:
        """The teacher first (its videos feed fidelity metrics), then the suite's order."""
        teacher = self.suite.teacher
        return sorted(self.suite.models, key=lambda m: m.name != teacher)

    def _key_material(self, spec: ModelSpec, card: ModelCard) -> str:
        return model_key({"adapter": spec.adapter, "weights_sha256": card.weights_sha256,
                          "steps": card.steps, "dtype": spec.dtype, "kernels": spec.kernels,
                          "options": self.resolved.model_options[spec.name].model_dump(
                              mode="json"), "device": self.options.device})

    # -- phases --------------------------------------------------------------------------------

    def _generate(self, spec: ModelSpec, gen: VideoGenerator, mkey: str,
                  requests: list[GenerationRequest]) -> int:
        """Generate every request not yet cached; returns how many were generated."""
        todo = [r for r in requests if not self.cache.has(video_key(mkey, r))]
        task = self.progress.add_task(f"generate {spec.name}", total=len(requests),
                                      completed=len(requests) - len(todo))
        for batch in _batches(todo, self.suite.batch_size):
            videos = gen.generate(list(batch))
            if len(videos) != len(batch):
                raise VdmbenchError(f"model {spec.name} returned {len(videos)} videos for "
                                    f"{len(batch)} requests")
            for r, v in zip(batch, videos):
                if v.num_frames != r.frames or v.size != (r.height, r.width):
                    raise VdmbenchError(
                        f"model {spec.name}, request {r.id}: generated {tuple(v.frames.shape)}, "
                        f"asked for ({r.frames}, {r.height}, {r.width}, 3)")
                self.cache.put(video_key(mkey, r), v)
            self.progress.advance(task, len(batch))
        return len(todo)

    def _metrics(self, spec: ModelSpec, mkey: str, requests: list[GenerationRequest],
                 dataset: VideoDataset) -> dict[str, Any]:
        if not self.suite.metrics:
            return {}
        ctx = MetricContext(device=self.options.device, cache_dir=self.metric_cache_dir,
                            dataset=dataset, progress=not self.options.quiet)
        metrics: list[Metric] = []
        for m in self.suite.metrics:
            cls = METRICS.get(m.name)
            metric = cls(self.resolved.metric_options[m.name], ctx)
            metric.prepare()
            metrics.append(metric)
        teacher_key = self._model_keys.get(self.suite.teacher)
        task = self.progress.add_task(f"metrics {spec.name}", total=len(requests))
        for batch in _batches(requests, self.suite.batch_size):
            videos = [self.cache.get(video_key(mkey, r)) for r in batch]
            teacher_videos: list[Video] | None = None
            if any(type(m).needs_teacher for m in metrics):
                if teacher_key is None:
                    raise VdmbenchError(f"teacher model {self.suite.teacher} has no videos")
                teacher_videos = [self.cache.get(video_key(teacher_key, r)) for r in batch]
            for metric in metrics:
                metric.update(videos, list(batch), teacher_videos)
            self.progress.advance(task, len(batch))
        out = {}
        for metric in metrics:
            value = metric.compute()
            cls = type(metric)
            out[cls.name] = {**value.to_dict(), "higher_is_better": cls.higher_is_better,
                             "version": cls.version, "protocol": metric.protocol()}
        return out

    def _speed(self, spec: ModelSpec, gen: VideoGenerator, card: ModelCard,
               request: GenerationRequest) -> dict[str, Any] | None:
        sp = self.suite.speed
        if not sp.enabled:
            return None
        comps = dict(gen.components(request))
        # "video": one whole video at batch 1, if the adapter exposes it (e.g. when generate()
        # pads batches for reproducibility); otherwise time generate([request]) itself
        whole = comps.pop("video", None) or (lambda: gen.generate([request]))
        unknown = [c for c in sp.components if c not in comps]
        timings: dict[str, Any] = {}
        task = self.progress.add_task(f"speed {spec.name}", total=len(comps) + 1)
        for name, fn in comps.items():
            timings[name] = measure(fn, warmup=sp.warmup, iters=sp.iterations,
                                    min_seconds=sp.min_seconds, device=self.options.device
                                    ).to_dict()
            self.progress.advance(task)
        total = measure(whole, warmup=sp.warmup, iters=sp.iterations,
                        min_seconds=sp.min_seconds, device=self.options.device)
        self.progress.advance(task)
        return {"device": self.options.device, "batch_size": 1, "steps": card.steps,
                "components": timings, "per_video": total.to_dict(),
                "components_missing": unknown,
                "denoise_repeats_per_video": card.steps}

    def _needs_teacher(self) -> bool:
        return any(getattr(METRICS.get(m.name), "needs_teacher", False)
                   for m in self.suite.metrics)

    # -- main ----------------------------------------------------------------------------------

    def _write_run_meta(self, dataset: VideoDataset, n_requests: int) -> None:
        meta = {"run_id": self.run_id, "suite": self.suite.name,
                "suite_hash": self.suite.content_hash(), "suite_path": str(self.resolved.path),
                "device": self.options.device, "limit": self.options.limit,
                "dataset_manifest": dataset.manifest_hash(), "n_requests": n_requests}
        path = self.run_dir / "run.json"
        if path.exists():
            old = json.loads(path.read_text())
            if old.get("suite_hash") != meta["suite_hash"]:
                raise VdmbenchError(f"{self.run_dir}: belongs to another version of the suite")
            return
        atomic_write_text(path, json.dumps({**meta, "started": now_iso()}, indent=2) + "\n")
        shutil.copyfile(self.resolved.path, self.run_dir / "suite.yaml")

    def execute(self) -> RunResult:
        _check_device(self.options.device)
        dataset = self._dataset()
        requests = dataset.requests()
        if self.options.limit is not None:
            requests = requests[:self.options.limit]
        if not requests:
            raise VdmbenchError(f"suite {self.suite.name}: the dataset gave no requests")
        self._write_run_meta(dataset, len(requests))
        records_dir = self.run_dir / "records"
        env = environment(self.options.device)
        commit = git_commit()
        written: list[Path] = []
        ctx = self.progress if not self.options.quiet else contextlib.nullcontext()
        with ctx:
            for spec in self._model_order():
                record_path = records_dir / f"{spec.name}.json"
                gen = self._load_model(spec)
                card = gen.describe()
                mkey = self._key_material(spec, card)
                self._model_keys[spec.name] = mkey
                if record_path.exists():
                    self.console.print(f"[dim]{spec.name}: record exists, skipped[/dim]")
                    if spec.name == self.suite.teacher and self._needs_teacher():
                        self._generate(spec, gen, mkey, requests)  # only what the cache lost
                    written.append(record_path)
                    continue
                n_new = self._generate(spec, gen, mkey, requests)
                metrics = self._metrics(spec, mkey, requests, dataset)
                speed = self._speed(spec, gen, card, requests[0])
                record = {
                    "record_version": RECORD_VERSION,
                    "created": now_iso(),
                    "run_id": self.run_id,
                    "suite": {"name": self.suite.name, "hash": self.suite.content_hash(),
                              "task": self.suite.task, "reference_model": self.suite.reference,
                              "teacher_model": self.suite.teacher},
                    "model": {"name": spec.name, "index": self.suite.models.index(spec),
                              "spec": spec.model_dump(mode="json"),
                              "card": card.to_dict(), "cache_key": mkey},
                    "dataset": {"spec": self.suite.dataset.model_dump(mode="json"),
                                "manifest_hash": dataset.manifest_hash(),
                                "n_requests": len(requests), "limit": self.options.limit},
                    "seeds": {"dataset_seed": self.suite.dataset.seed,
                              "request_seeds_sha256": hashlib.sha256(
                                  ",".join(str(r.seed) for r in requests).encode()).hexdigest()},
                    "generation": {"generated_now": n_new,
                                   "from_cache": len(requests) - n_new},
                    "metrics": metrics,
                    "speed": speed,
                    "environment": env,
                    "git_commit": commit,
                }
                write_once_json(record_path, record)
                written.append(record_path)
        boards = write_leaderboards(self.run_dir, title=self.suite.name)
        return RunResult(run_dir=self.run_dir, records=written, leaderboards=boards)


def run_suite(path: str | Path, options: RunOptions) -> RunResult:
    """Validate and check the suite (:func:`vdmbench.checks.check_suite`: nothing is written
    if it is malformed or names a missing file), then run it."""
    if options.limit is not None and options.limit < 1:
        raise VdmbenchError(f"--limit must be >= 1, got {options.limit}")
    resolved = resolve_suite(path, limit=options.limit)
    return SuiteRun(resolved, options).execute()
