"""The metric interface: registered by name, versioned, streaming.

A metric is created per (model, run) with its validated options and a :class:`MetricContext`;
``prepare()`` builds whatever reference it needs (real-video feature statistics, cached by
content), ``update()`` is called per batch of generated videos, ``compute()`` returns a
:class:`MetricValue`. Feature statistics stream (float64 sums), so memory does not grow with the
number of videos.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from vdmbench.data.base import VideoDataset
    from vdmbench.generation import GenerationRequest
    from vdmbench.metrics.feature_cache import FeatureCache
    from vdmbench.suite import Suite
    from vdmbench.video import Video


class NoOptions(BaseModel):
    """A metric without options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class MetricValue:
    """A metric's result: ``value`` over ``n`` samples; ``ci`` a (low, high) interval if known,
    ``std`` the spread over splits/loops if the protocol defines one; ``details`` free-form;
    ``undersampled``: why the value was computed on fewer samples than its protocol asks (None:
    it was not; see :meth:`Metric.undersampled`)."""

    value: float
    n: int
    ci: tuple[float, float] | None = None
    std: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    undersampled: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MetricContext:
    """What a metric may use: the device, a content-keyed cache folder, the suite's dataset
    (for reference videos), whether to show progress, where extractor outputs on generated
    videos are cached (``feature_cache``; None: not cached), how many generated videos the suite
    asks for (``requested_videos``, its ``dataset.num_videos``) and how many the run gives the
    metrics (``given_videos``: fewer with ``--limit``, or where the dataset has fewer requests);
    None: unknown."""

    device: str
    cache_dir: Path
    dataset: VideoDataset | None = None
    progress: bool = False
    feature_cache: FeatureCache | None = None
    requested_videos: int | None = None
    given_videos: int | None = None


