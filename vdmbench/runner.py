"""The runner orders the phases of a run (each in :mod:`vdmbench.phases`): generate (cached) →
metrics, for every model; then one timing phase for all models (interleaved rounds,
vdmbench/timing.py); then one record per model → leaderboard → report.

Work is a list of independent items (model × batch of requests). Under torchrun every rank first
generates its share of the videos and warms the feature cache for its share of the batches
(:func:`vdmbench.phases.sharding.shard_work`, vdmbench/distributed.py); rank 0 then measures every
model from the caches in the single-process order, times, and writes records, so the records do not
depend on the world size (docs/scale-out.md). A run is resumable: videos already in the
content-keyed cache are not generated again, a model's metrics computed before an interruption are
kept in ``partial/`` until its record is written, and models whose record already exists are
neither loaded nor run again. :meth:`SuiteRun.retime` (``vdmbench speed``) times the models of a
finished run again and adds a new record version per model, leaving every earlier record as it was.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from vdmbench.acceleration import TransformedGenerator, transformed
from vdmbench.cache import VideoCache, image_key, model_key, video_key
from vdmbench.data.base import VideoDataset
from vdmbench.distributed import World, init_world, world_from_env
from vdmbench.errors import VdmbenchError
from vdmbench.generation import (
    GenerationRequest,
    ModelCard,
    VideoGenerator,
    requests_to_json,
)
from vdmbench.layout import CacheLayout, RunLayout
from vdmbench.leaderboard import write_leaderboards
from vdmbench.metrics.base import MetricContext
from vdmbench.metrics.feature_cache import FeatureCache
from vdmbench.phases.evaluation import evaluate
from vdmbench.phases.generation import generate_missing
from vdmbench.phases.record import build_record
from vdmbench.phases.sharding import shard_work
from vdmbench.phases.timing import speed_sections
from vdmbench.progress import Reporter
from vdmbench.records import (
    atomic_write_text,
    environment,
    find_records,
    git_commit,
    now_iso,
    read_record,
    timing_version,
    write_once_json,
)
from vdmbench.resolve import resolve_suite
from vdmbench.resolved import ResolvedSuite
from vdmbench.suite import ModelSpec, SpeedSpec
from vdmbench.timing import order_statistic_interval
from vdmbench.video import Video


@dataclass(frozen=True)
class RunOptions:
    """How to run a suite: output root, request limit, device, resume, progress output
    (``quiet``: none on stderr; ``log_file``: JSON-lines events; ``progress_interval_s``: the
    most frequent plain progress line where stderr is not a terminal; ``timing``: False skips
    the timing phase, as the suite's ``speed.enabled: false`` does — ``vdmbench run
    --no-timing``)."""

    out_dir: Path = Path("results")
    limit: int | None = None
    device: str = "cpu"
    resume: bool = True
    quiet: bool = False
    cache_dir: Path | None = None
    log_file: Path | None = None
    progress_interval_s: float = 30.0
    timing: bool = True


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    records: list[Path]
    leaderboards: dict[str, Path]


@dataclass
class _Measured:
    """A model generated and evaluated in this invocation, waiting for its timing and record."""

    spec: ModelSpec
    gen: VideoGenerator | None  # None once nothing will time it (``speed.enabled: false``)
    card: ModelCard
    mkey: str
    metrics: dict[str, Any]
    generated_now: int


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

    def __init__(self, resolved: ResolvedSuite, options: RunOptions,
                 world: World | None = None) -> None:
        self.resolved, self.options, self.suite = resolved, options, resolved.suite
        self.world = world or World()
        #: where this process computes (``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun);
        #: ``options.device`` (as the user gave it) names the run and enters the cache keys
        self.device = self.world.device(options.device)
        output = self.suite.output or self.suite.name
        run_id = run_id_for(resolved, options)
        if not options.resume and RunLayout.of(options.out_dir, output, run_id).run_dir.exists():
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            run_id = f"{run_id}-{stamp}"
        self.run_id = run_id
        self.layout = RunLayout.of(options.out_dir, output, run_id)
        self.run_dir = self.layout.run_dir
        self.caches = CacheLayout.of(options.out_dir, options.cache_dir)
        self.cache = VideoCache(self.caches.videos)
        self.inputs = VideoCache(self.caches.inputs)
        self.feature_cache = FeatureCache(self.caches.features, self.device)
        main = self.world.is_main
        self.progress = Reporter(quiet=options.quiet or not main,
                                 log_path=options.log_file if main else None,
                                 interval_s=options.progress_interval_s)
        self._model_keys: dict[str, str] = {}
        self._stack = contextlib.ExitStack()
        #: whether this invocation times the models (suite's speed.enabled and not --no-timing)
        self._timing = self.suite.speed.enabled and options.timing

    # -- setup ---------------------------------------------------------------------------------

    def _dataset(self) -> VideoDataset:
        return self.resolved.dataset.cls(self.suite.dataset, self.resolved.dataset.options)

    def load_model(self, spec: ModelSpec) -> VideoGenerator:
        """Load the model entry and apply its transforms in order (they stay applied until
        :meth:`close`); the generator's card lists them."""
        entry = self.resolved.models[spec.name]
        gen = entry.cls.load(spec.name, spec.weights, entry.options, self.device,
                             steps=spec.steps, dtype=spec.dtype)
        if not entry.transforms:
            return gen
        applied = self._stack.enter_context(
            transformed(gen, entry.make_transforms(), model=spec.name))
        return TransformedGenerator(gen, applied)

    def close(self) -> None:
        """Remove every transform this run applied (restores the models exactly)."""
        self._stack.close()

    def model_order(self) -> list[ModelSpec]:
        """The teacher first (its videos feed fidelity metrics), then the suite's order."""
        teacher = self.suite.teacher
        return sorted(self.suite.models, key=lambda m: m.name != teacher)

    def model_key(self, spec: ModelSpec, card: ModelCard) -> str:
        transforms = [{"name": t["name"], "options": t["options"]} for t in card.transforms]
        return model_key({"adapter": spec.adapter, "weights_sha256": card.weights_sha256,
                          "steps": card.steps, "dtype": spec.dtype, "transforms": transforms,
                          "options": self.resolved.models[spec.name].options.model_dump(
                              mode="json"), "device": self.options.device})

    # -- phases --------------------------------------------------------------------------------

    def generate(self, spec: ModelSpec, gen: VideoGenerator, mkey: str,
                 requests: list[GenerationRequest]) -> int:
        """Generate every request not yet cached; returns how many were generated."""
        return generate_missing(spec.name, gen, mkey, requests, self.cache,
                                self.suite.batch_size, self.progress)

    def _metrics(self, spec: ModelSpec, mkey: str, requests: list[GenerationRequest],
                 dataset: VideoDataset) -> dict[str, Any]:
        ctx = MetricContext(device=self.device, cache_dir=self.caches.metrics,
                            dataset=dataset, progress=not self.options.quiet,
                            feature_cache=self.feature_cache,
                            requested_videos=self.suite.dataset.num_videos,
                            given_videos=len(requests))
        return evaluate(self.resolved, spec.name, mkey, requests, self.cache, ctx,
                        self._model_keys.get(self.suite.teacher), self.progress)

    def _time(self, models: list[tuple[ModelSpec, VideoGenerator, ModelCard]],
              request: GenerationRequest, speed: SpeedSpec, version: int,
              command: str) -> dict[str, dict[str, Any]]:
        return speed_sections(self.suite, models, request, speed, device=self.device,
                              world=self.world, version=version, command=command,
                              progress=self.progress)

    def _needs_teacher(self) -> bool:
        return self.resolved.needs_teacher()

    # -- main ----------------------------------------------------------------------------------

    def _write_run_meta(self, dataset: VideoDataset, requests: list[GenerationRequest]) -> None:
        """``run.json``, the suite copy and the request list (``requests.json``; conditioning
        images go to the cache's ``inputs/`` by content): what the report is built from. A
        resumed run checks ``run.json`` and completes what is missing."""
        meta = {"run_id": self.run_id, "suite": self.suite.name,
                "suite_hash": self.suite.content_hash(), "suite_path": str(self.resolved.path),
                "device": self.options.device, "limit": self.options.limit,
                "dataset_manifest": dataset.manifest_hash(), "n_requests": len(requests)}
        path = self.layout.run_json
        resumed = path.exists()
        if resumed and json.loads(path.read_text()).get("suite_hash") != meta["suite_hash"]:
            raise VdmbenchError(f"{self.run_dir}: belongs to another version of the suite")
        for r in requests:
            if r.image is not None and not self.inputs.has(key := image_key(r)):
                self.inputs.put(key, Video(r.image.unsqueeze(0).cpu(), r.fps))
        if not self.layout.requests_json.is_file():
            atomic_write_text(self.layout.requests_json,
                              json.dumps(requests_to_json(requests), indent=1) + "\n")
        if not resumed:
            atomic_write_text(path, json.dumps({**meta, "started": now_iso()}, indent=2) + "\n")
            shutil.copyfile(self.resolved.path, self.layout.suite_copy)

    def _requests(self, dataset: VideoDataset) -> list[GenerationRequest]:
        requests = dataset.requests()
        if self.options.limit is not None:
            requests = requests[:self.options.limit]
        if not requests:
            raise VdmbenchError(f"suite {self.suite.name}: the dataset gave no requests")
        return requests

    def _partial_path(self, spec: ModelSpec) -> Path:
        return self.layout.partial_of(spec.name)

    def _read_partial(self, spec: ModelSpec, mkey: str) -> dict[str, Any] | None:
        """Metrics of ``spec`` computed by an interrupted invocation from the same videos."""
        path = self._partial_path(spec)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        same = (data.get("cache_key") == mkey
                and data.get("teacher_key") == self._model_keys.get(self.suite.teacher))
        return data if same else None

    def _record(self, m: _Measured, speed: dict[str, Any] | None, dataset: VideoDataset,
                requests: list[GenerationRequest], env: dict[str, Any],
                commit: str | None) -> dict[str, Any]:
        return build_record(run_id=self.run_id, suite=self.suite, spec=m.spec, card=m.card,
                            cache_key=m.mkey, metrics=m.metrics, generated_now=m.generated_now,
                            speed=speed, manifest_hash=dataset.manifest_hash(),
                            requests=requests, limit=self.options.limit, env=env,
                            commit=commit)

    def _measure_model(self, spec: ModelSpec, requests: list[GenerationRequest],
                       dataset: VideoDataset, generated_before: int = 0) -> _Measured:
        """Load, generate what the cache lacks, compute the metrics (or reuse those an
        interrupted invocation left in ``partial/``). ``generated_before``: videos of this
        model the ranks generated in this invocation's sharded phase."""
        gen = self.load_model(spec)
        card = gen.describe()
        mkey = self.model_key(spec, card)
        self._model_keys[spec.name] = mkey
        partial = self._read_partial(spec, mkey)
        if partial is not None:
            if spec.name == self.suite.teacher and self._needs_teacher():
                self.generate(spec, gen, mkey, requests)  # only what the cache lost
            self.progress.message(f"{spec.name}: metrics kept from the interrupted run")
            return _Measured(spec, gen, card, mkey, partial["metrics"],
                             int(partial["generated_now"]) + generated_before)
        n_new = self.generate(spec, gen, mkey, requests) + generated_before
        metrics = self._metrics(spec, mkey, requests, dataset)
        atomic_write_text(self._partial_path(spec), json.dumps(
            {"cache_key": mkey, "teacher_key": self._model_keys.get(self.suite.teacher),
             "metrics": metrics, "generated_now": n_new}, indent=2, default=str) + "\n")
        return _Measured(spec, gen, card, mkey, metrics, n_new)

    def execute(self) -> RunResult | None:
        """Generation and metrics for every model without a record, then one timing phase for
        them all, then their records and the leaderboards. In a distributed run every rank does
        its share first (:func:`~vdmbench.phases.sharding.shard_work`); ranks other than 0 then
        return None."""
        _check_device(self.device)
        dataset = self._dataset()
        requests = self._requests(dataset)
        if self.world.is_main:
            self._write_run_meta(dataset, requests)
        shared: dict[str, int] = {}
        if self.world.distributed:
            with self.progress:
                mine = shard_work(self, requests, dataset)
            for counts in self.world.gather(mine):  # every rank's share is done
                for name, n in counts.items():
                    shared[name] = shared.get(name, 0) + n
            self.world.close()
            if not self.world.is_main:
                self.close()
                return None
        env = environment(self.device)
        commit = git_commit()
        written: list[Path] = []
        measured: list[_Measured] = []
        with self.progress:
            for spec in self.model_order():
                record_path = self.layout.record(spec.name)
                if record_path.exists():
                    # not loaded: its videos are found through the recorded cache key
                    mkey = read_record(record_path)["model"]["cache_key"]
                    self._model_keys[spec.name] = mkey
                    self.progress.message(f"{spec.name}: record exists, skipped")
                    if spec.name == self.suite.teacher and self._needs_teacher() and any(
                            not self.cache.has(video_key(mkey, r)) for r in requests):
                        gen = self.load_model(spec)  # the cache lost some teacher videos
                        self.generate(spec, gen, mkey, requests)
                        del gen
                    written.append(record_path)
                    continue
                m = self._measure_model(spec, requests, dataset, shared.get(spec.name, 0))
                if not self._timing:
                    m.gen = None  # no timing phase: free its weights before the next model loads
                measured.append(m)
            speeds: dict[str, dict[str, Any]] = {}
            # a model whose card says it cannot be timed (videos made outside vdmbench) is not
            models = [(m.spec, m.gen, m.card) for m in measured
                      if m.gen is not None and m.card.timed]
            if models and self._timing:
                ref = self.suite.reference
                if ref not in {m.spec.name for m in measured}:
                    # its record exists; it is timed again only as the reference of this session
                    self.progress.message(f"{ref}: loaded as the timing reference (its record "
                                          f"is kept as it is)")
                    spec = self.suite.model(ref)
                    gen = self.load_model(spec)
                    models.append((spec, gen, gen.describe()))
                speeds = self._time(models, requests[0], self.suite.speed, version=1,
                                    command="run")
            for m in measured:
                record_path = self.layout.record(m.spec.name)
                write_once_json(record_path, self._record(m, speeds.get(m.spec.name), dataset,
                                                          requests, env, commit))
                self._partial_path(m.spec).unlink(missing_ok=True)
                written.append(record_path)
            with contextlib.suppress(OSError):  # gone once every model has its record
                self.layout.partial.rmdir()
            kept = len(written) - len(measured)
            self.progress.message(
                f"run {self.run_id}: {len(measured)} model(s) generated and measured"
                + (f"; {kept} had a record from an earlier invocation (kept, not rerun)"
                   if kept else "")
                + ("" if self._timing or not measured else
                   "; not timed (`vdmbench speed` with the same options times them)"))
        boards = write_leaderboards(self.run_dir, title=self.suite.name)
        self._write_report()
        return RunResult(run_dir=self.run_dir, records=written, leaderboards=boards)

    def retime(self, rounds: int | None = None) -> RunResult:
        """Time the models of this (finished) run again, without generating anything: one
        interleaved session; for each model a new record (timing version N+1) that copies the
        latest one and replaces its ``speed``. Earlier records stay as they are."""
        _check_device(self.device)
        if not self.layout.run_json.is_file():
            raise VdmbenchError(f"{self.run_dir}: no run of suite {self.suite.name} there (same "
                                f"--out, --limit and --device as the run); run `vdmbench run` "
                                f"first")
        meta = json.loads(self.layout.run_json.read_text(encoding="utf-8"))
        if meta.get("suite_hash") != self.suite.content_hash():
            raise VdmbenchError(f"{self.run_dir}: belongs to another version of the suite")
        speed = self.suite.speed
        if rounds is not None:
            try:
                order_statistic_interval(rounds)
            except ValueError as e:
                raise VdmbenchError(f"--rounds {rounds}: {e}") from None
            speed = speed.model_copy(update={"rounds": rounds})
        latest: dict[str, tuple[dict[str, Any], int]] = {}
        for path in find_records(self.run_dir):
            rec = read_record(path)
            name, version = rec["model"]["name"], timing_version(rec)
            if name not in latest or version > latest[name][1]:
                latest[name] = (rec, version)
        missing = [m.name for m in self.suite.models if m.name not in latest]
        if missing:
            raise VdmbenchError(f"{self.run_dir}: no record for {', '.join(missing)}; finish the "
                                f"run with `vdmbench run` first")
        dataset = self._dataset()
        requests = self._requests(dataset)
        version = max(v for _, v in latest.values()) + 1
        models = []
        with self.progress:
            for spec in self.suite.models:
                gen = self.load_model(spec)
                card = gen.describe()
                if not card.timed:
                    continue  # videos made outside vdmbench: its record stays as it is
                old = latest[spec.name][0]["model"]["card"]
                if (card.weights_sha256, card.steps) != (old["weights_sha256"], old["steps"]):
                    raise VdmbenchError(
                        f"model {spec.name}: its weights or steps changed since the run "
                        f"(weights sha256 {card.weights_sha256[:12]} vs recorded "
                        f"{old['weights_sha256'][:12]}); timing it would not time the recorded "
                        f"model")
                models.append((spec, gen, card))
            if not models:
                raise VdmbenchError(f"suite {self.suite.name}: none of its models is timed "
                                    f"(videos made outside vdmbench)")
            speeds = self._time(models, requests[0], speed, version=version, command="speed")
            env = environment(self.device)
            written = []
            for spec, _, _ in models:
                record = copy.deepcopy(latest[spec.name][0])
                record["speed"] = {**speeds[spec.name], "environment": env}
                path = self.layout.record(spec.name, version)
                write_once_json(path, record)
                written.append(path)
            self.progress.message(f"run {self.run_id}: timing version {version} written for "
                                  f"{len(written)} model(s)")
        boards = write_leaderboards(self.run_dir, title=self.suite.name)
        self._write_report()
        return RunResult(run_dir=self.run_dir, records=written, leaderboards=boards)

    def _write_report(self) -> None:
        """``report/index.html`` in the run directory (docs/report.md), built from what the
        run wrote, as ``vdmbench report`` rebuilds it."""
        from vdmbench.report import build_report

        report = build_report(self.run_dir, cache_dir=self.caches.root)
        self.progress.message(f"report: {report}")


