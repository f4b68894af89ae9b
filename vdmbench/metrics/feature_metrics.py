"""Generic feature-based metrics: Fréchet distance and Inception Score over any extractor.

:class:`FeatureFrechetMetric` and :class:`FeatureInceptionScoreMetric` hold everything that does
not depend on the network: input checks, clip selection hooks, batching by shape, streaming
statistics, the content-keyed reference cache, progress bars and the protocol record. A concrete
metric only says which :class:`~vdmbench.metrics.extractor.VideoFeatureExtractor` to build (and,
if its protocol says so, how to cut and prepare clips). The real presets
(``fvd_styleganv_2048_16f``, ``fvd_cdfvd_128``, ``fvd_cdfvd_256``, ``fvd_cdfvd_array``,
``is_styleganv_ucf101``, ``is_tgan2_ucf101``; see :mod:`vdmbench.metrics.protocols`) are defined
at the bottom; the synthetic-world metrics subclass the generic classes with their own small
networks.
"""

from __future__ import annotations

import hashlib
import os
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from pydantic import BaseModel

from vdmbench.errors import MetricError
from vdmbench.metrics.base import MetricContext, MetricValue
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.metrics.feature_metrics_config import (  # the options: also importable from here
    C3DISConfig,
    CdFVDConfig,
    CdFVDFolderConfig,
    ExtractorMetricConfig,
    FrechetConfig,
    FVDCDFVD128Config,
    FVDCDFVD256Config,
    FVDCDFVDArrayConfig,
    FVDStyleGANVConfig,
    InceptionScoreConfig,
    ISStyleGANVUCF101Config,
    ISTGAN2UCF101Config,
)
from vdmbench.metrics.feature_metrics_config import (
    CdFVDArrayOptions as CdFVDArrayOptions,
)
from vdmbench.metrics.feature_metrics_config import (
    CdFVDFolderOptions as CdFVDFolderOptions,
)
from vdmbench.metrics.feature_metrics_config import (
    FeatureISOptions as FeatureISOptions,
)
from vdmbench.metrics.feature_metrics_config import (
    FeatureMetricOptions as FeatureMetricOptions,
)
from vdmbench.metrics.feature_metrics_config import (
    ISStyleGANVOptions as ISStyleGANVOptions,
)
from vdmbench.metrics.feature_metrics_config import (
    ISTgan2Options as ISTgan2Options,
)
from vdmbench.metrics.feature_metrics_config import (
    StyleGANVFVDOptions as StyleGANVFVDOptions,
)
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


class InMemoryVideo:
    """A decoded video behind the lazy-reading interface the reference loop uses."""

    def __init__(self, frames: torch.Tensor) -> None:
        self.frames = frames
        self.num_frames = int(frames.shape[0])

    def read(self, start: int, count: int) -> torch.Tensor:
        """uint8 ``(count, H, W, 3)``: frames ``start … start + count − 1``."""
        return self.frames[start:start + count]


class _ExtractorMetric(ExtractorMetricConfig):
    """Shared plumbing: a lazily built extractor and protocol/option bookkeeping."""

    shardable: ClassVar[bool] = True
    #: option names that do not change the numbers (left out of the protocol and cache key;
    #: the checkpoint enters through its sha256 instead of its path)
    numerically_irrelevant_options: ClassVar[frozenset[str]] = frozenset({"batch_size",
                                                                           "weights"})

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self._extractor: VideoFeatureExtractor | None = None

    @abstractmethod
    def build_extractor(self) -> VideoFeatureExtractor:
        """The network this metric measures with, on ``self.context.device``."""

    @property
    def extractor(self) -> VideoFeatureExtractor:
        if self._extractor is None:
            self._extractor = self.build_extractor()
        return self._extractor

    def generated_features(self, batch: torch.Tensor) -> torch.Tensor:
        """``extractor.features`` on a uint8 batch of generated clips ``(B, T, H, W, 3)``,
        through the context's feature cache when there is one."""
        cache = self.context.feature_cache
        return (self.extractor.features(batch) if cache is None
                else cache.call(self.extractor, "features", batch))

    def generated_probs(self, batch: torch.Tensor) -> torch.Tensor:
        """``extractor.probs`` on generated clips, through the feature cache (as above)."""
        cache = self.context.feature_cache
        return (self.extractor.probs(batch) if cache is None
                else cache.call(self.extractor, "probs", batch))

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


