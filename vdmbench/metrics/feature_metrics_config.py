"""What ``vdmbench validate`` knows of the feature metrics (FVD and Inception Score presets of
:mod:`vdmbench.metrics.feature_metrics`, and the synthetic ones built on them) without importing
torch: their options, the videos and frames they need, the checkpoint file they read and the
check before a run (:mod:`vdmbench.registry`, "config"). Each metric class subclasses its config
here, which mirrors the metric classes' hierarchy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.errors import ConfigError, VdmbenchError, WeightsNotFoundError
from vdmbench.metrics.base import Metric
from vdmbench.paths import require_file


class FeatureMetricOptions(BaseModel):
    """Options every feature metric has. ``batch_size``: videos per extractor call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(16, gt=0, description="videos per feature-extractor call")


class FeatureISOptions(FeatureMetricOptions):
    """Inception Score options: ``splits`` parts the samples are cut into."""

    splits: int = Field(10, gt=0)


class StyleGANVFVDOptions(FeatureMetricOptions):
    """``fvd_styleganv_2048_16f`` options (defaults are the preset's)."""

    weights: str | None = Field(None, description="path to StyleGAN-V's i3d_torchscript.pt; "
                                "${ENV} allowed; default: $VDMBENCH_I3D_TORCHSCRIPT")
    num_real: int = Field(2048, gt=1, description="reference clips: the first N videos")
    num_frames: int = Field(16, gt=0)
    seed: int = Field(0, ge=0, description="seed of the reference clips' random offsets")
    real_size: int = Field(256, gt=0, description="side of the square real frames (StyleGAN-V's "
                           "dataset resolution)")


class _I3DStateDictOptions(FeatureMetricOptions):
    weights: str | None = Field(None, description="path to i3d_pretrained_400.pt (state_dict) "
                                "or i3d_torchscript.pt; ${ENV} allowed; default: "
                                "$VDMBENCH_I3D_STATE_DICT / $VDMBENCH_I3D_TORCHSCRIPT")
    format: Literal["state_dict", "torchscript"] = "state_dict"
    family: Literal["videogpt", "pytorch_i3d"] = Field(
        "videogpt", description="state-dict family, fixes BatchNorm eps (1e-5 / 1e-3)")
    num_frames: int = Field(16, gt=0)
    seed: int = Field(0, ge=0)


class CdFVDArrayOptions(_I3DStateDictOptions):
    """``fvd_cdfvd_array`` options: the VideoGPT/cd-fvd ``i3d_pretrained_400.pt`` (state dict)
    or a TorchScript I3D."""

    num_real: int = Field(2048, gt=1)


class CdFVDFolderOptions(_I3DStateDictOptions):
    """``fvd_cdfvd_128`` / ``fvd_cdfvd_256`` options. ``num_real``: None = every video
    (cd-fvd's ``n_real='full'``); ``num_gen``: the number of generated videos required (cd-fvd's
    ``n_fake``; it resamples when given fewer, which cannot be reproduced, so vdmbench refuses).
    ``window_draw``: which 16-frame window of a longer video is measured — ``cdfvd``: the
    windows cd-fvd's loader draws with ``num_workers=cdfvd_num_workers`` (default 0) and
    ``batch_size=cdfvd_batch_size`` (:func:`~vdmbench.metrics.protocols.cdfvd_windows`);
    ``seeded``: vdmbench's own draw, one ``default_rng([seed, …])`` per video, independent of
    the listing order, the loader settings and every other video."""

    num_real: int | None = Field(None, gt=1)
    num_gen: int = Field(2048, gt=1)
    seed: int = Field(42, ge=0, description="cd-fvd's seed (cdfvd(seed=42)); for window_draw "
                      "'seeded' the seed of the per-video generators")
    window_draw: Literal["cdfvd", "seeded"] = Field(
        "cdfvd", description="'cdfvd': the windows cd-fvd's loader draws (with "
        "cdfvd_num_workers, cdfvd_batch_size); 'seeded': vdmbench's per-video seeded draw")
    cdfvd_num_workers: int = Field(0, ge=0, description="the num_workers of cd-fvd's "
                                   "load_videos whose windows 'cdfvd' reproduces (0: its "
                                   "deterministic mode)")
    cdfvd_batch_size: int = Field(16, gt=0, description="the batch_size of cd-fvd's "
                                  "load_videos; changes the windows only with workers")


class ISStyleGANVOptions(FeatureISOptions):
    """``is_styleganv_ucf101`` options."""

    weights: str | None = Field(None, description="path to StyleGAN-V's c3d_ucf101.pt; ${ENV} "
                                "allowed; default: $VDMBENCH_C3D_TORCHSCRIPT")
    num_frames: int = Field(16, gt=0)


class ISTgan2Options(FeatureMetricOptions):
    """``is_tgan2_ucf101`` options: ``draws`` × ``samples_per_draw`` generated videos."""

    weights: str | None = Field(None, description="path to StyleGAN-V's c3d_ucf101.pt; ${ENV} "
                                "allowed; default: $VDMBENCH_C3D_TORCHSCRIPT")
    num_frames: int = Field(16, gt=0)
    draws: int = Field(10, gt=1)
    samples_per_draw: int = Field(2048, gt=1)


