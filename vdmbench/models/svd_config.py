"""What ``vdmbench validate`` knows of the ``svd`` and ``sfv`` adapters without importing torch:
their options, default steps and the checks before a run (component folders resolved reading
JSON only; :mod:`vdmbench.registry`, "config"). The adapters
(:class:`~vdmbench.models.svd.SVDAdapter`, :class:`~vdmbench.models.svd.SFVAdapter`) subclass
:class:`SVDConfig` and :class:`SFVConfig`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from vdmbench.errors import ConfigError
from vdmbench.models.svd_components import ComponentOptions, ComponentSource, resolve_components


class SVDCommonOptions(ComponentOptions):
    """The options ``svd`` and ``sfv`` share: where components come from, the generated shape
    and SVD's micro-conditioning."""

    num_frames: int | None = Field(None, gt=0, description="frames generated (default: the "
                                   "request's); the first request.frames are returned")
    height: int | None = Field(None, gt=0, description="generation height in pixels, a "
                               "multiple of 8 (default: the request's)")
    width: int | None = Field(None, gt=0, description="generation width in pixels, a multiple "
                              "of 8 (default: the request's)")
    output_resize: Literal["squash_bilinear", "short_side_center_crop"] = Field(
        "squash_bilinear", description="how frames are resized to the request's size when "
                                       "height/width differ from it")
    fps: int | None = Field(None, gt=1, description="fps micro-conditioning (the UNet sees "
                            "fps − 1); default: the request's fps rounded")
    motion_bucket_id: int = Field(127, ge=0)
    noise_aug_strength: float = Field(0.02, ge=0.0,
                                      description="noise added to the conditioning frame")
    decode_chunk_size: int | None = Field(None, gt=0, description="frames per VAE decode call "
                                          "(default: all frames at once)")

    @model_validator(mode="after")
    def _multiple_of_8(self) -> SVDCommonOptions:
        for name in ("height", "width"):
            v = getattr(self, name)
            if v is not None and v % 8:
                raise ValueError(f"{name} must be a multiple of 8, got {v}")
        return self


class SVDOptions(SVDCommonOptions):
    """Options of ``svd`` (the suite's ``options:``); steps come from the model's ``steps:``."""

    min_guidance_scale: float = Field(1.0, ge=0.0, description="CFG scale of the first frame")
    max_guidance_scale: float = Field(3.0, ge=0.0, description="CFG scale of the last frame; "
                                      "CFG (a doubled UNet batch) is on when > 1")

    @model_validator(mode="after")
    def _guidance_order(self) -> SVDOptions:
        if self.min_guidance_scale > self.max_guidance_scale:
            raise ValueError(f"min_guidance_scale {self.min_guidance_scale} exceeds "
                             f"max_guidance_scale {self.max_guidance_scale}")
        return self


class SFVOptions(SVDCommonOptions):
    """Options of ``sfv``: one UNet forward, no CFG, initial noise level ``sigma``."""

    sigma: float = Field(700.0, gt=0.0, description="noise level of the initial latent "
                         "(EDM σ; SVD's σ_max is 700). SF-V's own value is unconfirmed")


class SVDConfig:
    """The ``svd`` adapter's config: options, default steps, checks; it hands out a denoiser."""

    Options: ClassVar[type[BaseModel]] = SVDOptions
    adapter_name: ClassVar[str] = "svd"
    default_steps: ClassVar[int] = 25
    has_denoiser: ClassVar[bool] = True

    @classmethod
    def _check_steps(cls, steps: int | None, name: str | None = None) -> int:
        return cls.default_steps if steps is None else int(steps)

    @classmethod
    def _check_unet_source(cls, name: str, sources: dict[str, ComponentSource]) -> None:
        """``svd`` refuses a one-step UNet (an SF-V student written by ``vdmbench compress
        --method sfv``, or a student of one): it samples with many steps and CFG, which such a
        UNet was not trained for; the ``sfv`` adapter (one step) evaluates it."""
        src = sources.get("unet")
        if src is None:
            return
        for cj in (src.folder / "compression.json", src.folder.parent / "compression.json"):
            if cj.is_file():
                try:
                    meta = json.loads(cj.read_text())
                except (OSError, ValueError):
                    return
                if isinstance(meta, dict) and (meta.get("method") == "sfv"
                                               or meta.get("base_model") == "sfv"):
                    raise ConfigError(
                        f"model '{name}': its UNet is a one-step model (method 'sfv': "
                        f"{cj}); adapter '{cls.adapter_name}' samples with several steps. "
                        f"Evaluate it with adapter 'sfv' (steps: 1)")
                return

    @classmethod
    def check(cls, spec: Any, options: SVDCommonOptions, suite: Any) -> None:
        """Before a run (no weights loaded): ``steps``, ``num_frames`` against the dataset's
        frames, and every component's folder and weight file (JSON read only)."""
        cls._check_steps(spec.steps, spec.name)
        frames = suite.dataset.frames
        if options.num_frames is not None and options.num_frames < frames:
            raise ConfigError(f"model '{spec.name}': num_frames {options.num_frames} is fewer "
                              f"than dataset.frames {frames}")
        cls._check_unet_source(spec.name, resolve_components(spec.name, spec.weights, options))


class SFVConfig(SVDConfig):
    """The ``sfv`` adapter's config: one step, no CFG."""

    Options: ClassVar[type[BaseModel]] = SFVOptions
    adapter_name: ClassVar[str] = "sfv"
    default_steps: ClassVar[int] = 1

    @classmethod
    def _check_steps(cls, steps: int | None, name: str | None = None) -> int:
        if steps not in (None, 1):
            raise ConfigError(f"model '{name or cls.adapter_name}', method 'sfv': a one-step "
                              f"model samples in one UNet forward; steps must be 1 (or left "
                              f"out), got {steps}")
        return 1

    @classmethod
    def _check_unet_source(cls, name: str, sources: dict[str, ComponentSource]) -> None:
        """``sfv`` evaluates one-step UNets: nothing to refuse."""
        return None
