"""Timing: one interleaved session of several models (vdmbench/timing.py) turned into the
``speed`` section of each model's record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vdmbench.distributed import World
from vdmbench.generation import GenerationRequest, ModelCard, VideoGenerator
from vdmbench.progress import Reporter
from vdmbench.records import git_commit
from vdmbench.suite import ModelSpec, SpeedSpec, Suite
from vdmbench.timing import WHOLE, TimedModel, time_interleaved


def timed_model(name: str, gen: VideoGenerator, request: GenerationRequest,
                components: list[str]) -> tuple[TimedModel, list[str]]:
    """What timing calls for one model, and which of ``components`` (the suite's) it does not
    expose."""
    comps: dict[str, Callable[[], object]] = dict(gen.components(request))
    # "video": one whole video at batch 1, if the adapter exposes it (e.g. when generate()
    # pads batches for reproducibility); otherwise time generate([request]) itself
    whole = comps.pop(WHOLE, None) or (lambda: gen.generate([request]))
    missing = [c for c in components if c not in comps]
    return TimedModel(name, {**comps, WHOLE: whole}), missing


def speed_sections(suite: Suite, models: list[tuple[ModelSpec, VideoGenerator, ModelCard]],
                   request: GenerationRequest, speed: SpeedSpec, *, device: str, world: World,
                   version: int, command: str, progress: Reporter) -> dict[str, dict[str, Any]]:
    """One interleaved timing session of ``models`` (in the suite's order) on ``request``;
    the ``speed`` section of each model's record, by name."""
    order = {m.name: i for i, m in enumerate(suite.models)}
    models = sorted(models, key=lambda t: order[t[0].name])
    targets, missing = [], {}
    for spec, gen, _ in models:
        target, missing[spec.name] = timed_model(spec.name, gen, request, suite.speed.components)
        targets.append(target)
    with progress.stage("time", f"{len(targets)} models ({speed.rounds} interleaved "
                        f"rounds)", speed.rounds, "rounds") as stage:
        result = time_interleaved(
            targets, reference=suite.reference, rounds=speed.rounds,
            warmup=speed.warmup, iterations=speed.iterations, min_seconds=speed.min_seconds,
            device=device, threads=speed.threads,
            noise_threshold=speed.noise_threshold, on_round=lambda *_: stage.advance())
    session = {**result["session"], "git_commit": git_commit(), "command": command}
    out = {}
    for spec, _, card in models:
        mine = result["models"][spec.name]
        out[spec.name] = {"device": device, "rank": world.rank,
                          "world_size": world.size, "batch_size": 1,
                          "steps": card.steps, "components": mine["components"],
                          "per_video": mine["per_video"],
                          "components_missing": missing[spec.name],
                          "denoise_repeats_per_video": card.steps,
                          "speedup": mine["speedup"], "timing_version": version,
                          "session": session}
    return out
