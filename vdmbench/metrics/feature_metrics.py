"""Generic feature-based metrics: Fréchet distance and Inception Score over any extractor.

:class:`FeatureFrechetMetric` and :class:`FeatureInceptionScoreMetric` hold everything that does
not depend on the network: input checks, clip selection hooks, batching by shape, streaming
statistics, the content-keyed reference cache, progress bars and the protocol record. A concrete
metric only says which :class:`~vdmbench.metrics.extractor.VideoFeatureExtractor` to build (and,
if its protocol says so, how to cut clips). The real presets (``fvd_styleganv_2048_16f``,
``fvd_cdfvd``, ``is_tgan_ucf101``) are defined at the bottom; the synthetic-world metrics subclass
the generic classes with their own small networks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from vdmbench.errors import MetricError
from vdmbench.metrics.base import Metric, MetricContext, MetricValue
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.metrics.frechet import FeatureStats, frechet_distance_from_stats
from vdmbench.metrics.inception_score import inception_score
from vdmbench.metrics.reference_cache import (
    ReferenceStatsCache,
    reference_cache_key,
    reference_cache_material,
)
from vdmbench.video import stack_videos

if TYPE_CHECKING:
    from vdmbench.generation import GenerationRequest
    from vdmbench.video import Video


class FeatureMetricOptions(BaseModel):
    """Options every feature metric has. ``batch_size``: videos per extractor call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(16, gt=0, description="videos per feature-extractor call")


class FeatureISOptions(FeatureMetricOptions):
    """Inception Score options: ``splits`` parts the samples are cut into."""

    splits: int = Field(10, gt=0)