class FeatureFrechetMetric(FrechetConfig, _ExtractorMetric):
    """Fréchet distance between extractor features of generated and real videos (lower better).

    ``prepare()`` loads or computes the reference :class:`FeatureStats` from
    ``context.dataset.reference_videos(batch_size)``, cached under
    ``context.cache_dir / "reference_stats"`` by content; ``update()`` streams generated
    features; ``compute()`` returns the distance with ``n`` = number of generated videos.
    """

    higher_is_better: ClassVar[bool] = False
    #: use the unbiased (n − 1) covariance instead of the references' biased (n) one
    unbiased_covariance: ClassVar[bool] = False

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
            stored = stats.meta.get("material", {})
            info = {k: stored.get(k) for k in ("videos", "skipped")}
            info.update({k: stored[k] for k in ("window_draw", "video_order") if k in stored})
            cached = True
        self._ref = stats
        self._ref_info = {"reference_cache_key": key, "reference_cached": cached, **info}

    def _reference_batches(self) -> Iterator[list[Any]]:
        """The reference videos in groups, each video with ``num_frames`` and
        ``read(start, count)`` → uint8 ``(count, H, W, 3)``. Default: the dataset's
        ``reference_videos(batch_size)`` batches."""
        ds = self.context.dataset
        assert ds is not None
        for batch in ds.reference_videos(self.batch_size):
            yield [InMemoryVideo(video.frames) for video in batch]

    def reference_clips_from(self, video: Any, index: int) -> list[torch.Tensor]:
        """The clips reference video number ``index`` contributes (empty: skipped). Default:
        :meth:`reference_clip` of all its frames."""
        clip = self.reference_clip(video.read(0, video.num_frames), index)
        return [] if clip is None else [clip]

    def _compute_reference(self) -> tuple[FeatureStats, dict[str, Any]]:
        limit = self.max_reference_videos()
        stats = FeatureStats()
        used = skipped = seen = 0
        with _progress(self.context.progress, f"{self.name}: reference features",
                       limit) as advance:
            for batch in self._reference_batches():
                clips: list[torch.Tensor] = []
                names: list[str] = []
                for video in batch:
                    if limit is not None and used + len(clips) >= limit:
                        break
                    got = self.reference_clips_from(video, seen)
                    if not got:
                        skipped += 1
                    for clip in got:
                        if limit is not None and used + len(clips) >= limit:
                            break
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
                stats: FeatureStats, generated: bool = False) -> None:
        """Add the clips' features to ``stats`` (generated clips through the feature cache)."""
        if not clips:
            return
        features = self.generated_features if generated else self.extractor.features
        with torch.no_grad():
            for batch in _batches_by_shape(clips, names, self.batch_size):
                stats.update(features(batch))

    # -- generated videos -----------------------------------------------------------------------
    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        names = self._check_request_names(videos, requests)
        clips = [self.generated_clip(v.frames, n) for v, n in zip(videos, names)]
        self._stream(clips, names, self._gen, generated=True)
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


class FeatureInceptionScoreMetric(InceptionScoreConfig, _ExtractorMetric):
    """Inception Score of generated videos under a classifier extractor (higher is better)."""

    higher_is_better: ClassVar[bool] = True
    #: seed of the ``numpy.random.RandomState`` shuffle of the rows before splitting (None keeps
    #: the input order); the StyleGAN-V preset :class:`ISStyleGANVUCF101` sets 42, its peer's
    shuffle_seed: ClassVar[int | None] = None

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
                    p = self.generated_probs(batch)
                    self._probs.append(np.asarray(p.detach().cpu().double().numpy()))

    def score(self, probs: np.ndarray) -> tuple[float, float, dict[str, Any]]:
        """(mean, std, details) of ``(N, K)`` probabilities in request order. Default:
        ``splits`` consecutive parts after the optional :attr:`shuffle_seed` shuffle."""
        splits = int(getattr(self.options, "splits", 10))
        if probs.shape[0] < max(splits, 2):
            raise MetricError(f"{self.name}: needs at least {max(splits, 2)} generated videos "
                              f"for {splits} splits, got {probs.shape[0]}")
        mean, std = inception_score(probs, splits=splits, shuffle_seed=self.shuffle_seed)
        return mean, std, {"splits": splits, "shuffle_seed": self.shuffle_seed}

    def compute(self) -> MetricValue:
        probs = (np.concatenate(self._probs) if self._probs else np.zeros((0, 1)))
        mean, std, details = self.score(probs)
        return MetricValue(value=mean, n=int(probs.shape[0]), std=std,
                           details={**details, "num_classes": int(probs.shape[1])})