def run_suite(path: str | Path, options: RunOptions) -> RunResult | None:
    """Validate and check the suite (:func:`vdmbench.checks.check_suite`: nothing is written
    if it is malformed or names a missing file), then run it — over the processes torchrun
    started, if it did (vdmbench/distributed.py). Returns None on ranks other than 0."""
    if options.limit is not None and options.limit < 1:
        raise VdmbenchError(f"--limit must be >= 1, got {options.limit}")
    resolved = resolve_suite(path, limit=options.limit)
    world = init_world(options.device)
    run = SuiteRun(resolved, options, world)
    try:
        return run.execute()
    finally:
        run.close()
        world.close()


def retime_suite(path: str | Path, options: RunOptions, rounds: int | None = None) -> RunResult:
    """Time the models of an existing run of the suite again (``vdmbench speed``; one
    process: timing is never shared with other work)."""
    world = world_from_env()
    if world.distributed:
        raise VdmbenchError(f"vdmbench speed times on one process; run it without torchrun "
                            f"(this is {world.label()})")
    resolved = resolve_suite(path, limit=options.limit)
    if options.limit is not None and options.limit < 1:
        raise VdmbenchError(f"--limit must be >= 1, got {options.limit}")
    run = SuiteRun(resolved, dataclasses.replace(options, resume=True))
    try:
        return run.retime(rounds)
    finally:
        run.close()
