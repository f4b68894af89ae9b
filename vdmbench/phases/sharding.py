"""Sharding: a rank's share of a distributed run (docs/scale-out.md). Ranks share work only
through the content-keyed caches; rank 0 then measures every model from them in the
single-process order."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vdmbench.cache import video_key
from vdmbench.data.base import VideoDataset
from vdmbench.distributed import assign_work
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.base import MetricContext
from vdmbench.phases.generation import batches


def shard_work(run: Any, requests: list[GenerationRequest],
               dataset: VideoDataset) -> dict[str, int]:
    """This rank's share of ``run`` (a :class:`~vdmbench.runner.SuiteRun`): the reference
    statistics of some metrics (spread over the ranks, rank 0 last); then, for every model that
    needs work, the batches :func:`~vdmbench.distributed.assign_work` gives this rank — generate
    what the video cache lacks, then call every shardable metric's ``update`` on a throw-away
    instance, which leaves the feature-extractor outputs in the feature cache. Returns the
    videos generated, by model. Nothing but cache entries is written."""
    suite, world = run.suite, run.world
    parts = list(batches(requests, suite.batch_size))
    models = []
    for spec in run.model_order():
        if run.layout.record(spec.name).exists():
            if not (spec.name == suite.teacher and run.resolved.needs_teacher()):
                continue  # measured; its videos are needed only if it is the teacher
            models.append((spec, False))
        else:
            models.append((spec, True))
    keys = [[hashlib.sha256(json.dumps(
        [spec.model_dump(mode="json"), [r.content_hash() for r in batch]],
        sort_keys=True).encode()).hexdigest() for batch in parts] for spec, _ in models]
    ranks = assign_work(keys, world.size)
    ctx = MetricContext(device=run.device, cache_dir=run.caches.metrics, dataset=dataset,
                        feature_cache=run.feature_cache)
    # reference statistics (content-keyed, shared cache): metric i on rank N−1−i (mod N),
    # concurrently with the other ranks' generation, so rank 0 later only reads them
    metrics = list(run.resolved.metrics.values())
    with_reference = [e for e in metrics if e.cls.needs_reference_data]
    for i, e in enumerate(with_reference):
        if (world.size - 1 - i) % world.size == world.rank:
            e.cls(e.options, ctx).prepare()
    generated: dict[str, int] = {}
    for (spec, measure), owner in zip(models, ranks):
        mine = [b for b, r in zip(parts, owner) if r == world.rank]
        if not mine:
            continue
        gen = run.load_model(spec)
        mkey = run.model_key(spec, gen.describe())
        generated[spec.name] = run.generate(spec, gen, mkey, [r for b in mine for r in b])
        if measure:
            for e in metrics:
                if not e.cls.shardable or e.cls.needs_teacher:
                    continue  # computed by rank 0 alone
                metric = e.cls(e.options, ctx)
                for batch in mine:
                    metric.update([run.cache.get(video_key(mkey, r)) for r in batch],
                                  list(batch), None)
        del gen  # rank 0 loads it again to measure and time it: one model in memory
    return generated
