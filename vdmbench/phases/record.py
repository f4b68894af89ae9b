"""Record assembly: the one place a model's result record is built (schema:
vdmbench/record_schema.py)."""

from __future__ import annotations

from typing import Any

from vdmbench.generation import GenerationRequest, ModelCard, request_seeds_sha256
from vdmbench.records import RECORD_VERSION, now_iso
from vdmbench.suite import ModelSpec, Suite


def build_record(*, run_id: str, suite: Suite, spec: ModelSpec, card: ModelCard,
                 cache_key: str, metrics: dict[str, Any], generated_now: int,
                 speed: dict[str, Any] | None, manifest_hash: str,
                 requests: list[GenerationRequest], limit: int | None,
                 env: dict[str, Any], commit: str | None) -> dict[str, Any]:
    """The result record of model ``spec`` in run ``run_id``: what it is (spec, card, cache
    key), what it was asked (dataset, seeds), what it gave (metrics, speed) and where (env,
    commit)."""
    return {
        "record_version": RECORD_VERSION,
        "created": now_iso(),
        "run_id": run_id,
        "suite": {"name": suite.name, "hash": suite.content_hash(),
                  "task": suite.task, "reference_model": suite.reference,
                  "teacher_model": suite.teacher,
                  "matched_speed_model": suite.matched_speed_model},
        "model": {"name": spec.name, "index": suite.models.index(spec),
                  "spec": spec.model_dump(mode="json"),
                  "card": card.to_dict(), "cache_key": cache_key},
        "dataset": {"spec": suite.dataset.model_dump(mode="json"),
                    "manifest_hash": manifest_hash,
                    "n_requests": len(requests), "limit": limit},
        "seeds": {"dataset_seed": suite.dataset.seed,
                  "request_seeds_sha256": request_seeds_sha256(requests)},
        "generation": {"generated_now": generated_now,
                       "from_cache": len(requests) - generated_now},
        "metrics": metrics,
        "speed": speed,
        "environment": env,
        "git_commit": commit,
    }