@contextmanager
def _progress(enabled: bool, description: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar (or a no-op) with an ``advance(n)`` callable."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _batches_by_shape(clips: Sequence[torch.Tensor], names: Sequence[str], batch_size: int
                      ) -> Iterator[torch.Tensor]:
    """Stack ``(T, H, W, 3)`` clips into uint8 batches of one shape, at most ``batch_size`` each,
    keeping the input order within each shape group."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, c in enumerate(clips):
        groups.setdefault(tuple(c.shape), []).append(i)
    for idx in groups.values():
        for s in range(0, len(idx), batch_size):
            part = idx[s:s + batch_size]
            yield stack_videos([clips[i] for i in part], [names[i] for i in part])


class _ExtractorMetric(Metric):
    """Shared plumbing: a lazily built extractor and protocol/option bookkeeping."""

    Options: ClassVar[type[BaseModel]] = FeatureMetricOptions
    #: option names that do not change the numbers (left out of the protocol and cache key;
    #: the checkpoint enters through its sha256 instead of its path)
    numerically_irrelevant_options: ClassVar[frozenset[str]] = frozenset({"batch_size",
                                                                           "weights"})

    #: (what, environment variable) of the checkpoint file the ``weights`` option names;
    #: None = the metric has no checkpoint file (see :meth:`weights_source`)
    weights_file: ClassVar[tuple[str, str] | None] = None

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self._extractor: VideoFeatureExtractor | None = None

    @classmethod
    def weights_source(cls, options: BaseModel) -> tuple[str, str] | None:
        """(what, environment variable) of the checkpoint these options load, or None."""
        return cls.weights_file

    @classmethod
    def check(cls, options: BaseModel, suite: Any, n_videos: int) -> None:
        """The base checks and: the checkpoint file exists (``weights`` or its variable);
        every failing check is named in one :class:`ConfigError`."""
        from vdmbench.errors import ConfigError, VdmbenchError

        found: list[str] = []
        try:
            super().check(options, suite, n_videos)
        except VdmbenchError as e:
            found.append(str(e))
        source = cls.weights_source(options)
        if source is not None:
            from vdmbench.metrics.real_extractors import resolve_weights

            what, env = source
            try:
                resolve_weights(getattr(options, "weights", None), what, env,
                                f"metric '{cls.name}'")
            except VdmbenchError as e:
                found.append(str(e))
        if found:
            raise ConfigError("; ".join(found))

    @abstractmethod
    def build_extractor(self) -> VideoFeatureExtractor:
        """The network this metric measures with, on ``self.context.device``."""

    @property
    def extractor(self) -> VideoFeatureExtractor:
        if self._extractor is None:
            self._extractor = self.build_extractor()
        return self._extractor

    def relevant_options(self) -> dict[str, Any]:
        """Options that change the numbers, as JSON-able data."""
        return {k: v for k, v in self.options.model_dump(mode="json").items()
                if k not in self.numerically_irrelevant_options}

    def preprocessing(self) -> dict[str, Any]:
        """How videos are turned into network input (resize mode, range, frames); for the
        protocol record. Default: whatever the extractor does."""
        return {}

    def protocol(self) -> dict[str, Any]:
        return {"id": self.name, "version": self.version, "options": self.relevant_options(),
                "extractor": self.extractor.describe(), "preprocessing": self.preprocessing()}

    @property
    def batch_size(self) -> int:
        return int(getattr(self.options, "batch_size", 16))

    # -- clip selection hooks -------------------------------------------------------------------
    def generated_clip(self, frames: torch.Tensor, name: str) -> torch.Tensor:
        """The part of a generated video ``(T, H, W, 3)`` that is measured (default: all)."""
        return frames

    def _check_request_names(self, videos: Sequence[Video],
                             requests: Sequence[GenerationRequest]) -> list[str]:
        if len(videos) != len(requests):
            raise MetricError(f"{self.name}: got {len(videos)} videos for {len(requests)} "
                              f"requests")
        return [r.id for r in requests]


class FeatureFrechetMetric(_ExtractorMetric):
    """Fréchet distance between extractor features of generated and real videos (lower better).

    ``prepare()`` loads or computes the reference :class:`FeatureStats` from
    ``context.dataset.reference_videos(batch_size)``, cached under
    ``context.cache_dir / "reference_stats"`` by content; ``update()`` streams generated
    features; ``compute()`` returns the distance with ``n`` = number of generated videos.
    """

    needs_reference_data: ClassVar[bool] = True
    higher_is_better: ClassVar[bool] = False
    #: use the unbiased (n − 1) covariance instead of the references' biased (n) one
    unbiased_covariance: ClassVar[bool] = False

    @classmethod
    def min_videos(cls, options: BaseModel) -> int:
        return 2  # a covariance

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self._ref: FeatureStats | None = None
        self._ref_info: dict[str, Any] = {}
        self._gen = FeatureStats()
        self._n_videos = 0

    # -- hooks for presets ----------------------------------------------------------------------
    def max_reference_videos(self) -> int | None:
        """How many reference videos (after skipping) to use; None = all the dataset yields."""
        return None

    def reference_clip(self, frames: torch.Tensor, index: int) -> torch.Tensor | None:
        """The clip of reference video number ``index`` to measure, or None to skip the video
        (e.g. too short for the protocol). Default: the whole video."""
        return frames

    # -- reference statistics -------------------------------------------------------------------
    def reference_key(self) -> tuple[str, dict[str, Any]]:
        """(cache key, the material it hashes) for this metric's reference statistics."""
        ds = self.context.dataset
        if ds is None:
            raise MetricError(f"metric '{self.name}' needs reference videos, but no dataset was "
                              f"given")
        args = (ds.manifest_hash(), self.extractor.weights_sha256, self.name, self.version,
                self.relevant_options())
        return reference_cache_key(*args), reference_cache_material(*args)

    def prepare(self) -> None:
        """Load the reference statistics from the cache, or compute and cache them."""
        if self._ref is not None:
            return
        key, material = self.reference_key()
        cache = ReferenceStatsCache(self.context.cache_dir)
        stats = cache.load(key)
        if stats is None:
            stats, info = self._compute_reference()
            cache.save(key, stats, {**material, **info})
            cached = False
        else:
            info = {k: stats.meta.get("material", {}).get(k) for k in ("videos", "skipped")}
            cached = True
        self._ref = stats
        self._ref_info = {"reference_cache_key": key, "reference_cached": cached, **info}

    def _compute_reference(self) -> tuple[FeatureStats, dict[str, Any]]:
        ds = self.context.dataset
        assert ds is not None
        limit = self.max_reference_videos()
        stats = FeatureStats()
        used = skipped = seen = 0
        with _progress(self.context.progress, f"{self.name}: reference features",
                       limit) as advance:
            for batch in ds.reference_videos(self.batch_size):
                clips: list[torch.Tensor] = []
                names: list[str] = []
                for video in batch:
                    if limit is not None and used + len(clips) >= limit:
                        break
                    clip = self.reference_clip(video.frames, seen)
                    if clip is None:
                        skipped += 1
                    else:
                        clips.append(clip)
                        names.append(f"reference video {seen}")
                    seen += 1
                self._stream(clips, names, stats)
                used += len(clips)
                advance(len(clips))
                if limit is not None and used >= limit:
                    break
        if used < 2:
            raise MetricError(f"{self.name}: the dataset gave {used} usable reference videos "
                              f"({skipped} skipped); at least 2 are needed")
        return stats, {"videos": used, "skipped": skipped}

    def _stream(self, clips: Sequence[torch.Tensor], names: Sequence[str],
                stats: FeatureStats) -> None:
        if not clips:
            return
        with torch.no_grad():
            for batch in _batches_by_shape(clips, names, self.batch_size):
                stats.update(self.extractor.features(batch))

    # -- generated videos -----------------------------------------------------------------------
    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        names = self._check_request_names(videos, requests)
        clips = [self.generated_clip(v.frames, n) for v, n in zip(videos, names)]
        self._stream(clips, names, self._gen)
        self._n_videos += len(videos)

    def compute(self) -> MetricValue:
        if self._n_videos < 2:
            raise MetricError(f"{self.name}: needs at least 2 generated videos, got "
                              f"{self._n_videos}")
        self.prepare()
        assert self._ref is not None
        value = frechet_distance_from_stats(self._gen, self._ref,
                                            unbiased=self.unbiased_covariance)
        details = {"n_ref": self._ref_info.get("videos"), "n_ref_rows": self._ref.n,
                   "n_gen_rows": self._gen.n, "feature_dim": self._gen.dim,
                   "covariance": "unbiased" if self.unbiased_covariance else "biased",
                   **{k: v for k, v in self._ref_info.items() if k != "videos"}}
        return MetricValue(value=value, n=self._n_videos, details=details)