class Metric(ABC):
    """Base class of registered metrics.

    Subclasses set ``name``, ``version`` (bump it whenever numbers can change),
    ``higher_is_better``, ``needs_reference_data`` (real videos from the dataset),
    ``needs_teacher`` (the teacher model's videos for the same requests) and ``Options``.
    ``shardable``: ``update`` on a throw-away instance leaves its costly work in a content-keyed
    cache (extractor outputs, encoded files), so the ranks of a distributed run can each warm
    the cache for their share and rank 0's ``update`` over all batches is cheap; metrics that
    are not shardable are computed by rank 0 alone.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    higher_is_better: ClassVar[bool]
    needs_reference_data: ClassVar[bool] = False
    needs_teacher: ClassVar[bool] = False
    shardable: ClassVar[bool] = False
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel, context: MetricContext) -> None:
        self.options = options
        self.context = context

    def protocol(self) -> dict[str, Any]:
        """Protocol description recorded with each value; the leaderboard refuses to compare
        values whose ``protocol()`` differs. Must include ``id`` and ``version``; subclasses add
        preprocessing, extractor sha256 and sample counts."""
        return {"id": self.name, "version": self.version,
                "options": self.options.model_dump(mode="json")}

    # -- the report's sample grid (vdmbench/report) ----------------------------------------------
    #: a sentence the report adds under its sample grid where this metric captions the samples
    sample_note: ClassVar[str] = ""

    @classmethod
    def sample_label(cls, request: Any) -> str | None:
        """What ``request`` asks for as this metric reads it, shown under the request in the
        report (None: nothing). ``request`` has the fields of a :class:`GenerationRequest`."""
        return None

    def sample_captions(self, videos: Sequence[Video], requests: Sequence[Any]
                        ) -> list[str | None]:
        """One caption per sample video of the report (``videos[i]`` answers ``requests[i]``);
        None where there is none. The base class captions nothing; the report builds a metric
        only where its class overrides this."""
        return [None] * len(videos)

    # -- checks before a run (vdmbench.checks; no weights, no data) -------------------------------
    @classmethod
    def frames_needed(cls, options: BaseModel) -> int | None:
        """Frames per generated video the metric measures (default: its ``num_frames`` option,
        if it has one); None = any."""
        n = getattr(options, "num_frames", None)
        return int(n) if n is not None else None

    @classmethod
    def min_videos(cls, options: BaseModel) -> int:
        """The fewest generated videos the metric can be computed on."""
        return 1

    @classmethod
    def check(cls, options: BaseModel, suite: Suite, n_videos: int) -> None:
        """Raise a :class:`~vdmbench.errors.ConfigError` if the suite cannot give this metric
        what it needs (frames per video, number of videos); subclasses add their own checks
        (e.g. checkpoint files present)."""
        from vdmbench.errors import ConfigError

        found = []
        need = cls.frames_needed(options)
        if need is not None and suite.dataset.frames < need:
            found.append(f"metric '{cls.name}' measures {need} frames per video, but "
                         f"dataset.frames is {suite.dataset.frames}")
        least = cls.min_videos(options)
        if n_videos < least:
            found.append(f"metric '{cls.name}' needs at least {least} generated videos "
                         f"(with these options), but the run generates {n_videos}")
        if found:
            raise ConfigError("; ".join(found))

    def prepare(self) -> None:  # noqa: B027 (optional hook)
        """Build reference statistics (e.g. from ``context.dataset``); default: nothing."""

    @abstractmethod
    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        """Consume one batch of generated videos (and the teacher's, if ``needs_teacher``)."""

    @abstractmethod
    def compute(self) -> MetricValue:
        """The value over everything seen so far."""

    def result(self) -> MetricValue:
        """:meth:`compute`, with :attr:`MetricValue.undersampled` filled in by
        :meth:`undersampled` unless ``compute`` set it (what the runner records)."""
        value = self.compute()
        if value.undersampled is None:
            value = replace(value, undersampled=self.undersampled(value))
        return value

    def protocol_videos(self) -> int | None:
        """The generated videos the metric's protocol asks for: its ``num_gen`` option, else the
        ``num_gen`` of the preset it records (``protocol()["preprocessing"]``); None: no count."""
        n = getattr(self.options, "num_gen", None)
        if n is None:
            pre = self.protocol().get("preprocessing")
            n = pre.get("num_gen") if isinstance(pre, dict) else None
        return int(n) if isinstance(n, int) and not isinstance(n, bool) else None

    def undersampled(self, value: MetricValue) -> str | None:
        """Why ``value`` is computed on fewer samples than its protocol asks, or None. Default:
        the run gives fewer generated videos than the suite asks for (``context.given_videos`` <
        ``context.requested_videos``; not ``value.n``, which may count a subset by design, e.g. a
        VBench dimension's prompts); ``value.n`` below the protocol's count
        (:meth:`protocol_videos`); an Inception Score whose ``splits`` hold fewer
        than 2 videos each (p(y) of one video is its own p(y|x): IS → 1); a Fréchet distance on
        no more videos (generated or reference) than feature dimensions (``details`` keys
        ``feature_dim``, ``n_ref``: the covariance is rank-deficient). Subclasses may add
        reasons."""
        n, details = value.n, value.details or {}
        reasons = []
        asked, given = self.context.requested_videos, self.context.given_videos
        limited = asked is not None and given is not None and given < asked
        if limited:
            reasons.append(f"{given} of the {asked} videos the suite asks for")
        want = self.protocol_videos()
        if want is not None and n < want and not (limited and asked == want):
            reasons.append(f"{n} of the {want} videos its protocol asks for")
        splits = details.get("splits", getattr(self.options, "splits", None))
        if isinstance(splits, int) and splits > 1 and n // splits < 2:
            reasons.append(f"{n} videos in {splits} splits (fewer than 2 a split)")
        dim = details.get("feature_dim")
        if isinstance(dim, int):
            if n <= dim:
                reasons.append(f"{n} generated videos for {dim} feature dimensions")
            n_ref = details.get("n_ref")
            if isinstance(n_ref, int) and n_ref <= dim:
                reasons.append(f"{n_ref} reference videos for {dim} feature dimensions")
        return "; ".join(reasons) or None