# ------------------------------------------------------------------------------------------------
# Concrete presets on the real networks (the checkpoints are user-supplied files)
# ------------------------------------------------------------------------------------------------

def _first_frames(frames: torch.Tensor, n: int, name: str, metric: str) -> torch.Tensor:
    if frames.shape[0] < n:
        raise MetricError(f"{metric}: request {name} has {frames.shape[0]} frames; the protocol "
                          f"needs at least {n}")
    return frames[:n]


def _source_batches(metric: _ExtractorMetric) -> Iterator[list[Any]]:
    """The dataset's whole source videos (``source_videos()``, e.g. UCF101's files in sorted
    order, read lazily) in groups of ``batch_size``; a dataset without them gives its
    ``reference_videos`` instead."""
    ds = metric.context.dataset
    assert ds is not None
    source = getattr(ds, "source_videos", None)
    if source is None:
        for batch in ds.reference_videos(metric.batch_size):
            yield [InMemoryVideo(v.frames) for v in batch]
        return
    group: list[Any] = []
    for video in source():
        group.append(video)
        if len(group) == metric.batch_size:
            yield group
            group = []
    if group:
        yield group


class _PresetFVD(FeatureFrechetMetric):
    """FVD with the preset's clip selection: the first ``num_real`` usable source videos, one
    ``num_frames`` window each at a seeded random offset (shorter videos skipped), prepared by
    :meth:`prepare_real`; generated videos: their first ``num_frames`` frames."""

    def _preset(self) -> Any:
        from vdmbench.metrics.protocols import get_preset

        return get_preset(self.name)

    def max_reference_videos(self) -> int | None:
        n = self.options.num_real  # type: ignore[attr-defined]
        return None if n is None else int(n)

    def _reference_batches(self) -> Iterator[list[Any]]:
        return _source_batches(self)

    def prepare_real(self, clip: torch.Tensor) -> torch.Tensor:
        """The preset's real-data preparation of a uint8 ``(T, H, W, 3)`` clip (default: none)."""
        return clip

    def reference_clips_from(self, video: Any, index: int) -> list[torch.Tensor]:
        from vdmbench.metrics.protocols import random_offset

        n = self.options.num_frames  # type: ignore[attr-defined]
        offset = random_offset(video.num_frames, n, self.options.seed,  # type: ignore[attr-defined]
                               index)
        if offset is None:
            return []
        return [self.prepare_real(torch.as_tensor(video.read(offset, n)))]

    def generated_clip(self, frames: torch.Tensor, name: str) -> torch.Tensor:
        return _first_frames(frames, self.options.num_frames, name,  # type: ignore[attr-defined]
                             self.name)

    def preprocessing(self) -> dict[str, Any]:
        return self._preset().describe()


class FVDStyleGANV(FVDStyleGANVConfig, _PresetFVD):
    """``fvd_styleganv_2048_16f``: StyleGAN-V's FVD with its TorchScript I3D; real frames
    prepared as StyleGAN-V's dataset script does (LANCZOS 256, centre crop, JPEG)."""

    version: ClassVar[str] = "2"

    def build_extractor(self) -> VideoFeatureExtractor:
        from vdmbench.metrics.real_extractors import I3DTorchScriptExtractor

        return I3DTorchScriptExtractor.from_path(
            self.options.weights, device=self.context.device,  # type: ignore[attr-defined]
            preset=self.name)

    def prepare_real(self, clip: torch.Tensor) -> torch.Tensor:
        from vdmbench.metrics.protocols import styleganv_prepare_real

        return styleganv_prepare_real(clip, self.options.real_size)  # type: ignore[attr-defined]


class _CdFVDBase(CdFVDConfig, _PresetFVD):
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


