"""Training data for ``vdmbench compress``: videos → clips → what the denoiser trains on, cached.

The flow is one way: a registered dataset (:data:`vdmbench.catalog.DATASETS`, the same schema as
a suite's ``dataset:``; :class:`~vdmbench.training_data.spec.TrainingDataSpec`) hands out a
:class:`~vdmbench.data.clips.ClipSource`; the teacher's
:class:`~vdmbench.diffusion.denoiser.DenoiserSpec` hands out a ``clip_encoder``; the content-keyed
cache (:mod:`vdmbench.training_data.cache`) stores the encoded clips once; :func:`attach` gives
the teacher the cache to draw its batches from. Trainers call ``teacher.batch`` and never see
the dataset.

- :func:`check` — before any model loads: the dataset exists, its root, metadata and columns;
- :func:`attach` — decide where the teacher's batches come from, fill the cache, attach it, and
  return what ``compression.json`` records.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vdmbench.data.clips import ClipSource
from vdmbench.errors import ConfigError
from vdmbench.generation import torch_dtype
from vdmbench.suite import validate_model
from vdmbench.training_data.cache import (
    DEFAULT_SHARD_CLIPS,
    CachedClips,
    FrameEncoder,
    PrepareResult,
    default_cache_root,
    prepare,
)
from vdmbench.training_data.spec import TrainingDataSpec

__all__ = ["TrainingDataSpec", "training_source", "check", "attach", "prepare", "CachedClips",
           "default_cache_root"]

#: datasets that name no videos
NOISE = "noise"


def training_source(data: TrainingDataSpec) -> ClipSource:
    """The clip source of ``data.name`` (its dataset class's ``training_source``); a dataset
    without one is a :class:`ConfigError` listing those that have one."""
    from vdmbench.catalog import DATASETS

    if data.name is None or data.name == NOISE:
        raise ConfigError(f"dataset {data.name!r} has no clips", field="data.name")
    cls = DATASETS.get(data.name)
    fn = getattr(cls, "training_source", None)
    if fn is None:
        raise ConfigError(f"dataset '{data.name}' cannot be used for training (datasets that "
                          f"can: videofolder, ucf101, synthmotion, noise)", field="data.name")
    return fn(data.dataset_spec(), data.num_videos)


def check(data: TrainingDataSpec) -> ClipSource | None:
    """Everything about ``data`` that needs no model: the registered name, the dataset's options,
    root, metadata file and columns (reads the metadata table, decodes no video). Returns the
    clip source (None for no dataset or ``noise``)."""
    from vdmbench.catalog import DATASETS

    if data.name is None:
        return None
    DATASETS.check(data.name)
    # the dataset's options, as a suite's are checked (its config class; same error layout)
    validate_model(DATASETS.config(data.name).Options, data.options, file=None, lines={},
                   prefix=("data", "options"))
    if data.name == NOISE:
        return None
    return training_source(data)


def _record(data: TrainingDataSpec, **extra: Any) -> dict[str, Any]:
    return {"dataset": data.name, "split": data.split, "options": dict(data.options),
            "frames": data.frames, "height": data.height, "width": data.width,
            "fps": data.fps, "seed": data.seed, "num_videos": data.num_videos, **extra}


def attach(teacher: Any, data: TrainingDataSpec, cache_root: str | os.PathLike[str] | None = None,
           *, frames: bool = False, frame_clips: int | None = None,
           storage: str = "float16", world: Any = None,
           shard_clips: int = DEFAULT_SHARD_CLIPS, progress: bool = False,
           log: Callable[[str], None] | None = None, source: ClipSource | None = None
           ) -> dict[str, Any]:
    """Where ``teacher.batch`` takes its clips from, for training on ``data``:

    - no dataset named: the adapter's own clips (the synthetic adapters) or, for a model that
      allows it (``random-svd``), Gaussian latents; any other model is refused (ConfigError);
    - ``noise``: seeded Gaussian latents (a real model's smoke run; refused for the synthetic
      adapters, which have their own data);
    - the adapter's own dataset (``synthmotion`` for the synthetic adapters): unchanged;
    - anything else: the clips encoded by ``teacher.clip_encoder`` into the cache under
      ``cache_root`` (:func:`~vdmbench.training_data.cache.prepare`), attached as
      ``teacher.train_data`` (and, with ``frames``, the uint8 frames of the same clips — of the
      first ``frame_clips`` candidates only, when given — as ``teacher.train_frames``, for the
      VAE decoder stage).

    Returns what ``compression.json`` records as ``data``."""
    name = teacher.name
    if data.name is None:
        if teacher.clip_dataset is not None:
            return _record(data.model_copy(update={"name": teacher.clip_dataset}),
                           source="the adapter's own clips")
        if teacher.noise_by_default:
            return _record(data.model_copy(update={"name": NOISE}),
                           source="Gaussian latents (test model)")
        raise ConfigError(f"model '{name}' trains on videos: name a dataset (recipe data.name "
                          f"or --dataset: videofolder, ucf101, …; 'noise' for a smoke run on "
                          f"Gaussian latents)", field="data.name")
    if data.name == NOISE:
        if teacher.clip_dataset is not None:
            raise ConfigError(f"model '{name}' trains on its own {teacher.clip_dataset} clips; "
                              f"'noise' is for models that encode videos", field="data.name")
        return _record(data, source="Gaussian latents (named explicitly)")
    if data.name == teacher.clip_dataset:
        return _record(data, source="the adapter's own clips")
    dtype = torch_dtype(storage, "latent cache")
    src = source or training_source(data)
    encoder = teacher.clip_encoder(data, dtype)
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    kw: dict[str, Any] = {"shard_clips": shard_clips, "max_bad_fraction": data.max_bad_fraction,
                          "world": world, "progress": progress}
    if log is not None:
        kw["log"] = log
    res: PrepareResult = prepare(src, encoder, root, **kw)
    teacher.train_data = CachedClips(res.path)
    out = _record(data, source="latent cache", cache_key=res.key,
                  manifest_sha256=res.manifest_sha256, clips=res.clips,
                  skipped=len(res.skipped), clips_encoded=res.encoded,
                  clips_reused=res.reused, cache_bytes=res.bytes, cache_dtype=storage)
    if frames:
        fsrc = src
        if frame_clips is not None and frame_clips < len(src.refs()):
            fsrc = copy.copy(src)
            fsrc._refs = src.refs()[:frame_clips]
        fres = prepare(fsrc, FrameEncoder(), root, **kw)
        teacher.train_frames = CachedClips(fres.path)
        extra_files = set(teacher.train_frames.files) - set(teacher.train_data.files)
        if extra_files:
            raise ConfigError(f"{fres.path}: the frame cache holds clips the latent cache "
                              f"{res.path} does not: {sorted(extra_files)[:3]}")
        out.update(frames_manifest_sha256=fres.manifest_sha256, frames_encoded=fres.encoded,
                   frames_bytes=fres.bytes)
    return out