class FeatureInceptionScoreMetric(_ExtractorMetric):
    """Inception Score of generated videos under a classifier extractor (higher is better)."""

    higher_is_better: ClassVar[bool] = True
    Options: ClassVar[type[BaseModel]] = FeatureISOptions
    #: seed of the shuffle before splitting (StyleGAN-V: 42); None keeps the input order
    shuffle_seed: ClassVar[int | None] = None

    @classmethod
    def min_videos(cls, options: BaseModel) -> int:
        return max(int(getattr(options, "splits", 10)), 2)

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self._probs: list[np.ndarray] = []

    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        names = self._check_request_names(videos, requests)
        clips = [self.generated_clip(v.frames, n) for v, n in zip(videos, names)]
        if not clips:
            return
        with torch.no_grad():
            # keep the request order: split assignment depends on it
            for s in range(0, len(clips), self.batch_size):
                for batch in _batches_by_shape(clips[s:s + self.batch_size],
                                               names[s:s + self.batch_size], self.batch_size):
                    p = self.extractor.probs(batch)
                    self._probs.append(np.asarray(p.detach().cpu().double().numpy()))

    def compute(self) -> MetricValue:
        splits = int(getattr(self.options, "splits", 10))
        probs = (np.concatenate(self._probs) if self._probs else np.zeros((0, 1)))
        if probs.shape[0] < max(splits, 2):
            raise MetricError(f"{self.name}: needs at least {max(splits, 2)} generated videos "
                              f"for {splits} splits, got {probs.shape[0]}")
        mean, std = inception_score(probs, splits=splits, shuffle_seed=self.shuffle_seed)
        return MetricValue(value=mean, n=int(probs.shape[0]), std=std,
                           details={"splits": splits, "num_classes": int(probs.shape[1]),
                                    "shuffle_seed": self.shuffle_seed})


# ------------------------------------------------------------------------------------------------
# Concrete presets on the real networks (the checkpoints are user-supplied files)
# ------------------------------------------------------------------------------------------------

def _first_frames(frames: torch.Tensor, n: int, name: str, metric: str) -> torch.Tensor:
    if frames.shape[0] < n:
        raise MetricError(f"{metric}: request {name} has {frames.shape[0]} frames; the protocol "
                          f"needs at least {n}")
    return frames[:n]


class StyleGANVFVDOptions(FeatureMetricOptions):
    """``fvd_styleganv_2048_16f`` options (defaults are the preset's)."""

    weights: str | None = Field(None, description="path to StyleGAN-V's i3d_torchscript.pt; "
                                "${ENV} allowed; default: $VDMBENCH_I3D_TORCHSCRIPT")
    num_real: int = Field(2048, gt=1, description="reference clips: the first N videos")
    num_frames: int = Field(16, gt=0)
    seed: int = Field(0, ge=0, description="seed of the reference clips' random offsets")


class CdFVDOptions(FeatureMetricOptions):
    """``fvd_cdfvd`` options: the VideoGPT/cd-fvd ``i3d_pretrained_400.pt`` (state dict) or a
    TorchScript I3D."""

    weights: str | None = Field(None, description="path to i3d_pretrained_400.pt (state_dict) "
                                "or i3d_torchscript.pt; ${ENV} allowed; default: "
                                "$VDMBENCH_I3D_STATE_DICT / $VDMBENCH_I3D_TORCHSCRIPT")
    format: Literal["state_dict", "torchscript"] = "state_dict"
    family: Literal["videogpt", "pytorch_i3d"] = Field(
        "videogpt", description="state-dict family, fixes BatchNorm eps (1e-5 / 1e-3)")
    num_real: int = Field(2048, gt=1)
    num_frames: int = Field(16, gt=0)
    seed: int = Field(0, ge=0)