class FVDCDFVDArray(FVDCDFVDArrayConfig, _CdFVDBase):
    """``fvd_cdfvd_array``: cd-fvd's numpy-array API (squash 224 bilinear, 2x/255−1) with the
    VideoGPT I3D; real clips as the dataset gives them."""

    version: ClassVar[str] = "1"

    def _reference_batches(self) -> Iterator[list[Any]]:
        return FeatureFrechetMetric._reference_batches(self)


class _FVDCDFVDFolder(CdFVDFolderConfig, _CdFVDBase):
    """cd-fvd's folder pipeline (see :func:`vdmbench.metrics.protocols.cdfvd_prepare`): every
    source video, a random window each, a too-short video replaced by the next usable one;
    generated videos prepared the same way, exactly ``num_gen`` of them. The windows: option
    ``window_draw`` (``cdfvd``: cd-fvd's own for its loader settings ``cdfvd_num_workers`` and
    ``cdfvd_batch_size``; ``seeded``: vdmbench's)."""

    version: ClassVar[str] = "2"
    resolution: ClassVar[int]

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        super().__init__(options, context)
        self._pending_short = 0
        self._gen_offset = 0
        self._listed: tuple[list[Any], str, str | None] | None = None
        self._gen_windows: dict[int, int] | None = None
        self._gen_frames = 0

    @property
    def _cdfvd_draw(self) -> bool:
        return self.options.window_draw == "cdfvd"  # type: ignore[attr-defined]

    # -- cd-fvd's window draw -------------------------------------------------------------------
    def _listed_reference_videos(self) -> tuple[list[Any], str, str | None]:
        """(the reference videos in cd-fvd's loader order, how that order was found, sha256 of
        it or None). With the dataset's ``videos_dir`` and videos that have a ``path``: the
        order :func:`~vdmbench.metrics.protocols.cdfvd_listing` gives (the file system's), so
        the draws land on the videos they land on in cd-fvd run on that folder; otherwise the
        dataset's order."""
        if self._listed is not None:
            return self._listed
        from vdmbench.metrics.protocols import CDFVD_VIDEO_EXTENSIONS, cdfvd_listing

        videos = [v for batch in self._reference_batches() for v in batch]
        folder = getattr(self.context.dataset, "videos_dir", None)
        if folder is None or any(getattr(v, "path", None) is None for v in videos):
            self._listed = (videos, "dataset order", None)
            return self._listed
        rank = {os.path.realpath(p): i for i, p in enumerate(cdfvd_listing(folder))}
        keyed = []
        for v in videos:
            k = rank.get(os.path.realpath(v.path))
            if k is None:
                raise MetricError(f"{self.name}: {v.path} is not among the files cd-fvd's "
                                  f"folder loader lists under {folder} (names ending in "
                                  f"{', '.join(CDFVD_VIDEO_EXTENSIONS)})")
            keyed.append((k, v))
        keyed.sort(key=lambda kv: kv[0])
        ordered = [v for _, v in keyed]
        digest = hashlib.sha256("\n".join(os.path.relpath(v.path, folder)
                                          for v in ordered).encode()).hexdigest()
        self._listed = (ordered, f"cd-fvd's listing of {folder} (glob order)", digest)
        return self._listed

    def reference_key(self) -> tuple[str, dict[str, Any]]:
        """As the base, and with ``window_draw: cdfvd`` the listing order's sha256: the same
        files listed in another order get other windows."""
        key, material = super().reference_key()
        if not self._cdfvd_draw or getattr(self.context.dataset, "videos_dir", None) is None:
            return key, material
        digest = self._listed_reference_videos()[2]
        if digest is None:
            return key, material
        material = {**material, "cdfvd_listing_sha256": digest}
        return hashlib.sha256(f"{key}:{digest}".encode()).hexdigest(), material

    def _loader_settings(self) -> dict[str, int]:
        o = self.options
        return {"seed": int(o.seed), "num_workers": int(o.cdfvd_num_workers),  # type: ignore[attr-defined]
                "batch_size": int(o.cdfvd_batch_size)}  # type: ignore[attr-defined]

    def _compute_cdfvd_reference(self) -> tuple[FeatureStats, dict[str, Any]]:
        from vdmbench.metrics.protocols import cdfvd_windows

        n = int(self.options.num_frames)  # type: ignore[attr-defined]
        videos, order, _ = self._listed_reference_videos()
        counts = [int(v.num_frames) for v in videos]
        try:
            windows = cdfvd_windows(counts, n, count=self.options.num_real,  # type: ignore[attr-defined]
                                    **self._loader_settings())
        except ValueError:
            raise MetricError(f"{self.name}: none of the {len(videos)} reference videos has "
                              f"{n} frames") from None
        if len(windows) < 2:
            raise MetricError(f"{self.name}: the dataset gave {len(windows)} usable reference "
                              f"videos; at least 2 are needed")
        stats = FeatureStats()
        with _progress(self.context.progress, f"{self.name}: reference features",
                       len(windows)) as advance:
            for s in range(0, len(windows), self.batch_size):
                part = windows[s:s + self.batch_size]
                clips = [self.prepare_real(torch.as_tensor(videos[i].read(start, n)))
                         for i, start in part]
                self._stream(clips, [f"reference video {i}" for i, _ in part], stats)
                advance(len(part))
        self._listed = None  # in-memory reference videos are not kept
        return stats, {"videos": len(windows), "skipped": sum(c < n for c in counts),
                       "window_draw": "cdfvd", "video_order": order}

    def _cdfvd_generated_start(self, total: int, index: int, name: str) -> int:
        """First frame of generated video ``index`` (request order plays the folder's listing
        order) under cd-fvd's draw over ``num_gen`` videos of ``total`` frames each."""
        from vdmbench.metrics.protocols import cdfvd_windows

        num_gen = int(self.options.num_gen)  # type: ignore[attr-defined]
        if self._gen_windows is None:
            n = int(self.options.num_frames)  # type: ignore[attr-defined]
            self._gen_windows = dict(cdfvd_windows([total] * num_gen, n, count=num_gen,
                                                   **self._loader_settings()))
            self._gen_frames = total
        if total != self._gen_frames:
            raise MetricError(f"{self.name}: request {name} has {total} frames, earlier "
                              f"generated videos {self._gen_frames}; window_draw 'cdfvd' "
                              f"reproduces cd-fvd's draw for generated videos of one length "
                              f"(use window_draw: seeded)")
        if index >= num_gen:
            raise MetricError(f"{self.name}: more than num_gen={num_gen} generated videos "
                              f"(request {name})")
        return self._gen_windows[index]

    def prepare_real(self, clip: torch.Tensor) -> torch.Tensor:
        from vdmbench.metrics.protocols import cdfvd_prepare

        return cdfvd_prepare(clip, self.resolution)

    def reference_clips_from(self, video: Any, index: int) -> list[torch.Tensor]:
        from vdmbench.metrics.protocols import random_offset

        n = self.options.num_frames  # type: ignore[attr-defined]
        if video.num_frames < n:
            self._pending_short += 1
            return []
        clips = []
        # this video's own clip, then one for every too-short video just before it
        for k in range(1 + self._pending_short):
            offset = random_offset(video.num_frames, n,
                                   self.options.seed, index * 1000 + k)  # type: ignore[attr-defined]
            assert offset is not None
            clips.append(self.prepare_real(torch.as_tensor(video.read(offset, n))))
        self._pending_short = 0
        return clips

    def _compute_reference(self) -> tuple[FeatureStats, dict[str, Any]]:
        if self._cdfvd_draw:
            return self._compute_cdfvd_reference()
        self._pending_short = 0
        stats, info = super()._compute_reference()
        if self._pending_short:
            raise MetricError(f"{self.name}: the last {self._pending_short} reference videos "
                              f"are shorter than {self.options.num_frames} frames and no later "  # type: ignore[attr-defined]
                              f"video can replace them (cd-fvd fails here too)")
        return stats, {**info, "window_draw": "seeded"}

    def generated_clip(self, frames: torch.Tensor, name: str) -> torch.Tensor:
        from vdmbench.metrics.protocols import random_offset

        n = self.options.num_frames  # type: ignore[attr-defined]
        index = self._n_videos + self._gen_offset
        self._gen_offset += 1
        total = int(frames.shape[0])
        if total < n:
            raise MetricError(f"{self.name}: request {name} has {total} frames; the "
                              f"protocol needs at least {n}")
        if self._cdfvd_draw:
            offset = self._cdfvd_generated_start(total, index, name)
        else:
            offset = random_offset(total, n, self.options.seed,  # type: ignore[attr-defined]
                                   1_000_003 + index)
            assert offset is not None
        return self.prepare_real(frames[offset:offset + n])

    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        self._gen_offset = 0
        super().update(videos, requests, teacher_videos)

    def compute(self) -> MetricValue:
        want = int(self.options.num_gen)  # type: ignore[attr-defined]
        if self._n_videos != want:
            raise MetricError(f"{self.name}: the protocol measures exactly num_gen={want} "
                              f"generated videos (cd-fvd's n_fake), got {self._n_videos}; set "
                              f"dataset.num_videos or the metric's num_gen option")
        return super().compute()