def resolve_weights(path: str | os.PathLike[str] | None, what: str, env: str, metric_hint: str
                    ) -> Path:
    """Expand ``path`` (or ``$env`` when ``path`` is None) and require the file to exist.

    Errors (unset variable, missing file) are :class:`WeightsNotFoundError` naming the file,
    the ``weights:`` option and ``env``."""
    hint = (f"Put the file there, or set the metric option `weights:` in the suite "
            f"({metric_hint}; '${{{env}}}' allowed) or the environment variable {env}. "
            f"vdmbench never downloads weights")
    if path is None or str(path) == "":
        if env not in os.environ:
            raise WeightsNotFoundError(f"{what}: no path given. {hint}")
        path = os.environ[env]
    try:
        return require_file(path, what, hint)
    except ConfigError as e:
        raise WeightsNotFoundError(f"{e}. {hint}") from e


class ExtractorMetricConfig(Metric):
    """A metric measured with a feature extractor: options, checkpoint file, checks."""

    Options: ClassVar[type[BaseModel]] = FeatureMetricOptions
    #: (what, environment variable) of the checkpoint file the ``weights`` option names;
    #: None = the metric has no checkpoint file (see :meth:`weights_source`)
    weights_file: ClassVar[tuple[str, str] | None] = None

    @classmethod
    def weights_source(cls, options: BaseModel) -> tuple[str, str] | None:
        """(what, environment variable) of the checkpoint these options load, or None."""
        return cls.weights_file

    @classmethod
    def check(cls, options: BaseModel, suite: Any, n_videos: int) -> None:
        """The base checks and: the checkpoint file exists (``weights`` or its variable);
        every failing check is named in one :class:`ConfigError`."""
        found: list[str] = []
        try:
            super().check(options, suite, n_videos)
        except VdmbenchError as e:
            found.append(str(e))
        source = cls.weights_source(options)
        if source is not None:
            what, env = source
            try:
                resolve_weights(getattr(options, "weights", None), what, env,
                                f"metric '{cls.name}'")
            except VdmbenchError as e:
                found.append(str(e))
        if found:
            raise ConfigError("; ".join(found))


class FrechetConfig(ExtractorMetricConfig):
    """A Fréchet distance: real videos of the dataset, at least two generated ones."""

    needs_reference_data: ClassVar[bool] = True

    @classmethod
    def min_videos(cls, options: BaseModel) -> int:
        return 2  # a covariance


class InceptionScoreConfig(ExtractorMetricConfig):
    """An Inception Score: as many generated videos as ``splits`` (at least two)."""

    Options: ClassVar[type[BaseModel]] = FeatureISOptions

    @classmethod
    def min_videos(cls, options: BaseModel) -> int:
        return max(int(getattr(options, "splits", 10)), 2)


class FVDStyleGANVConfig(FrechetConfig):
    name: ClassVar[str] = "fvd_styleganv_2048_16f"
    Options: ClassVar[type[BaseModel]] = StyleGANVFVDOptions
    weights_file = ("I3D TorchScript detector (i3d_torchscript.pt)", "VDMBENCH_I3D_TORCHSCRIPT")


class CdFVDConfig(FrechetConfig):
    """cd-fvd's FVDs: the I3D checkpoint of the ``format`` option."""

    @classmethod
    def weights_source(cls, options: BaseModel) -> tuple[str, str] | None:
        if options.format == "state_dict":  # type: ignore[attr-defined]
            return ("I3D state dict (i3d_pretrained_400.pt)", "VDMBENCH_I3D_STATE_DICT")
        return ("I3D TorchScript detector (i3d_torchscript.pt)", "VDMBENCH_I3D_TORCHSCRIPT")


class FVDCDFVDArrayConfig(CdFVDConfig):
    name: ClassVar[str] = "fvd_cdfvd_array"
    Options: ClassVar[type[BaseModel]] = CdFVDArrayOptions


class CdFVDFolderConfig(CdFVDConfig):
    Options: ClassVar[type[BaseModel]] = CdFVDFolderOptions


class FVDCDFVD128Config(CdFVDFolderConfig):
    name: ClassVar[str] = "fvd_cdfvd_128"


class FVDCDFVD256Config(CdFVDFolderConfig):
    name: ClassVar[str] = "fvd_cdfvd_256"


class C3DISConfig(InceptionScoreConfig):
    """The UCF101 Inception Scores: StyleGAN-V's C3D checkpoint."""

    weights_file = ("C3D TorchScript classifier (c3d_ucf101.pt)", "VDMBENCH_C3D_TORCHSCRIPT")


class ISStyleGANVUCF101Config(C3DISConfig):
    name: ClassVar[str] = "is_styleganv_ucf101"
    Options: ClassVar[type[BaseModel]] = ISStyleGANVOptions


class ISTGAN2UCF101Config(C3DISConfig):
    name: ClassVar[str] = "is_tgan2_ucf101"
    Options: ClassVar[type[BaseModel]] = ISTgan2Options

    @classmethod
    def min_videos(cls, options: BaseModel) -> int:
        return int(options.draws) * int(options.samples_per_draw)  # type: ignore[attr-defined]