class ISTganOptions(FeatureISOptions):
    """``is_tgan_ucf101`` options."""

    weights: str | None = Field(None, description="path to StyleGAN-V's c3d_ucf101.pt; ${ENV} "
                                "allowed; default: $VDMBENCH_C3D_TORCHSCRIPT")
    num_frames: int = Field(16, gt=0)


class _PresetFVD(FeatureFrechetMetric):
    """FVD with the preset's clip selection: first ``num_real`` usable real videos, one
    ``num_frames`` window each at a seeded random offset (shorter videos skipped); generated
    videos: their first ``num_frames`` frames."""

    def _preset(self) -> Any:
        from vdmbench.metrics.protocols import get_preset

        return get_preset(self.name)

    def max_reference_videos(self) -> int | None:
        return int(self.options.num_real)  # type: ignore[attr-defined]

    def reference_clip(self, frames: torch.Tensor, index: int) -> torch.Tensor | None:
        from vdmbench.metrics.protocols import random_offset_clip

        return random_offset_clip(frames, self.options.num_frames,  # type: ignore[attr-defined]
                                  seed=self.options.seed, index=index)  # type: ignore[attr-defined]

    def generated_clip(self, frames: torch.Tensor, name: str) -> torch.Tensor:
        return _first_frames(frames, self.options.num_frames, name,  # type: ignore[attr-defined]
                             self.name)

    def preprocessing(self) -> dict[str, Any]:
        return self._preset().describe()


class FVDStyleGANV(_PresetFVD):
    """``fvd_styleganv_2048_16f``: StyleGAN-V's FVD with its TorchScript I3D."""

    name: ClassVar[str] = "fvd_styleganv_2048_16f"
    version: ClassVar[str] = "1"
    Options: ClassVar[type[BaseModel]] = StyleGANVFVDOptions
    weights_file = ("I3D TorchScript detector (i3d_torchscript.pt)", "VDMBENCH_I3D_TORCHSCRIPT")

    def build_extractor(self) -> VideoFeatureExtractor:
        from vdmbench.metrics.real_extractors import I3DTorchScriptExtractor

        return I3DTorchScriptExtractor.from_path(
            self.options.weights, device=self.context.device,  # type: ignore[attr-defined]
            preset=self.name)


class FVDCDFVD(_PresetFVD):
    """``fvd_cdfvd``: cd-fvd's FVD (squash 224 bilinear, 2x/255−1) with the VideoGPT I3D."""

    name: ClassVar[str] = "fvd_cdfvd"
    version: ClassVar[str] = "1"
    Options: ClassVar[type[BaseModel]] = CdFVDOptions

    @classmethod
    def weights_source(cls, options: BaseModel) -> tuple[str, str] | None:
        if options.format == "state_dict":  # type: ignore[attr-defined]
            return ("I3D state dict (i3d_pretrained_400.pt)", "VDMBENCH_I3D_STATE_DICT")
        return ("I3D TorchScript detector (i3d_torchscript.pt)", "VDMBENCH_I3D_TORCHSCRIPT")

    def build_extractor(self) -> VideoFeatureExtractor:
        from vdmbench.metrics.real_extractors import (
            I3DStateDictExtractor,
            I3DTorchScriptExtractor,
        )

        o = self.options
        if o.format == "state_dict":  # type: ignore[attr-defined]
            return I3DStateDictExtractor.from_path(
                o.weights, family=o.family,  # type: ignore[attr-defined]
                device=self.context.device, preset=self.name)
        return I3DTorchScriptExtractor.from_path(o.weights,  # type: ignore[attr-defined]
                                                 device=self.context.device, preset=self.name)


class ISTGANUCF101(FeatureInceptionScoreMetric):
    """``is_tgan_ucf101``: the TGAN UCF101 Inception Score with StyleGAN-V's C3D port."""

    name: ClassVar[str] = "is_tgan_ucf101"
    version: ClassVar[str] = "1"
    Options: ClassVar[type[BaseModel]] = ISTganOptions
    weights_file = ("C3D TorchScript classifier (c3d_ucf101.pt)", "VDMBENCH_C3D_TORCHSCRIPT")
    shuffle_seed: ClassVar[int | None] = 42

    def build_extractor(self) -> VideoFeatureExtractor:
        from vdmbench.metrics.real_extractors import C3DTorchScriptExtractor

        return C3DTorchScriptExtractor.from_path(
            self.options.weights, device=self.context.device)  # type: ignore[attr-defined]

    def generated_clip(self, frames: torch.Tensor, name: str) -> torch.Tensor:
        return _first_frames(frames, self.options.num_frames, name,  # type: ignore[attr-defined]
                             self.name)

    def preprocessing(self) -> dict[str, Any]:
        from vdmbench.metrics.protocols import get_preset

        return get_preset(self.name).describe()