class FVDCDFVD128(FVDCDFVD128Config, _FVDCDFVDFolder):
    """``fvd_cdfvd_128``: cd-fvd's folder pipeline at resolution 128."""

    resolution: ClassVar[int] = 128


class FVDCDFVD256(FVDCDFVD256Config, _FVDCDFVDFolder):
    """``fvd_cdfvd_256``: cd-fvd's folder pipeline at resolution 256."""

    resolution: ClassVar[int] = 256


class _C3DIS(C3DISConfig, FeatureInceptionScoreMetric):
    def build_extractor(self) -> VideoFeatureExtractor:
        from vdmbench.metrics.real_extractors import C3DTorchScriptExtractor

        return C3DTorchScriptExtractor.from_path(
            self.options.weights, device=self.context.device,  # type: ignore[attr-defined]
            preset=self.name)

    def generated_clip(self, frames: torch.Tensor, name: str) -> torch.Tensor:
        return _first_frames(frames, self.options.num_frames, name,  # type: ignore[attr-defined]
                             self.name)

    def preprocessing(self) -> dict[str, Any]:
        from vdmbench.metrics.protocols import get_preset

        return get_preset(self.name).describe()


class ISStyleGANVUCF101(ISStyleGANVUCF101Config, _C3DIS):
    """``is_styleganv_ucf101``: StyleGAN-V's ``isv2048_ucf`` with its C3D port — float32
    probabilities, rows shuffled with ``numpy.random.RandomState(42)``, 10 consecutive splits of
    the shuffled rows, no epsilon in the logarithm, every step in float32."""

    version: ClassVar[str] = "2"
    shuffle_seed: ClassVar[int | None] = 42

    def score(self, probs: np.ndarray) -> tuple[float, float, dict[str, Any]]:
        splits = int(self.options.splits)  # type: ignore[attr-defined]
        if probs.shape[0] < max(splits, 2):
            raise MetricError(f"{self.name}: needs at least {max(splits, 2)} generated videos "
                              f"for {splits} splits, got {probs.shape[0]}")
        mean, std = inception_score(probs, splits=splits, shuffle_seed=self.shuffle_seed,
                                    eps=0.0, dtype="float32")
        return mean, std, {"splits": splits, "shuffle_seed": self.shuffle_seed, "log_eps": 0.0,
                           "dtype": "float32"}


class ISTGAN2UCF101(ISTGAN2UCF101Config, _C3DIS):
    """``is_tgan2_ucf101``: TGANv2's protocol — ``draws`` groups of ``samples_per_draw``
    consecutive generated videos, each scored with ``splits=1`` and ``p + 1e-20``; mean ± std
    (population) over the draws."""

    version: ClassVar[str] = "1"

    def score(self, probs: np.ndarray) -> tuple[float, float, dict[str, Any]]:
        draws = int(self.options.draws)  # type: ignore[attr-defined]
        per = int(self.options.samples_per_draw)  # type: ignore[attr-defined]
        if probs.shape[0] != draws * per:
            raise MetricError(f"{self.name}: the protocol scores {draws} draws of {per} videos "
                              f"= {draws * per} generated videos, got {probs.shape[0]}; set "
                              f"dataset.num_videos to {draws * per}")
        scores = [inception_score(probs[i * per:(i + 1) * per], splits=1, eps=1e-20,
                                  eps_mode="added")[0] for i in range(draws)]
        return (float(np.mean(scores)), float(np.std(scores)),
                {"draws": draws, "samples_per_draw": per, "splits": 1, "shuffle_seed": None,
                 "log_eps": 1e-20, "draw_scores": scores})
